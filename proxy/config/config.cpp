// Entry points of the configuration: load/parse a file into Config, names of its enums, diagnostics' text.
#include "proxy/config/config.hpp"

#include <sstream>

#include <toml.hpp>

#include "proxy/config/reader.hpp"

namespace baton::proxy {

std::string_view to_string(PoolMode m) {
  switch (m) {
    case PoolMode::kSession: return "session";
    case PoolMode::kTransaction: return "transaction";
  }
  return "unknown";
}

std::string_view to_string(ListenerRole r) {
  switch (r) {
    case ListenerRole::kSplit: return "split";
    case ListenerRole::kPrimary: return "primary";
    case ListenerRole::kReplica: return "replica";
  }
  return "unknown";
}

std::string_view to_string(Protocol p) {
  switch (p) {
    case Protocol::kPostgres: return "postgres";
    case Protocol::kMysql: return "mysql";
  }
  return "unknown";
}

std::string_view to_string(ClientTlsMode m) {
  switch (m) {
    case ClientTlsMode::kDisable: return "disable";
    case ClientTlsMode::kAllow: return "allow";
    case ClientTlsMode::kRequire: return "require";
  }
  return "unknown";
}

std::string_view to_string(ServerTlsMode m) {
  switch (m) {
    case ServerTlsMode::kDisable: return "disable";
    case ServerTlsMode::kPrefer: return "prefer";
    case ServerTlsMode::kRequire: return "require";
    case ServerTlsMode::kVerifyCa: return "verify-ca";
    case ServerTlsMode::kVerifyFull: return "verify-full";
  }
  return "unknown";
}

std::string_view to_string(AuthMethod m) {
  switch (m) {
    case AuthMethod::kScramSha256: return "scram-sha-256";
    case AuthMethod::kMd5: return "md5";
    case AuthMethod::kTrust: return "trust";
  }
  return "unknown";
}

std::string_view to_string(AdminTlsMode m) {
  switch (m) {
    case AdminTlsMode::kDisable: return "disable";
    case AdminTlsMode::kRequire: return "require";
  }
  return "unknown";
}

std::string_view to_string(FailoverMode m) {
  switch (m) {
    case FailoverMode::kAuto: return "auto";
    case FailoverMode::kManual: return "manual";
    case FailoverMode::kFollow: return "follow";
  }
  return "unknown";
}

std::string_view to_string(IoMode m) {
  switch (m) {
    case IoMode::kAuto: return "auto";
    case IoMode::kIoUring: return "io_uring";
    case IoMode::kEpoll: return "epoll";
  }
  return "unknown";
}

std::string_view to_string(BalancerKind b) {
  switch (b) {
    case BalancerKind::kP2c: return "p2c";
    case BalancerKind::kRoundRobin: return "round_robin";
    case BalancerKind::kWeighted: return "weighted";
  }
  return "unknown";
}

const ClusterConfig* Config::find_cluster(std::string_view name) const {
  for (const auto& c : clusters) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

const UserConfig* Config::find_user(std::string_view name) const {
  for (const auto& u : users) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

std::string format(const Diagnostic& d) {
  std::string out = d.file;
  if (d.line > 0) out += ":" + std::to_string(d.line);
  out += ": ";
  if (!d.key.empty()) out += d.key + ": ";
  return out + d.message;
}

namespace {

// toml11's first message line without its "[error] toml::function: " prefix. Only that line is kept:
// the rest quotes the source line, which may hold a secret.
std::string syntax_message(std::string_view what) {
  what = what.substr(0, what.find('\n'));
  constexpr std::string_view kError = "[error] ";
  if (what.substr(0, kError.size()) == kError) what.remove_prefix(kError.size());
  if (what.substr(0, 6) == "toml::") {
    auto colon = what.find(": ");
    if (colon != std::string_view::npos) what.remove_prefix(colon + 2);
  }
  return "TOML syntax error: " + std::string(what);
}

}  // namespace

std::variant<Config, std::vector<Diagnostic>> parse_config(std::string_view toml_text,
                                                           const std::string& source_name, EnvLookup env) {
  toml::value root;
  try {
    std::istringstream in{std::string(toml_text)};
    root = toml::parse(in, source_name);
  } catch (const toml::exception& e) {
    return std::vector<Diagnostic>{
        Diagnostic{source_name, static_cast<int>(e.location().line()), "", syntax_message(e.what())}};
  } catch (const std::exception& e) {
    return std::vector<Diagnostic>{Diagnostic{source_name, 0, "", syntax_message(e.what())}};
  }

  config::Report report(source_name, env);
  Config cfg;
  cfg.source_path = source_name;
  config::TableReader reader = config::root_reader(report, root);
  config::read_sections(reader, cfg, report);
  config::cross_check(cfg, report);
  if (report.has_errors()) return report.take();
  return cfg;
}

std::variant<Config, std::vector<Diagnostic>> load_config(const std::string& path, EnvLookup env) {
  std::string why;
  auto text = config::read_text_file(path, why);
  if (!text) {
    return std::vector<Diagnostic>{Diagnostic{path, 0, "", "cannot read the configuration file: " + why}};
  }
  return parse_config(*text, path, env);
}

}  // namespace baton::proxy
