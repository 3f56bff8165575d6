// Reading each section of baton.toml into Config, checking what one entry can check on its own.
#include <algorithm>
#include <limits>

#include "protocol/pg/scram.hpp"
#include "proxy/config/reader.hpp"
#include "proxy/config/values.hpp"

namespace baton::proxy::config {
namespace {

constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();
constexpr std::int64_t kIntMin = std::numeric_limits<int>::min();

const Choices<PoolMode> kPoolModes{{"session", PoolMode::kSession}, {"transaction", PoolMode::kTransaction}};
const Choices<ListenerRole> kRoles{
    {"split", ListenerRole::kSplit}, {"primary", ListenerRole::kPrimary}, {"replica", ListenerRole::kReplica}};
const Choices<Protocol> kProtocols{{"postgres", Protocol::kPostgres}, {"mysql", Protocol::kMysql}};
const Choices<ClientTlsMode> kClientTls{
    {"disable", ClientTlsMode::kDisable}, {"allow", ClientTlsMode::kAllow}, {"require", ClientTlsMode::kRequire}};
const Choices<ServerTlsMode> kServerTls{{"disable", ServerTlsMode::kDisable},
                                        {"prefer", ServerTlsMode::kPrefer},
                                        {"require", ServerTlsMode::kRequire},
                                        {"verify-ca", ServerTlsMode::kVerifyCa},
                                        {"verify-full", ServerTlsMode::kVerifyFull}};
const Choices<AuthMethod> kAuthMethods{
    {"scram-sha-256", AuthMethod::kScramSha256}, {"md5", AuthMethod::kMd5}, {"trust", AuthMethod::kTrust}};
const Choices<AdminTlsMode> kAdminTls{{"disable", AdminTlsMode::kDisable}, {"require", AdminTlsMode::kRequire}};
const Choices<FailoverMode> kFailoverModes{
    {"auto", FailoverMode::kAuto}, {"manual", FailoverMode::kManual}, {"follow", FailoverMode::kFollow}};
const Choices<BalancerKind> kBalancers{
    {"p2c", BalancerKind::kP2c}, {"round_robin", BalancerKind::kRoundRobin}, {"weighted", BalancerKind::kWeighted}};
const Choices<IoMode> kIoModes{{"auto", IoMode::kAuto}, {"io_uring", IoMode::kIoUring}, {"epoll", IoMode::kEpoll}};
const Choices<std::string_view> kLogLevels{{"debug", "debug"}, {"info", "info"}, {"warn", "warn"}, {"error", "error"}};

template <class T, class U>
void set_if(const std::optional<U>& value, T& out) {
  if (value) out = static_cast<T>(*value);
}

// A required, non-empty name.
void read_name(TableReader& t, std::string& out, Report& report) {
  auto name = t.string("name", Need::kRequired);
  if (name && name->empty()) report.error(report.line_of(t.path("name")), t.path("name"), "must not be empty");
  if (name) out = *name;
}

void read_general(TableReader& t, GeneralConfig& g) {
  set_if(t.integer("workers", 0, 1024), g.workers);
  set_if(t.duration("client_login_timeout", Duration{1}), g.client_login_timeout);
  set_if(t.size("max_message_size", 1u << 10, 1u << 30), g.max_message_size);
  if (auto level = t.choice("log_level", kLogLevels)) g.log_level = std::string(*level);
  set_if(t.duration("shutdown_timeout", Duration{1}), g.shutdown_timeout);
  if (auto io = t.choice("io", kIoModes)) g.io = *io;
}

// Reads a file key; true when the key names a file (even one that could not be read: already reported).
bool read_file_key(TableReader& t, std::string_view key, std::string& out) {
  auto file = t.readable_file(key);
  if (file) out = *file;
  return t.has(key) && !(file && file->empty());
}

// cert_file and key_file, both required when `required_for` names the mode that needs them.
void read_cert_and_key(TableReader& t, TlsFiles& files, const std::optional<std::string_view>& required_for,
                       Report& report) {
  bool cert = read_file_key(t, "cert_file", files.cert_file);
  bool key = read_file_key(t, "key_file", files.key_file);
  if (!required_for) return;
  const std::string why = "is required when mode is " + std::string(*required_for);
  if (!cert) report.error(report.line_of(t.path("cert_file")), t.path("cert_file"), why);
  if (!key) report.error(report.line_of(t.path("key_file")), t.path("key_file"), why);
}

void read_admin(TableReader& t, AdminConfig& a, Report& report) {
  if (auto hp = t.host_port("listen", Need::kOptional)) {
    a.host = hp->first;
    a.port = hp->second;
  }
  auto token = t.secret("token");
  if (token.state == Secret::State::kResolved) a.token = std::move(token.value);
  if (auto tls = t.table("tls")) {
    set_if(tls->choice("mode", kAdminTls), a.tls_mode);
    std::optional<std::string_view> required_for;
    if (a.tls_mode != AdminTlsMode::kDisable) required_for = to_string(a.tls_mode);
    read_cert_and_key(*tls, a.tls, required_for, report);
    tls->finish();
  }
}

void read_pool(TableReader& t, PoolConfig& p, Report& report) {
  set_if(t.choice("mode", kPoolModes), p.mode);
  set_if(t.integer("pool_size", 1, kIntMax), p.pool_size);
  set_if(t.integer("min_pool_size", 0, kIntMax), p.min_pool_size);
  set_if(t.integer("max_client_conn", 1, kIntMax), p.max_client_conn);
  set_if(t.integer("max_concurrent_logins", 1, kIntMax), p.max_concurrent_logins);
  set_if(t.integer("max_prepared_statements", 0, kIntMax), p.max_prepared_statements);
  set_if(t.duration("query_wait_timeout", Duration{1}), p.query_wait_timeout);
  set_if(t.duration("client_idle_timeout", Duration{0}), p.client_idle_timeout);
  set_if(t.duration("server_idle_timeout", Duration{0}), p.server_idle_timeout);
  set_if(t.duration("server_lifetime", Duration{0}), p.server_lifetime);
  set_if(t.duration("server_connect_timeout", Duration{1}), p.server_connect_timeout);
  set_if(t.string("server_reset_query"), p.server_reset_query);
  if (p.min_pool_size > p.pool_size) {
    std::string key = t.path("min_pool_size");
    report.error(report.line_of(key), key,
                 "must not exceed pool_size (" + std::to_string(p.pool_size) + ")");
  }
}

void read_listener_tls(TableReader& t, ListenerConfig& l, Report& report) {
  set_if(t.choice("mode", kClientTls), l.tls_mode);
  std::optional<std::string_view> required_for;
  if (l.tls_mode != ClientTlsMode::kDisable) required_for = to_string(l.tls_mode);
  read_cert_and_key(t, l.tls, required_for, report);
  t.finish();
}

void read_listener(TableReader& t, ListenerConfig& l, Report& report) {
  read_name(t, l.name, report);
  set_if(t.choice("protocol", kProtocols), l.protocol);
  if (auto hp = t.host_port("listen", Need::kRequired)) {
    l.host = hp->first;
    l.port = hp->second;
  }
  set_if(t.string("cluster", Need::kRequired), l.cluster);
  set_if(t.choice("role", kRoles), l.role);
  if (auto mode = t.choice("pool_mode", kPoolModes)) l.pool_mode = *mode;
  if (auto tls = t.table("tls")) read_listener_tls(*tls, l, report);
  set_if(t.boolean("replica_fallback"), l.replica_fallback);
  set_if(t.boolean("read_your_writes"), l.read_your_writes);
  t.finish();
}

void read_server_tls(TableReader& t, ClusterConfig& c, Report& report) {
  set_if(t.choice("mode", kServerTls), c.server_tls_mode);
  bool ca = read_file_key(t, "ca_file", c.server_tls.ca_file);
  bool cert = read_file_key(t, "cert_file", c.server_tls.cert_file);
  bool key = read_file_key(t, "key_file", c.server_tls.key_file);
  bool verifies = c.server_tls_mode == ServerTlsMode::kVerifyCa || c.server_tls_mode == ServerTlsMode::kVerifyFull;
  if (verifies && !ca) {
    report.error(report.line_of(t.path("ca_file")), t.path("ca_file"),
                 "is required when mode is " + std::string(to_string(c.server_tls_mode)));
  }
  if (cert != key) {
    const char* missing = cert ? "key_file" : "cert_file";
    report.error(report.line_of(t.path(missing)), t.path(missing),
                 "a client certificate needs both cert_file and key_file");
  }
  t.finish();
}

void read_node(TableReader& t, NodeConfig& n) {
  auto name = t.string("name");
  set_if(t.string("host", Need::kRequired), n.host);
  set_if(t.integer("port", 1, 65535), n.port);
  set_if(t.integer("weight", 0, kIntMax), n.weight);
  set_if(t.integer("priority", kIntMin, kIntMax), n.priority);
  set_if(t.boolean("no_promote"), n.no_promote);
  n.name = name ? *name : format_host_port(n.host, n.port);
  t.finish();
}

void read_failover(TableReader& t, FailoverSettings& f, Report& report) {
  set_if(t.choice("mode", kFailoverModes), f.mode);
  set_if(t.duration("probe_interval", Duration{1}), f.probe_interval);
  auto suspect = t.duration("suspect_interval", Duration{1});
  set_if(t.duration("probe_timeout", Duration{1}), f.probe_timeout);
  set_if(t.integer("failures_before_down", 1, kIntMax), f.failures_before_down);
  set_if(t.duration("down_after", Duration{1}), f.down_after);
  set_if(t.integer("successes_before_up", 1, kIntMax), f.successes_before_up);
  set_if(t.size("max_failover_lag", 0, std::numeric_limits<std::uint64_t>::max()), f.max_failover_lag);
  set_if(t.duration("promote_timeout", Duration{1}), f.promote_timeout);
  set_if(t.duration("switchover_timeout", Duration{1}), f.switchover_timeout);
  set_if(t.duration("buffer_timeout", Duration{0}), f.buffer_timeout);
  set_if(t.string("promote_command"), f.promote_command);
  set_if(t.string("fence_command"), f.fence_command);
  set_if(t.writable_path("state_file"), f.state_file);
  t.finish();
  if (suspect && *suspect > f.probe_interval) {
    const std::string key = t.path("suspect_interval");
    report.error(report.line_of(key), key,
                 "must not exceed probe_interval (" + format_duration(f.probe_interval) + ")");
  } else if (suspect) {
    f.suspect_interval = *suspect;
  }
}

void read_volatile_functions(TableReader& t, std::vector<std::string>& out, Report& report) {
  auto names = t.string_array("volatile_functions");
  if (!names) return;
  const std::string key = t.path("volatile_functions");
  for (std::size_t i = 0; i < names->size(); ++i) {
    auto name = normalize_function_name((*names)[i]);
    if (!name.value) {
      report.error(report.line_of(key), key + "[" + std::to_string(i) + "]", name.error);
    } else if (std::find(out.begin(), out.end(), *name.value) == out.end()) {
      out.push_back(std::move(*name.value));
    }
  }
}

void read_cluster(TableReader& t, ClusterConfig& c, Report& report) {
  read_name(t, c.name, report);
  set_if(t.choice("protocol", kProtocols), c.protocol);
  set_if(t.string("monitor_user", Need::kRequired), c.monitor_user);
  auto password = t.secret("monitor_password");
  if (password.state == Secret::State::kResolved) c.monitor_password = std::move(password.value);
  set_if(t.string("monitor_database"), c.monitor_database);
  if (auto tls = t.table("server_tls")) read_server_tls(*tls, c, report);
  if (auto failover = t.table("failover")) read_failover(*failover, c.failover, report);
  set_if(t.size("max_replica_lag", 0, std::numeric_limits<std::uint64_t>::max()), c.max_replica_lag);
  set_if(t.duration("max_replica_lag_time", Duration{0}), c.max_replica_lag_time);
  set_if(t.choice("balancer", kBalancers), c.balancer);
  read_volatile_functions(t, c.volatile_functions, report);
  for (auto& node_table : t.array_of_tables("nodes")) {
    NodeConfig node;
    read_node(node_table, node);
    c.nodes.push_back(std::move(node));
  }
  t.finish();
}

void read_user(TableReader& t, UserConfig& u, Report& report) {
  read_name(t, u.name, report);
  set_if(t.choice("auth", kAuthMethods), u.auth);
  Secret password = t.secret("password");
  auto verifier = t.string("scram_verifier");
  set_if(t.string("server_user"), u.server_user);
  Secret server_password = t.secret("server_password");
  if (auto mode = t.choice("pool_mode", kPoolModes)) u.pool_mode = *mode;
  if (auto size = t.integer("pool_size", 1, kIntMax)) u.pool_size = static_cast<int>(*size);
  t.finish();

  if (password.state == Secret::State::kResolved) u.password = std::move(password.value);
  if (server_password.state == Secret::State::kResolved) u.server_password = std::move(server_password.value);
  if (u.server_user.empty()) u.server_user = u.name;

  const std::string verifier_key = t.path("scram_verifier");
  if (verifier) {
    // The proxy authenticates with protocol::pg::scram, so its parser decides; ours says what is wrong.
    if (protocol::pg::scram::parse_verifier(*verifier)) {
      u.scram_verifier = *verifier;
    } else {
      auto check = check_scram_verifier(*verifier);
      report.error(report.line_of(verifier_key), verifier_key,
                   "the verifier " + (check.value ? std::string("is not canonical (leading zero or base64 padding)")
                                                  : check.error));
    }
  }
  const bool has_password = password.state != Secret::State::kAbsent;
  if (has_password && verifier) {
    report.error(report.line_of(verifier_key), verifier_key,
                 "give either a password or a scram_verifier, not both (server_password sets the server login)");
    return;
  }
  if (!has_password && !verifier) {
    if (u.auth != AuthMethod::kTrust) {
      report.error(t.line(), t.path("password"),
                   "is required for auth = \"" + std::string(to_string(u.auth)) +
                       "\" (or password_env, password_file, scram_verifier)");
    }
    return;
  }
  if (password.state == Secret::State::kResolved && u.password.empty() && u.auth != AuthMethod::kTrust) {
    report.error(report.line_of(password.given_as), password.given_as, "must not be empty");
  }
  if (verifier && u.auth == AuthMethod::kMd5) {
    report.error(report.line_of(verifier_key), verifier_key,
                 "md5 authentication needs the password itself; a SCRAM verifier cannot check an md5 response");
  }
  if (verifier && server_password.state == Secret::State::kAbsent) {
    report.error(report.line_of(verifier_key), t.path("server_password"),
                 "is required with scram_verifier: baton cannot log into the server with a verifier");
  }
  if (has_password && server_password.state == Secret::State::kAbsent) u.server_password = u.password;
}

}  // namespace

void read_sections(TableReader& root, Config& config, Report& report) {
  if (auto t = root.table("general")) {
    read_general(*t, config.general);
    t->finish();
  }
  if (auto t = root.table("admin")) {
    read_admin(*t, config.admin, report);
    t->finish();
  }
  if (auto t = root.table("pool")) {
    read_pool(*t, config.pool, report);
    t->finish();
  }
  for (auto& t : root.array_of_tables("listeners")) {
    ListenerConfig listener;
    read_listener(t, listener, report);
    config.listeners.push_back(std::move(listener));
  }
  for (auto& t : root.array_of_tables("clusters")) {
    ClusterConfig cluster;
    read_cluster(t, cluster, report);
    config.clusters.push_back(std::move(cluster));
  }
  for (auto& t : root.array_of_tables("users")) {
    UserConfig user;
    read_user(t, user, report);
    config.users.push_back(std::move(user));
  }
  root.finish();
}

}  // namespace baton::proxy::config
