// The validated configuration: plain values, every duration already converted, every secret resolved.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace baton::proxy {

using Duration = std::chrono::milliseconds;

enum class PoolMode { kSession, kTransaction };
enum class ListenerRole { kSplit, kPrimary, kReplica };
enum class Protocol { kPostgres, kMysql };
// TLS between clients and baton.
enum class ClientTlsMode { kDisable, kAllow, kRequire };
// TLS between baton and servers, named as libpq's sslmode.
enum class ServerTlsMode { kDisable, kPrefer, kRequire, kVerifyCa, kVerifyFull };
// How baton authenticates a client.
enum class AuthMethod { kScramSha256, kMd5, kTrust };
// TLS on the admin HTTP server.
enum class AdminTlsMode { kDisable, kRequire };
// auto: baton promotes a standby by itself; manual: it only reports, and switches over on command;
// follow: it never promotes and routes writes to the node that reports itself primary on the highest
// timeline (clusters run by Patroni and the like).
enum class FailoverMode { kAuto, kManual, kFollow };
// How reads are spread over the standbys: power of two choices on outstanding requests, round robin,
// or in proportion to each node's weight.
enum class BalancerKind { kP2c, kRoundRobin, kWeighted };
// How workers do the relay's socket I/O: io_uring when the kernel allows it (else epoll), io_uring or fail, epoll.
enum class IoMode { kAuto, kIoUring, kEpoll };

std::string_view to_string(PoolMode m);
std::string_view to_string(ListenerRole r);
std::string_view to_string(Protocol p);
std::string_view to_string(ClientTlsMode m);
std::string_view to_string(ServerTlsMode m);
std::string_view to_string(AuthMethod m);
std::string_view to_string(AdminTlsMode m);
std::string_view to_string(FailoverMode m);
std::string_view to_string(BalancerKind b);
std::string_view to_string(IoMode m);

struct GeneralConfig {
  int workers = 0;                          // 0 = one per core
  Duration client_login_timeout{15000};     // a client must finish startup+auth within this
  std::uint32_t max_message_size = 64u << 20;  // larger client or server messages are refused
  std::string log_level = "info";           // debug, info, warn, error
  Duration shutdown_timeout{30000};         // SIGTERM: clients get this long to finish (SIGINT: a tenth)
  IoMode io = IoMode::kAuto;                // proxy/net/ring.hpp
};

struct TlsFiles {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
};

struct AdminConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9930;
  std::string token;  // bearer token for POST endpoints; "" = POST endpoints refused
  AdminTlsMode tls_mode = AdminTlsMode::kDisable;
  TlsFiles tls;  // cert_file and key_file required when tls_mode is require; ca_file unused
};

struct PoolConfig {
  PoolMode mode = PoolMode::kTransaction;
  int pool_size = 20;             // server connections per (node, database, user), all workers together
  int min_pool_size = 0;          // kept warm
  int max_client_conn = 1000;     // client connections, all listeners together
  int max_concurrent_logins = 8;  // server logins in progress per pool
  int max_prepared_statements = 200;  // per server connection (LRU); 0 = prepared statements off
  Duration query_wait_timeout{120000};
  Duration client_idle_timeout{0};     // 0 = never
  Duration server_idle_timeout{600000};
  Duration server_lifetime{3600000};
  Duration server_connect_timeout{5000};
  std::string server_reset_query = "DISCARD ALL";  // session mode, when a client leaves
};

struct ListenerConfig {
  std::string name;
  Protocol protocol = Protocol::kPostgres;
  std::string host = "127.0.0.1";
  std::uint16_t port = 6432;
  std::string cluster;  // name of a [[clusters]] entry
  ListenerRole role = ListenerRole::kSplit;
  std::optional<PoolMode> pool_mode;  // overrides pool.mode
  ClientTlsMode tls_mode = ClientTlsMode::kDisable;
  TlsFiles tls;  // cert_file and key_file required unless tls_mode is disable
  bool replica_fallback = true;   // role replica/split: reads go to the primary when no standby is usable
  bool read_your_writes = false;  // after a session's write commits, its reads wait for standbys to catch up
};

struct NodeConfig {
  std::string name;  // defaults to "host:port"
  std::string host;
  std::uint16_t port = 5432;
  int weight = 1;
  int priority = 0;       // failover: higher is preferred
  bool no_promote = false;
};

// [clusters.failover]: health probes and failover of one cluster.
struct FailoverSettings {
  FailoverMode mode = FailoverMode::kAuto;
  Duration probe_interval{1000};    // between probes of a node
  Duration suspect_interval{200};   // between probes of a suspect node (<= probe_interval)
  Duration probe_timeout{1000};     // a probe that takes longer has failed
  int failures_before_down = 3;     // consecutive failed probes that confirm a node down...
  Duration down_after{5000};        // ...or a node failing for this long
  int successes_before_up = 2;      // consecutive good probes that bring a down node back
  std::uint64_t max_failover_lag = 16u << 20;  // bytes of WAL a candidate may miss and still be promoted
  Duration promote_timeout{30000};     // replay and promotion of one candidate
  Duration switchover_timeout{30000};  // a whole planned switchover
  Duration buffer_timeout{10000};      // a transaction needing the primary waits this long during a failover
  std::string promote_command;  // "" = baton promotes with pg_promote()
  std::string fence_command;    // "" = no hook when fencing the old primary
  std::string state_file;       // resolved path; "" = fencing state kept only in memory
};

struct ClusterConfig {
  std::string name;
  Protocol protocol = Protocol::kPostgres;
  std::vector<NodeConfig> nodes;
  ServerTlsMode server_tls_mode = ServerTlsMode::kDisable;
  TlsFiles server_tls;  // ca_file for verify-ca/verify-full; cert/key for client certificates
  // Credentials for health probes and failover actions.
  std::string monitor_user;
  std::string monitor_password;
  std::string monitor_database = "postgres";
  FailoverSettings failover;
  // Routing of reads.
  std::uint64_t max_replica_lag = 16u << 20;  // bytes of replay lag past which a standby is skipped; 0 = no limit
  Duration max_replica_lag_time{10000};       // seconds of replay lag likewise; 0 = no limit
  BalancerKind balancer = BalancerKind::kP2c;
  std::vector<std::string> volatile_functions;  // lowercased; added to the classifier's built-in list
};

struct UserConfig {
  std::string name;
  AuthMethod auth = AuthMethod::kScramSha256;
  std::string password;        // plain password (client auth and, by default, server login)
  std::string scram_verifier;  // "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>" instead of a password
  std::string server_user;     // defaults to name
  std::string server_password; // defaults to password
  std::optional<PoolMode> pool_mode;  // overrides the listener's and pool.mode
  std::optional<int> pool_size;       // overrides pool.pool_size
};

struct Config {
  std::string source_path;
  GeneralConfig general;
  AdminConfig admin;
  PoolConfig pool;
  std::vector<ListenerConfig> listeners;
  std::vector<ClusterConfig> clusters;
  std::vector<UserConfig> users;

  const ClusterConfig* find_cluster(std::string_view name) const;
  const UserConfig* find_user(std::string_view name) const;
};

// One problem found while loading: where, which key, what is wrong.
struct Diagnostic {
  std::string file;
  int line = 0;  // 0 when unknown
  std::string key;  // dotted path, e.g. "listeners[0].port"
  std::string message;
};
std::string format(const Diagnostic& d);  // "file:line: key: message"

// Reads, parses and validates a TOML file. Collects every problem before giving up.
// `env` looks up environment variables (injectable for tests); secrets may be given as
// `password_env = "VAR"` or `password_file = "/path"` beside `password`.
using EnvLookup = std::optional<std::string> (*)(const char* name);
std::variant<Config, std::vector<Diagnostic>> load_config(const std::string& path, EnvLookup env = nullptr);
// The same from TOML text (source_name is used in diagnostics).
std::variant<Config, std::vector<Diagnostic>> parse_config(std::string_view toml_text,
                                                           const std::string& source_name,
                                                           EnvLookup env = nullptr);

}  // namespace baton::proxy
