// What a configuration reload may change while baton runs: a pure comparison of the running and the new Config.
#include "proxy/config/reload.hpp"

#include <algorithm>
#include <optional>
#include <type_traits>

#include "proxy/config/values.hpp"

namespace baton::proxy {
namespace {

constexpr std::string_view kRestart = "; restart baton to apply";

// How a value appears in a line. Sizes go through format_size at the call site.
std::string show(Duration d) { return config::format_duration(d); }
std::string show(bool b) { return b ? "true" : "false"; }
std::string show(int n) { return std::to_string(n); }
std::string show(const std::string& s) { return "\"" + s + "\""; }
template <class E>
  requires std::is_enum_v<E>
std::string show(E e) {
  return std::string(to_string(e));
}
template <class T>
std::string show(const std::optional<T>& v) {
  return v ? show(*v) : "(not set)";
}
std::string show(const std::vector<std::string>& names) {
  std::string out = "[";
  for (const auto& n : names) out.append(out.size() > 1 ? ", " : "").append(n);
  return out + "]";
}

std::string show_tls(std::string_view mode, const TlsFiles& f) {
  std::string out = "mode " + std::string(mode);
  if (!f.cert_file.empty()) out += ", cert_file " + f.cert_file;
  if (!f.key_file.empty()) out += ", key_file " + f.key_file;
  if (!f.ca_file.empty()) out += ", ca_file " + f.ca_file;
  return out;
}

bool same_files(const TlsFiles& a, const TlsFiles& b) {
  return a.cert_file == b.cert_file && a.key_file == b.key_file && a.ca_file == b.ca_file;
}

template <class T>
const T* find_named(const std::vector<T>& items, const std::string& name) {
  auto it = std::find_if(items.begin(), items.end(), [&](const T& item) { return item.name == name; });
  return it == items.end() ? nullptr : &*it;
}

std::string entry(std::string_view section, const std::string& name) {
  return std::string(section) + "[" + name + "]";
}

class Planner {
 public:
  explicit Planner(ReloadPlan& plan) : plan_(plan) {}

  // A live value: "key: old -> new" when it changed.
  template <class T>
  void live(const std::string& key, const T& old, const T& now) {
    if (old != now) plan_.applied.push_back(key + ": " + show(old) + " -> " + show(now));
  }
  void live_size(const std::string& key, std::uint64_t old, std::uint64_t now) {
    if (old != now) plan_.applied.push_back(key + ": " + config::format_size(old) + " -> " + config::format_size(now));
  }
  // A live value not to be shown: "prefix: field changed".
  void live_secret(const std::string& prefix, std::string_view field, const std::string& old, const std::string& now) {
    if (old != now) plan_.applied.push_back(prefix + ": " + std::string(field) + " changed");
  }
  void applied(std::string line) { plan_.applied.push_back(std::move(line)); }

  // A value that cannot change while running: `effective` gets the running value back.
  template <class T>
  void fixed(const std::string& key, const T& running, T& effective, const std::string& shown_running) {
    if (running == effective) return;
    refused(key, "cannot change while running (kept " + shown_running + ")");
    effective = running;
  }
  // The same for a secret: its value is never shown.
  void fixed_secret(const std::string& key, const std::string& running, std::string& effective) {
    if (running == effective) return;
    refused(key, "cannot change while running (the running value is kept)");
    effective = running;
  }
  void refused(const std::string& key, const std::string& why) {
    plan_.kept.push_back(key + ": " + why + std::string(kRestart));
  }

 private:
  ReloadPlan& plan_;
};

void plan_general(Planner& p, const GeneralConfig& run, GeneralConfig& eff) {
  p.fixed("general.workers", run.workers, eff.workers, show(run.workers));
  p.fixed("general.io", run.io, eff.io, std::string(to_string(run.io)));
  p.fixed("general.max_message_size", run.max_message_size, eff.max_message_size,
          config::format_size(run.max_message_size));
  p.live("general.log_level", run.log_level, eff.log_level);
  p.live("general.client_login_timeout", run.client_login_timeout, eff.client_login_timeout);
  p.live("general.shutdown_timeout", run.shutdown_timeout, eff.shutdown_timeout);
}

void plan_admin(Planner& p, const AdminConfig& run, AdminConfig& eff) {
  if (run.host != eff.host || run.port != eff.port) {
    p.refused("admin.listen", "cannot change while running (kept " + config::format_host_port(run.host, run.port) + ")");
    eff.host = run.host;
    eff.port = run.port;
  }
  if (run.tls_mode != eff.tls_mode || !same_files(run.tls, eff.tls)) {
    p.refused("admin.tls", "cannot change while running (kept " + show_tls(to_string(run.tls_mode), run.tls) + ")");
    eff.tls_mode = run.tls_mode;
    eff.tls = run.tls;
  }
  if (run.token == eff.token) return;
  if (run.token.empty()) {
    p.applied("admin: token set (POST endpoints enabled)");
  } else if (eff.token.empty()) {
    p.applied("admin: token removed (POST endpoints refused)");
  } else {
    p.applied("admin: token changed");
  }
}

void plan_pool(Planner& p, const PoolConfig& run, const PoolConfig& now) {
  p.live("pool.mode", run.mode, now.mode);
  p.live("pool.pool_size", run.pool_size, now.pool_size);
  p.live("pool.min_pool_size", run.min_pool_size, now.min_pool_size);
  p.live("pool.max_client_conn", run.max_client_conn, now.max_client_conn);
  p.live("pool.max_concurrent_logins", run.max_concurrent_logins, now.max_concurrent_logins);
  p.live("pool.max_prepared_statements", run.max_prepared_statements, now.max_prepared_statements);
  p.live("pool.query_wait_timeout", run.query_wait_timeout, now.query_wait_timeout);
  p.live("pool.client_idle_timeout", run.client_idle_timeout, now.client_idle_timeout);
  p.live("pool.server_idle_timeout", run.server_idle_timeout, now.server_idle_timeout);
  p.live("pool.server_lifetime", run.server_lifetime, now.server_lifetime);
  p.live("pool.server_connect_timeout", run.server_connect_timeout, now.server_connect_timeout);
  p.live("pool.server_reset_query", run.server_reset_query, now.server_reset_query);
}

void plan_users(Planner& p, const std::vector<UserConfig>& running, const std::vector<UserConfig>& fresh) {
  for (const auto& now : fresh) {
    const std::string prefix = entry("users", now.name);
    const UserConfig* run = find_named(running, now.name);
    if (run == nullptr) {
      p.applied(prefix + ": added");
      continue;
    }
    p.live(prefix + ".auth", run->auth, now.auth);
    p.live_secret(prefix, "password", run->password, now.password);
    p.live_secret(prefix, "scram_verifier", run->scram_verifier, now.scram_verifier);
    p.live(prefix + ".server_user", run->server_user, now.server_user);
    p.live_secret(prefix, "server_password", run->server_password, now.server_password);
    p.live(prefix + ".pool_mode", run->pool_mode, now.pool_mode);
    p.live(prefix + ".pool_size", run->pool_size, now.pool_size);
  }
  for (const auto& run : running) {
    if (find_named(fresh, run.name) == nullptr) p.applied(entry("users", run.name) + ": removed");
  }
}

// `eff` starts as the fresh listener of the same name.
void plan_listener(Planner& p, const ListenerConfig& run, ListenerConfig& eff) {
  const std::string prefix = entry("listeners", run.name);
  p.fixed(prefix + ".protocol", run.protocol, eff.protocol, show(run.protocol));
  if (run.host != eff.host || run.port != eff.port) {
    p.refused(prefix + ".listen",
              "cannot change while running (kept " + config::format_host_port(run.host, run.port) + ")");
    eff.host = run.host;
    eff.port = run.port;
  }
  p.fixed(prefix + ".cluster", run.cluster, eff.cluster, run.cluster);
  p.fixed(prefix + ".role", run.role, eff.role, show(run.role));
  if (run.tls_mode != eff.tls_mode || !same_files(run.tls, eff.tls)) {
    p.refused(prefix + ".tls", "cannot change while running (kept " + show_tls(to_string(run.tls_mode), run.tls) + ")");
    eff.tls_mode = run.tls_mode;
    eff.tls = run.tls;
  }
  p.live(prefix + ".pool_mode", run.pool_mode, eff.pool_mode);
  p.live(prefix + ".replica_fallback", run.replica_fallback, eff.replica_fallback);
  p.live(prefix + ".read_your_writes", run.read_your_writes, eff.read_your_writes);
}

void plan_listeners(Planner& p, const std::vector<ListenerConfig>& running, const std::vector<ListenerConfig>& fresh,
                    std::vector<ListenerConfig>& effective) {
  effective.clear();
  for (const auto& run : running) {
    const ListenerConfig* now = find_named(fresh, run.name);
    if (now == nullptr) {
      p.refused(entry("listeners", run.name), "cannot remove a listener while running (kept, listening on " +
                                                  config::format_host_port(run.host, run.port) + ")");
      effective.push_back(run);
      continue;
    }
    ListenerConfig eff = *now;
    plan_listener(p, run, eff);
    effective.push_back(std::move(eff));
  }
  for (const auto& now : fresh) {
    if (find_named(running, now.name) == nullptr) {
      p.refused(entry("listeners", now.name), "cannot add a listener while running (not started)");
    }
  }
}

// The monitor is built at start with these (probe timings, thresholds, timeouts, commands): they
// need a restart. buffer_timeout is read by each new transaction, so it changes live.
void plan_failover(Planner& p, const std::string& prefix, const FailoverSettings& run, FailoverSettings& eff) {
  p.fixed(prefix + ".mode", run.mode, eff.mode, show(run.mode));
  p.fixed(prefix + ".state_file", run.state_file, eff.state_file,
          run.state_file.empty() ? "none: in memory" : run.state_file);
  p.fixed(prefix + ".probe_interval", run.probe_interval, eff.probe_interval, show(run.probe_interval));
  p.fixed(prefix + ".suspect_interval", run.suspect_interval, eff.suspect_interval, show(run.suspect_interval));
  p.fixed(prefix + ".probe_timeout", run.probe_timeout, eff.probe_timeout, show(run.probe_timeout));
  p.fixed(prefix + ".failures_before_down", run.failures_before_down, eff.failures_before_down,
          show(run.failures_before_down));
  p.fixed(prefix + ".down_after", run.down_after, eff.down_after, show(run.down_after));
  p.fixed(prefix + ".successes_before_up", run.successes_before_up, eff.successes_before_up,
          show(run.successes_before_up));
  p.fixed(prefix + ".max_failover_lag", run.max_failover_lag, eff.max_failover_lag,
          config::format_size(run.max_failover_lag));
  p.fixed(prefix + ".promote_timeout", run.promote_timeout, eff.promote_timeout, show(run.promote_timeout));
  p.fixed(prefix + ".switchover_timeout", run.switchover_timeout, eff.switchover_timeout, show(run.switchover_timeout));
  p.live(prefix + ".buffer_timeout", run.buffer_timeout, eff.buffer_timeout);
  p.fixed_secret(prefix + ".promote_command", run.promote_command, eff.promote_command);
  p.fixed_secret(prefix + ".fence_command", run.fence_command, eff.fence_command);
}

std::string node_names(const std::vector<NodeConfig>& nodes) {
  std::string out;
  for (const auto& n : nodes) out.append(out.empty() ? "" : ", ").append(n.name);
  return out;
}

// Nodes keep the running set, order and addresses; weight, priority and no_promote come from `fresh`.
void plan_nodes(Planner& p, const std::string& prefix, const std::vector<NodeConfig>& running,
                const std::vector<NodeConfig>& fresh, std::vector<NodeConfig>& effective) {
  effective.clear();
  std::vector<std::string> fresh_order;  // fresh names that also run, in fresh order
  for (const auto& now : fresh) {
    if (find_named(running, now.name) != nullptr) {
      fresh_order.push_back(now.name);
    } else {
      p.refused(entry(prefix + ".nodes", now.name), "cannot add a node while running (not added)");
    }
  }
  for (const auto& run : running) {
    const std::string key = entry(prefix + ".nodes", run.name);
    NodeConfig eff = run;
    if (const NodeConfig* now = find_named(fresh, run.name)) {
      if (now->host != run.host) p.refused(key + ".host", "cannot change while running (kept " + run.host + ")");
      if (now->port != run.port) {
        p.refused(key + ".port", "cannot change while running (kept " + std::to_string(run.port) + ")");
      }
      p.live(key + ".weight", run.weight, now->weight);
      p.live(key + ".priority", run.priority, now->priority);
      p.live(key + ".no_promote", run.no_promote, now->no_promote);
      eff.weight = now->weight;
      eff.priority = now->priority;
      eff.no_promote = now->no_promote;
    } else {
      p.refused(key, "cannot remove a node while running (kept " + config::format_host_port(run.host, run.port) + ")");
    }
    effective.push_back(std::move(eff));
  }
  std::vector<std::string> running_order;
  for (const auto& run : running) {
    if (find_named(fresh, run.name) != nullptr) running_order.push_back(run.name);
  }
  if (running_order != fresh_order) {
    p.refused(prefix + ".nodes", "order cannot change while running (kept " + node_names(running) + ")");
  }
}

// `eff` starts as the fresh cluster of the same name.
void plan_cluster(Planner& p, const ClusterConfig& run, ClusterConfig& eff) {
  const std::string prefix = entry("clusters", run.name);
  p.fixed(prefix + ".protocol", run.protocol, eff.protocol, show(run.protocol));
  if (run.server_tls_mode != eff.server_tls_mode || !same_files(run.server_tls, eff.server_tls)) {
    p.refused(prefix + ".server_tls",
              "cannot change while running (kept " + show_tls(to_string(run.server_tls_mode), run.server_tls) + ")");
    eff.server_tls_mode = run.server_tls_mode;
    eff.server_tls = run.server_tls;
  }
  p.fixed(prefix + ".monitor_user", run.monitor_user, eff.monitor_user, run.monitor_user);
  p.fixed_secret(prefix + ".monitor_password", run.monitor_password, eff.monitor_password);
  p.fixed(prefix + ".monitor_database", run.monitor_database, eff.monitor_database, run.monitor_database);
  p.live_size(prefix + ".max_replica_lag", run.max_replica_lag, eff.max_replica_lag);
  p.live(prefix + ".max_replica_lag_time", run.max_replica_lag_time, eff.max_replica_lag_time);
  p.live(prefix + ".balancer", run.balancer, eff.balancer);
  p.live(prefix + ".volatile_functions", run.volatile_functions, eff.volatile_functions);
  plan_failover(p, prefix + ".failover", run.failover, eff.failover);
  std::vector<NodeConfig> nodes;
  plan_nodes(p, prefix, run.nodes, eff.nodes, nodes);
  eff.nodes = std::move(nodes);
}

void plan_clusters(Planner& p, const std::vector<ClusterConfig>& running, const std::vector<ClusterConfig>& fresh,
                   std::vector<ClusterConfig>& effective) {
  effective.clear();
  for (const auto& run : running) {
    const ClusterConfig* now = find_named(fresh, run.name);
    if (now == nullptr) {
      p.refused(entry("clusters", run.name), "cannot remove a cluster while running (kept)");
      effective.push_back(run);
      continue;
    }
    ClusterConfig eff = *now;
    plan_cluster(p, run, eff);
    effective.push_back(std::move(eff));
  }
  for (const auto& now : fresh) {
    if (find_named(running, now.name) == nullptr) {
      p.refused(entry("clusters", now.name), "cannot add a cluster while running (not added)");
    }
  }
}

}  // namespace

ReloadPlan plan_reload(const Config& running, const Config& fresh) {
  ReloadPlan plan;
  plan.effective = fresh;
  Config& eff = plan.effective;
  Planner p(plan);
  plan_general(p, running.general, eff.general);
  plan_admin(p, running.admin, eff.admin);
  plan_pool(p, running.pool, eff.pool);
  plan_listeners(p, running.listeners, fresh.listeners, eff.listeners);
  plan_clusters(p, running.clusters, fresh.clusters, eff.clusters);
  plan_users(p, running.users, fresh.users);
  return plan;
}

}  // namespace baton::proxy
