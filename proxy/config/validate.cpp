// Checks across configuration entries: unique names and addresses, references, required sections.
#include <map>

#include "proxy/config/reader.hpp"
#include "proxy/config/values.hpp"

namespace baton::proxy::config {
namespace {

std::string indexed(std::string_view section, std::size_t i) {
  return std::string(section) + "[" + std::to_string(i) + "]";
}

// Reports every name that an earlier entry already used. `names[i]` belongs to `section[i]`.
void check_unique_names(const std::vector<std::string>& names, std::string_view section, Report& report) {
  std::map<std::string, std::size_t> first;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) continue;  // already reported as missing or empty
    auto [it, inserted] = first.emplace(names[i], i);
    if (inserted) continue;
    std::string key = indexed(section, i) + ".name";
    report.error(report.line_of(key), key,
                 "duplicate name \"" + names[i] + "\" (first used by " + indexed(section, it->second) + ")");
  }
}

template <class T>
std::vector<std::string> names_of(const std::vector<T>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) out.push_back(item.name);
  return out;
}

void check_required_sections(const Config& config, Report& report) {
  if (config.listeners.empty()) report.error(0, "listeners", "at least one [[listeners]] entry is required");
  if (config.clusters.empty()) report.error(0, "clusters", "at least one [[clusters]] entry is required");
  if (config.users.empty()) report.error(0, "users", "at least one [[users]] entry is required");
}

void check_listen_addresses(const Config& config, Report& report) {
  std::map<std::string, std::string> first;  // "host:port" -> key that listens there
  first.emplace(format_host_port(config.admin.host, config.admin.port), "admin.listen");
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    const auto& l = config.listeners[i];
    std::string key = indexed("listeners", i) + ".listen";
    auto [it, inserted] = first.emplace(format_host_port(l.host, l.port), key);
    if (!inserted) {
      report.error(report.line_of(key), key, "address " + it->first + " is already used by " + it->second);
    }
  }
}

void check_listener_clusters(const Config& config, Report& report) {
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    const auto& l = config.listeners[i];
    if (l.cluster.empty()) continue;  // reported while reading
    std::string key = indexed("listeners", i) + ".cluster";
    const ClusterConfig* c = config.find_cluster(l.cluster);
    if (c == nullptr) {
      report.error(report.line_of(key), key, "no [[clusters]] entry is named \"" + l.cluster + "\"");
    } else if (c->protocol != l.protocol) {
      std::string protocol_key = indexed("listeners", i) + ".protocol";
      report.error(report.line_of(protocol_key), protocol_key,
                   "is " + std::string(to_string(l.protocol)) + " but cluster \"" + c->name + "\" is " +
                       std::string(to_string(c->protocol)));
    }
  }
}

void check_nodes(const Config& config, Report& report) {
  for (std::size_t i = 0; i < config.clusters.size(); ++i) {
    const auto& c = config.clusters[i];
    std::string prefix = indexed("clusters", i);
    if (c.nodes.empty()) {
      report.error(report.line_of(prefix), prefix + ".nodes", "a cluster needs at least one [[clusters.nodes]] entry");
      continue;
    }
    check_unique_names(names_of(c.nodes), prefix + ".nodes", report);
    std::map<std::string, std::size_t> addresses;
    for (std::size_t j = 0; j < c.nodes.size(); ++j) {
      const auto& n = c.nodes[j];
      if (n.host.empty()) continue;
      auto [it, inserted] = addresses.emplace(format_host_port(n.host, n.port), j);
      if (inserted || c.nodes[it->second].name == n.name) continue;  // a duplicate name is reported already
      std::string key = indexed(prefix + ".nodes", j) + ".host";
      report.error(report.line_of(key), key,
                   "address " + it->first + " is already node " + indexed(prefix + ".nodes", it->second));
    }
  }
}

// Two clusters writing one state file would overwrite each other's fencing record.
void check_state_files(const Config& config, Report& report) {
  std::map<std::string, std::size_t> first;
  for (std::size_t i = 0; i < config.clusters.size(); ++i) {
    const std::string& file = config.clusters[i].failover.state_file;
    if (file.empty()) continue;
    auto [it, inserted] = first.emplace(file, i);
    if (inserted) continue;
    std::string key = indexed("clusters", i) + ".failover.state_file";
    report.error(report.line_of(key), key,
                 "is already the state file of " + indexed("clusters", it->second) + " (each cluster needs its own)");
  }
}

}  // namespace

void cross_check(const Config& config, Report& report) {
  check_required_sections(config, report);
  check_unique_names(names_of(config.listeners), "listeners", report);
  check_unique_names(names_of(config.clusters), "clusters", report);
  check_unique_names(names_of(config.users), "users", report);
  check_listen_addresses(config, report);
  check_listener_clusters(config, report);
  check_nodes(config, report);
  check_state_files(config, report);
}

}  // namespace baton::proxy::config
