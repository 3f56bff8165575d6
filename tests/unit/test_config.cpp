// Unit tests for loading and validating baton.toml (proxy/config/).
#include <catch2/catch.hpp>

#include "proxy/config/config.hpp"
#include "proxy/config/values.hpp"
#include "tests/unit/config_testing.hpp"

using namespace baton::proxy;
using namespace baton::test;
using namespace std::chrono_literals;

TEST_CASE("the example configuration loads and says what the file says", "[config]") {
  fake_env().clear();
  const std::string path = std::string(BATON_SOURCE_DIR) + "/deploy/baton.example.toml";
  auto result = load_config(path, &lookup_fake_env);
  if (auto* diags = std::get_if<std::vector<Diagnostic>>(&result)) {
    for (const auto& d : *diags) UNSCOPED_INFO(format(d));
    FAIL("the example has diagnostics");
  }
  const Config& c = std::get<Config>(result);
  CHECK(c.source_path == path);

  CHECK(c.general.workers == 0);
  CHECK(c.general.client_login_timeout == 15s);
  CHECK(c.general.max_message_size == 64u * 1024 * 1024);
  CHECK(c.general.log_level == "info");
  CHECK(c.general.shutdown_timeout == 30s);

  CHECK(c.admin.host == "127.0.0.1");
  CHECK(c.admin.port == 9930);
  CHECK(c.admin.token.empty());
  CHECK(c.admin.tls_mode == AdminTlsMode::kDisable);
  CHECK(c.admin.tls.cert_file.empty());
  CHECK(c.admin.tls.key_file.empty());

  CHECK(c.pool.mode == PoolMode::kTransaction);
  CHECK(c.pool.pool_size == 20);
  CHECK(c.pool.min_pool_size == 0);
  CHECK(c.pool.max_client_conn == 1000);
  CHECK(c.pool.max_concurrent_logins == 8);
  CHECK(c.pool.max_prepared_statements == 200);
  CHECK(c.pool.query_wait_timeout == 120s);
  CHECK(c.pool.client_idle_timeout == 0s);
  CHECK(c.pool.server_idle_timeout == 10min);
  CHECK(c.pool.server_lifetime == 1h);
  CHECK(c.pool.server_connect_timeout == 5s);
  CHECK(c.pool.server_reset_query == "DISCARD ALL");

  REQUIRE(c.listeners.size() == 1);
  const auto& l = c.listeners[0];
  CHECK(l.name == "pg");
  CHECK(l.protocol == Protocol::kPostgres);
  CHECK(l.host == "127.0.0.1");
  CHECK(l.port == 6432);
  CHECK(l.cluster == "main");
  CHECK(l.role == ListenerRole::kSplit);
  REQUIRE(l.pool_mode.has_value());
  CHECK(*l.pool_mode == PoolMode::kTransaction);
  CHECK(l.tls_mode == ClientTlsMode::kDisable);
  CHECK(l.tls.cert_file.empty());
  CHECK(l.tls.key_file.empty());
  CHECK(l.replica_fallback);
  CHECK_FALSE(l.read_your_writes);

  REQUIRE(c.clusters.size() == 1);
  const auto& cl = c.clusters[0];
  CHECK(cl.name == "main");
  CHECK(cl.protocol == Protocol::kPostgres);
  CHECK(cl.monitor_user == "baton_monitor");
  CHECK(cl.monitor_password == "change-me");
  CHECK(cl.monitor_database == "postgres");
  CHECK(cl.server_tls_mode == ServerTlsMode::kDisable);
  CHECK(cl.server_tls.ca_file.empty());
  CHECK(cl.max_replica_lag == 16u << 20);
  CHECK(cl.max_replica_lag_time == 10s);
  CHECK(cl.balancer == BalancerKind::kP2c);
  CHECK(cl.volatile_functions.empty());
  const FailoverSettings& f = cl.failover;
  CHECK(f.mode == FailoverMode::kAuto);
  CHECK(f.probe_interval == 1s);
  CHECK(f.suspect_interval == 200ms);
  CHECK(f.probe_timeout == 1s);
  CHECK(f.failures_before_down == 3);
  CHECK(f.down_after == 5s);
  CHECK(f.successes_before_up == 2);
  CHECK(f.max_failover_lag == 16u << 20);
  CHECK(f.promote_timeout == 30s);
  CHECK(f.switchover_timeout == 30s);
  CHECK(f.buffer_timeout == 10s);
  CHECK(f.promote_command.empty());
  CHECK(f.fence_command.empty());
  CHECK(f.state_file.empty());
  REQUIRE(cl.nodes.size() == 3);
  const char* names[] = {"pg1", "pg2", "pg3"};
  for (int i = 0; i < 3; ++i) {
    CHECK(cl.nodes[i].name == names[i]);
    CHECK(cl.nodes[i].host == "127.0.0.1");
    CHECK(cl.nodes[i].port == 5432 + i);
    CHECK(cl.nodes[i].weight == 1);
    CHECK(cl.nodes[i].priority == 0);
    CHECK_FALSE(cl.nodes[i].no_promote);
  }
  CHECK(c.find_cluster("main") == &cl);
  CHECK(c.find_cluster("other") == nullptr);

  REQUIRE(c.users.size() == 1);
  const auto& u = c.users[0];
  CHECK(u.name == "app");
  CHECK(u.auth == AuthMethod::kScramSha256);
  CHECK(u.password == "change-me");
  CHECK(u.scram_verifier.empty());
  CHECK(u.server_user == "app");
  CHECK(u.server_password == "change-me");
  REQUIRE(u.pool_mode.has_value());
  CHECK(*u.pool_mode == PoolMode::kTransaction);
  CHECK(u.pool_size == std::optional<int>(20));
  CHECK(c.find_user("app") == &u);
  CHECK(c.find_user("nobody") == nullptr);
}

TEST_CASE("a minimal configuration gets every default", "[config]") {
  Config c = load_ok(kMinimalTail);
  Config defaults;
  CHECK(c.general.workers == defaults.general.workers);
  CHECK(c.general.client_login_timeout == 15s);
  CHECK(c.general.max_message_size == 64u << 20);
  CHECK(c.admin.host == "127.0.0.1");
  CHECK(c.admin.port == 9930);
  CHECK(c.pool.mode == PoolMode::kTransaction);
  CHECK(c.pool.pool_size == 20);
  CHECK(c.pool.server_idle_timeout == 600000ms);
  REQUIRE(c.listeners.size() == 1);
  CHECK(c.listeners[0].role == ListenerRole::kSplit);
  CHECK_FALSE(c.listeners[0].pool_mode.has_value());
  CHECK(c.listeners[0].tls_mode == ClientTlsMode::kDisable);
  REQUIRE(c.clusters.size() == 1);
  CHECK(c.clusters[0].monitor_password.empty());
  CHECK(c.clusters[0].monitor_database == "postgres");
  REQUIRE(c.clusters[0].nodes.size() == 1);
  CHECK(c.clusters[0].nodes[0].name == "127.0.0.1:5432");
  CHECK(c.clusters[0].nodes[0].port == 5432);
  CHECK(c.clusters[0].nodes[0].weight == 1);
  REQUIRE(c.users.size() == 1);
  CHECK(c.users[0].auth == AuthMethod::kScramSha256);
  CHECK(c.users[0].server_user == "app");
  CHECK(c.users[0].server_password == "pw");
  CHECK_FALSE(c.users[0].pool_size.has_value());
}

TEST_CASE("values given in the file override the defaults", "[config]") {
  Config c = load_ok(R"([general]
workers = 4
client_login_timeout = "500ms"
max_message_size = 1048576
log_level = "debug"
[admin]
listen = "[::1]:9000"
token = "t0k"
[pool]
mode = "session"
pool_size = 3
min_pool_size = 3
server_lifetime = "2m"
server_reset_query = ""
)" + kMinimalTail + R"(
[[users]]
name = "report"
auth = "md5"
password = "x"
server_user = "reporting"
server_password = "y"
pool_mode = "session"
pool_size = 2

[[users]]
name = "local"
auth = "trust"
)");
  CHECK(c.general.workers == 4);
  CHECK(c.general.client_login_timeout == 500ms);
  CHECK(c.general.max_message_size == 1048576u);
  CHECK(c.general.log_level == "debug");
  CHECK(c.admin.host == "::1");
  CHECK(c.admin.port == 9000);
  CHECK(c.admin.token == "t0k");
  CHECK(c.pool.mode == PoolMode::kSession);
  CHECK(c.pool.pool_size == 3);
  CHECK(c.pool.min_pool_size == 3);
  CHECK(c.pool.server_lifetime == 2min);
  CHECK(c.pool.server_reset_query.empty());
  REQUIRE(c.users.size() == 3);
  CHECK(c.users[1].auth == AuthMethod::kMd5);
  CHECK(c.users[1].server_user == "reporting");
  CHECK(c.users[1].server_password == "y");
  CHECK(c.users[1].pool_mode == std::optional<PoolMode>(PoolMode::kSession));
  CHECK(c.users[1].pool_size == std::optional<int>(2));
  CHECK(c.users[2].auth == AuthMethod::kTrust);
  CHECK(c.users[2].password.empty());
}

TEST_CASE("durations: a number and one of ms, s, m, h", "[config]") {
  using config::parse_duration;
  struct Row {
    const char* text;
    long long ms;
  };
  for (Row row : {Row{"0s", 0}, Row{"500ms", 500}, Row{"15s", 15000}, Row{"2m", 120000}, Row{"1h", 3600000},
                  Row{"10m", 600000}, Row{"0ms", 0}}) {
    INFO(row.text);
    auto d = parse_duration(row.text);
    REQUIRE(d.value.has_value());
    CHECK(d.value->count() == row.ms);
  }
  for (const char* bad : {"", "15", "s", "15sec", "1.5s", "-1s", "15 s", "1d", "15S", "1h30m",
                          "99999999999999999999s", "9999999999999999h"}) {
    INFO(bad);
    auto d = parse_duration(bad);
    CHECK_FALSE(d.value.has_value());
    CHECK_FALSE(d.error.empty());
  }
}

TEST_CASE("sizes: a number and one of B, KiB, MiB, GiB", "[config]") {
  using config::parse_size;
  struct Row {
    const char* text;
    std::uint64_t bytes;
  };
  for (Row row : {Row{"4096B", 4096}, Row{"512KiB", 524288}, Row{"64MiB", 67108864}, Row{"1GiB", 1073741824},
                  Row{"0B", 0}}) {
    INFO(row.text);
    auto s = parse_size(row.text);
    REQUIRE(s.value.has_value());
    CHECK(*s.value == row.bytes);
  }
  for (const char* bad : {"", "64", "64MB", "64mib", "1.5GiB", "-1KiB", "GiB", "99999999999999999999GiB"}) {
    INFO(bad);
    CHECK_FALSE(parse_size(bad).value.has_value());
  }
}

TEST_CASE("listen addresses: host:port and [ipv6]:port", "[config]") {
  using config::parse_host_port;
  auto a = parse_host_port("127.0.0.1:6432");
  REQUIRE(a.value);
  CHECK(a.value->host == "127.0.0.1");
  CHECK(a.value->port == 6432);
  auto b = parse_host_port("[::1]:6432");
  REQUIRE(b.value);
  CHECK(b.value->host == "::1");
  CHECK(b.value->port == 6432);
  auto c = parse_host_port("localhost:1");
  REQUIRE(c.value);
  CHECK(c.value->port == 1);
  CHECK(config::format_host_port("::1", 5432) == "[::1]:5432");
  CHECK(config::format_host_port("db", 5432) == "db:5432");
  for (const char* bad : {"127.0.0.1", ":6432", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "::1:6432",
                          "[::1]6432", "[::1:6432", "host:port", "a b:1"}) {
    INFO(bad);
    CHECK_FALSE(parse_host_port(bad).value.has_value());
  }
}

TEST_CASE("SCRAM verifiers are checked for shape", "[config]") {
  // Derived from RFC 7677 section 3 (password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, i=4096):
  // StoredKey = SHA-256(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword, "Server Key").
  const std::string good =
      "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
      "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
  CHECK(config::check_scram_verifier(good).value.has_value());
  for (const std::string& bad : std::vector<std::string>{
           "md5abcdef",
           "SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
           "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
           "SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
           "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
           "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
           "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ=$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
           "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
           "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBF:"
           "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
           "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
           "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2d!="}) {
    INFO(bad);
    auto r = config::check_scram_verifier(bad);
    CHECK_FALSE(r.value.has_value());
    CHECK(r.error.find("W22Z") == std::string::npos);  // never echoes the verifier
  }
}

TEST_CASE("to_string names every enum value as the file spells it", "[config]") {
  CHECK(to_string(PoolMode::kSession) == "session");
  CHECK(to_string(PoolMode::kTransaction) == "transaction");
  CHECK(to_string(ListenerRole::kSplit) == "split");
  CHECK(to_string(ListenerRole::kPrimary) == "primary");
  CHECK(to_string(ListenerRole::kReplica) == "replica");
  CHECK(to_string(Protocol::kPostgres) == "postgres");
  CHECK(to_string(Protocol::kMysql) == "mysql");
  CHECK(to_string(ClientTlsMode::kDisable) == "disable");
  CHECK(to_string(ClientTlsMode::kAllow) == "allow");
  CHECK(to_string(ClientTlsMode::kRequire) == "require");
  CHECK(to_string(ServerTlsMode::kDisable) == "disable");
  CHECK(to_string(ServerTlsMode::kPrefer) == "prefer");
  CHECK(to_string(ServerTlsMode::kRequire) == "require");
  CHECK(to_string(ServerTlsMode::kVerifyCa) == "verify-ca");
  CHECK(to_string(ServerTlsMode::kVerifyFull) == "verify-full");
  CHECK(to_string(AuthMethod::kScramSha256) == "scram-sha-256");
  CHECK(to_string(AuthMethod::kMd5) == "md5");
  CHECK(to_string(AuthMethod::kTrust) == "trust");
  CHECK(to_string(AdminTlsMode::kDisable) == "disable");
  CHECK(to_string(AdminTlsMode::kRequire) == "require");
  CHECK(to_string(FailoverMode::kAuto) == "auto");
  CHECK(to_string(FailoverMode::kManual) == "manual");
  CHECK(to_string(FailoverMode::kFollow) == "follow");
  CHECK(to_string(BalancerKind::kP2c) == "p2c");
  CHECK(to_string(BalancerKind::kRoundRobin) == "round_robin");
  CHECK(to_string(BalancerKind::kWeighted) == "weighted");
}

TEST_CASE("format(Diagnostic) is file:line: key: message", "[config]") {
  CHECK(format(Diagnostic{"baton.toml", 12, "listeners[0].listen", "bad port"}) ==
        "baton.toml:12: listeners[0].listen: bad port");
  CHECK(format(Diagnostic{"baton.toml", 0, "users", "at least one"}) == "baton.toml: users: at least one");
  CHECK(format(Diagnostic{"baton.toml", 3, "", "TOML syntax error"}) == "baton.toml:3: TOML syntax error");
}

TEST_CASE("unknown keys are errors, with a suggestion when close", "[config]") {
  expect_single_error("[general]\nworkers = 1\nwrokers = 2\n" + kMinimalTail, "general.wrokers", 3,
                      "did you mean \"workers\"");
  expect_single_error("[genral]\nworkers = 1\n" + kMinimalTail, "genral", 1, "did you mean \"general\"");
  expect_single_error("[pool]\npool_size = 5\nmax_connections = 9\n" + kMinimalTail, "pool.max_connections", 3,
                      "unknown key");
  expect_single_error(kMinimalTail + "[[users]]\nname = \"b\"\nauth = \"trust\"\npasword = \"x\"\n",
                      "users[1].pasword", 19,
                      "did you mean \"password\"");
  expect_single_error(R"([[listeners]]
name = "pg"
listen = "127.0.0.1:6432"
cluster = "main"
tls = { mode = "disable", cert = "x.pem" }
[[clusters]]
name = "main"
monitor_user = "mon"
  [[clusters.nodes]]
  host = "127.0.0.1"
[[users]]
name = "app"
auth = "trust"
)",
                      "listeners[0].tls.cert", 5, "unknown key");
}

TEST_CASE("an unknown key inside a node is reported with the node's index", "[config]") {
  expect_single_error(kMinimalTail + "  [[clusters.nodes]]\n  host = \"h2\"\n  wieght = 2\n",
                      "clusters[0].nodes[1].wieght", 18, "did you mean \"weight\"");
}

TEST_CASE("wrong types name the expected and the given type", "[config]") {
  expect_single_error("[general]\nworkers = \"4\"\n" + kMinimalTail, "general.workers", 2,
                      "expected an integer, got a string");
  expect_single_error("[pool]\npool_size = 2.5\n" + kMinimalTail, "pool.pool_size", 2, "got a float");
  expect_single_error("general = 3\n" + kMinimalTail, "general", 1, "expected a table, got an integer");
  expect_single_error(kMinimalTail + "  no_promote = \"yes\"\n", "clusters[0].nodes[0].no_promote", 16,
                      "expected a boolean");
  expect_single_error("[pool]\nmode = \"statement\"\n" + kMinimalTail, "pool.mode", 2,
                      "must be one of: session, transaction");
  expect_single_error("[general]\nlog_level = \"verbose\"\n" + kMinimalTail, "general.log_level", 2,
                      "debug, info, warn, error");
}

TEST_CASE("durations and sizes in the file: a unit is required", "[config]") {
  expect_single_error("[general]\nclient_login_timeout = 15\n" + kMinimalTail, "general.client_login_timeout", 2,
                      "unit");
  expect_single_error("[pool]\nquery_wait_timeout = \"120\"\n" + kMinimalTail, "pool.query_wait_timeout", 2,
                      "needs a unit");
  expect_single_error("[pool]\nserver_lifetime = \"1day\"\n" + kMinimalTail, "pool.server_lifetime", 2,
                      "unknown duration unit");
  expect_single_error("[pool]\nserver_connect_timeout = \"0s\"\n" + kMinimalTail, "pool.server_connect_timeout",
                      2, "at least 1ms");
  expect_single_error("[general]\nmax_message_size = \"64MB\"\n" + kMinimalTail, "general.max_message_size", 2,
                      "unknown size unit");
  expect_single_error("[general]\nmax_message_size = \"512B\"\n" + kMinimalTail, "general.max_message_size", 2,
                      "between 1024 and 1073741824");
  expect_single_error("[general]\nmax_message_size = \"2GiB\"\n" + kMinimalTail, "general.max_message_size", 2,
                      "between 1024 and 1073741824");
  Config c = load_ok("[general]\nmax_message_size = \"1KiB\"\n" + kMinimalTail);
  CHECK(c.general.max_message_size == 1024u);
}

TEST_CASE("out-of-range numbers", "[config]") {
  expect_single_error("[general]\nworkers = 1025\n" + kMinimalTail, "general.workers", 2, "between 0 and 1024");
  expect_single_error("[general]\nworkers = -1\n" + kMinimalTail, "general.workers", 2, "between 0 and 1024");
  expect_single_error("[pool]\npool_size = 0\n" + kMinimalTail, "pool.pool_size", 2, "between 1 and");
  expect_single_error("[pool]\npool_size = 4\nmin_pool_size = 5\n" + kMinimalTail, "pool.min_pool_size", 3,
                      "must not exceed pool_size (4)");
  expect_single_error(kMinimalTail + "  port = 0\n", "clusters[0].nodes[0].port", 16, "between 1 and 65535");
  expect_single_error(kMinimalTail + "  port = 65536\n", "clusters[0].nodes[0].port", 16, "between 1 and 65535");
  expect_single_error(kMinimalTail + "  weight = -1\n", "clusters[0].nodes[0].weight", 16, "between 0 and");
  expect_single_error(kNoUsers + "[[users]]\nname = \"app\"\npassword = \"pw\"\npool_size = 0\n",
                      "users[0].pool_size", 15, "between 1 and");
  expect_single_error("[admin]\nlisten = \"127.0.0.1:70000\"\n" + kMinimalTail, "admin.listen", 2,
                      "between 1 and 65535");
}

TEST_CASE("listener addresses are parsed and checked", "[config]") {
  const std::string rest = R"(cluster = "main"
[[clusters]]
name = "main"
monitor_user = "mon"
  [[clusters.nodes]]
  host = "::1"
  port = 5433
[[users]]
name = "app"
password = "pw"
)";
  Config c = load_ok("[[listeners]]\nname = \"v6\"\nlisten = \"[::1]:6432\"\n" + rest);
  CHECK(c.listeners[0].host == "::1");
  CHECK(c.listeners[0].port == 6432);
  CHECK(c.clusters[0].nodes[0].name == "[::1]:5433");
  expect_single_error("[[listeners]]\nname = \"pg\"\nlisten = \"127.0.0.1:0\"\n" + rest, "listeners[0].listen", 3,
                      "between 1 and 65535");
  expect_single_error("[[listeners]]\nname = \"pg\"\nlisten = \"6432\"\n" + rest, "listeners[0].listen", 3,
                      "host:port");
  expect_single_error("[[listeners]]\nname = \"pg\"\nlisten = \"::1:6432\"\n" + rest, "listeners[0].listen", 3,
                      "brackets");
  expect_single_error("[[listeners]]\nname = \"pg\"\n" + rest, "listeners[0].listen", 1, "is required");
}

TEST_CASE("duplicate names and addresses", "[config]") {
  SECTION("listeners") {
    expect_single_error(kMinimalTail + R"([[listeners]]
name = "pg"
listen = "127.0.0.1:6433"
cluster = "main"
)",
                        "listeners[1].name", 17, "duplicate name \"pg\" (first used by listeners[0])");
  }
  SECTION("listen addresses") {
    expect_single_error(kMinimalTail + R"([[listeners]]
name = "pg2"
listen = "127.0.0.1:6432"
cluster = "main"
)",
                        "listeners[1].listen", 18, "127.0.0.1:6432 is already used by listeners[0].listen");
  }
  SECTION("a listener on the admin address") {
    expect_single_error("[admin]\nlisten = \"127.0.0.1:6432\"\n" + kMinimalTail, "listeners[0].listen", 6,
                        "already used by admin.listen");
  }
  SECTION("clusters") {
    expect_single_error(kMinimalTail + R"([[clusters]]
name = "main"
monitor_user = "mon"
  [[clusters.nodes]]
  host = "10.0.0.1"
)",
                        "clusters[1].name", 17, "duplicate name \"main\"");
  }
  SECTION("nodes within a cluster, by name") {
    expect_single_error(kMinimalTail + R"(  name = "a"
  [[clusters.nodes]]
  name = "a"
  host = "10.0.0.2"
)",
                        "clusters[0].nodes[1].name", 18, "duplicate name \"a\" (first used by clusters[0].nodes[0])");
  }
  SECTION("nodes within a cluster, by default name") {
    expect_single_error(kMinimalTail + "  [[clusters.nodes]]\n  host = \"127.0.0.1\"\n", "clusters[0].nodes[1].name",
                        16, "duplicate name \"127.0.0.1:5432\"");
  }
  SECTION("the same node name in two clusters is fine") {
    Config c = load_ok(kMinimalTail + R"([[clusters]]
name = "other"
monitor_user = "mon"
  [[clusters.nodes]]
  host = "127.0.0.1"
)");
    CHECK(c.clusters.size() == 2);
  }
  SECTION("users") {
    expect_single_error(kMinimalTail + "[[users]]\nname = \"app\"\npassword = \"x\"\n", "users[1].name", 17,
                        "duplicate name \"app\"");
  }
}

TEST_CASE("references and required sections", "[config]") {
  SECTION("a listener naming an unknown cluster") {
    expect_single_error(R"([[listeners]]
name = "pg"
listen = "127.0.0.1:6432"
cluster = "mian"
[[clusters]]
name = "main"
monitor_user = "mon"
  [[clusters.nodes]]
  host = "127.0.0.1"
[[users]]
name = "app"
password = "pw"
)",
                        "listeners[0].cluster", 4, "no [[clusters]] entry is named \"mian\"");
  }
  SECTION("a listener whose protocol differs from its cluster's") {
    expect_single_error("[[listeners]]\nprotocol = \"mysql\"" + kMinimalTail.substr(14), "listeners[0].protocol", 2,
                        "is mysql but cluster \"main\" is postgres");
  }
  SECTION("a cluster with no nodes") {
    expect_single_error(R"([[listeners]]
name = "pg"
listen = "127.0.0.1:6432"
cluster = "main"
[[clusters]]
name = "main"
monitor_user = "mon"
[[users]]
name = "app"
password = "pw"
)",
                        "clusters[0].nodes", 5, "at least one [[clusters.nodes]]");
  }
  SECTION("no listener, no cluster, no user") {
    auto diags = load_bad("[general]\nworkers = 2\n");
    REQUIRE(diags.size() == 3);
    CHECK(format(diags[0]) == "baton.toml: listeners: at least one [[listeners]] entry is required");
    CHECK(format(diags[1]) == "baton.toml: clusters: at least one [[clusters]] entry is required");
    CHECK(format(diags[2]) == "baton.toml: users: at least one [[users]] entry is required");
  }
  SECTION("required keys are reported at the entry's header line") {
    auto diags = load_bad(kMinimalTail + "[[users]]\nauth = \"trust\"\n[[clusters]]\nname = \"c2\"\n");
    for (const auto& d : diags) UNSCOPED_INFO(format(d));
    REQUIRE(diags.size() == 3);
    CHECK(format(diags[0]) == "baton.toml:16: users[1].name: is required");
    CHECK(format(diags[1]) == "baton.toml:18: clusters[1].monitor_user: is required");
    CHECK(format(diags[2]) ==
          "baton.toml:18: clusters[1].nodes: a cluster needs at least one [[clusters.nodes]] entry");
  }
}

namespace {
// The RFC 7677 verifier of the "SCRAM verifiers are checked for shape" test.
const std::string kVerifier =
    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
}  // namespace

TEST_CASE("user credentials", "[config]") {
  SECTION("a verifier with a server password loads") {
    Config c = load_ok(kNoUsers + "[[users]]\nname = \"app\"\nscram_verifier = \"" + kVerifier +
                       "\"\nserver_password = \"srv\"\n");
    CHECK(c.users[0].scram_verifier == kVerifier);
    CHECK(c.users[0].password.empty());
    CHECK(c.users[0].server_password == "srv");
  }
  SECTION("no password, unless trust") {
    expect_single_error(kNoUsers + "[[users]]\nname = \"app\"\n", "users[0].password", 12, "is required");
    expect_single_error(kNoUsers + "[[users]]\nname = \"app\"\nauth = \"md5\"\n", "users[0].password", 12,
                        "auth = \"md5\"");
    expect_single_error(kNoUsers + "[[users]]\nname = \"app\"\npassword = \"\"\n", "users[0].password", 14,
                        "must not be empty");
    Config c = load_ok(kNoUsers + "[[users]]\nname = \"app\"\nauth = \"trust\"\n");
    CHECK(c.users[0].auth == AuthMethod::kTrust);
  }
  SECTION("md5 with only a verifier") {
    expect_single_error(kNoUsers + "[[users]]\nname = \"app\"\nauth = \"md5\"\nscram_verifier = \"" + kVerifier +
                            "\"\nserver_password = \"srv\"\n",
                        "users[0].scram_verifier", 15, "md5");
  }
  SECTION("a verifier that does not parse") {
    auto diags = load_bad(kNoUsers + "[[users]]\nname = \"app\"\nscram_verifier = \"SCRAM-SHA-256$4096:abc\"\n" +
                          "server_password = \"srv\"\n");
    REQUIRE(diags.size() == 1);
    CHECK(diags[0].key == "users[0].scram_verifier");
    CHECK(diags[0].line == 14);
    CHECK_THAT(diags[0].message, Catch::StartsWith("the verifier "));
    CHECK(diags[0].message.find("abc") == std::string::npos);
  }
  SECTION("a verifier with a leading zero in its iteration count is refused like the SCRAM code refuses it") {
    std::string padded = kVerifier;
    padded.replace(padded.find("$4096"), 5, "$04096");
    CHECK(config::check_scram_verifier(padded).value.has_value());  // the shape alone is fine
    expect_single_error(kNoUsers + "[[users]]\nname = \"app\"\nscram_verifier = \"" + padded +
                            "\"\nserver_password = \"srv\"\n",
                        "users[0].scram_verifier", 14, "not canonical");
  }
  SECTION("a verifier without a server password") {
    expect_single_error(kNoUsers + "[[users]]\nname = \"app\"\nscram_verifier = \"" + kVerifier + "\"\n",
                        "users[0].server_password", 14, "cannot log into the server");
  }
  SECTION("both a password and a verifier") {
    expect_single_error(kNoUsers + "[[users]]\nname = \"app\"\npassword = \"pw\"\nscram_verifier = \"" + kVerifier +
                            "\"\n",
                        "users[0].scram_verifier", 15, "not both");
  }
  SECTION("two sources for one secret") {
    fake_env()["APP_PW"] = "from-env";
    expect_single_error(kNoUsers + "[[users]]\nname = \"app\"\npassword = \"pw\"\npassword_env = \"APP_PW\"\n",
                        "users[0].password_env", 15, "give only one of password, password_env and password_file");
    fake_env().clear();
  }
}

TEST_CASE("secrets from the environment and from files", "[config]") {
  TempDir dir;
  fake_env().clear();
  fake_env()["APP_PW"] = "s3cret-env";
  fake_env()["EMPTY"] = "";
  const std::string file = dir.write("pw", "s3cret-file\n\n");
  const std::string crlf = dir.write("crlf", "s3cret-crlf\r\n");
  const std::string token = dir.write("token", "tok");

  SECTION("resolved at load") {
    Config c = load_ok("[admin]\ntoken_file = \"" + token + "\"\n" + kNoUsers.substr(0, kNoUsers.find("  [[")) +
                       "monitor_password_env = \"APP_PW\"\n  [[clusters.nodes]]\n  host = \"h\"\n"
                       "[[users]]\nname = \"app\"\npassword_env = \"APP_PW\"\nserver_password_file = \"" +
                       file + "\"\n[[users]]\nname = \"b\"\npassword_file = \"" + crlf + "\"\n");
    CHECK(c.admin.token == "tok");
    CHECK(c.clusters[0].monitor_password == "s3cret-env");
    CHECK(c.users[0].password == "s3cret-env");
    CHECK(c.users[0].server_password == "s3cret-file\n");  // exactly one trailing newline is stripped
    CHECK(c.users[1].password == "s3cret-crlf");
    CHECK(c.users[1].server_password == "s3cret-crlf");
  }
  SECTION("a relative file is found beside the configuration file") {
    std::string cfg_path = dir.write("baton.toml", kNoUsers + "[[users]]\nname = \"app\"\npassword_file = \"pw\"\n");
    auto result = load_config(cfg_path, &lookup_fake_env);
    REQUIRE(std::holds_alternative<Config>(result));
    CHECK(std::get<Config>(result).users[0].password == "s3cret-file\n");
  }
  SECTION("an unset variable") {
    expect_single_error(kNoUsers + "[[users]]\nname = \"app\"\npassword_env = \"NOPE\"\n", "users[0].password_env",
                        14, "environment variable NOPE is not set");
  }
  SECTION("an empty variable") {
    expect_single_error(kNoUsers + "[[users]]\nname = \"app\"\npassword_env = \"EMPTY\"\n", "users[0].password_env",
                        14, "is empty");
  }
  SECTION("an unreadable file") {
    const std::string missing = (dir.path / "missing").string();
    expect_single_error(kNoUsers + "[[users]]\nname = \"app\"\npassword_file = \"" + missing + "\"\n",
                        "users[0].password_file", 14, "No such file or directory");
    expect_single_error(kNoUsers + "[[users]]\nname = \"app\"\npassword = \"x\"\nserver_password_file = \"" +
                            dir.path.string() + "\"\n",
                        "users[0].server_password_file", 15, "cannot read");
  }
  SECTION("secret values never appear in diagnostics") {
    auto diags = load_bad("[general]\nworkers = \"many\"\n" + kNoUsers +
                          "monitor_password = 17\n[[users]]\nname = \"app\"\npassword_env = \"APP_PW\"\n"
                          "scram_verifier = \"SCRAM-SHA-256$1:hunter2\"\nserver_password = \"hunter3\"\n");
    REQUIRE(diags.size() >= 3);
    for (const auto& d : diags) {
      INFO(format(d));
      CHECK(format(d).find("s3cret") == std::string::npos);
      CHECK(format(d).find("hunter") == std::string::npos);
    }
  }
}

TEST_CASE("TLS settings and the files they name", "[config]") {
  TempDir dir;
  const std::string cert = dir.write("cert.pem", "-----BEGIN CERTIFICATE-----\n");
  const std::string key = dir.write("key.pem", "-----BEGIN PRIVATE KEY-----\n");
  const std::string head = "[[listeners]]\nname = \"pg\"\nlisten = \"127.0.0.1:6432\"\ncluster = \"main\"\n";
  const std::string rest = kMinimalTail.substr(kMinimalTail.find("[[users]]"));

  SECTION("require with both files") {
    Config c = load_ok(head + "tls = { mode = \"require\", cert_file = \"" + cert + "\", key_file = \"" + key +
                       "\" }\n" + rest);
    CHECK(c.listeners[0].tls_mode == ClientTlsMode::kRequire);
    CHECK(c.listeners[0].tls.cert_file == cert);
    CHECK(c.listeners[0].tls.key_file == key);
  }
  SECTION("require without files") {
    auto diags = load_bad(head + "tls = { mode = \"require\" }\n" + rest);
    REQUIRE(diags.size() == 2);
    CHECK(format(diags[0]) == "baton.toml:5: listeners[0].tls.cert_file: is required when mode is require");
    CHECK(format(diags[1]) == "baton.toml:5: listeners[0].tls.key_file: is required when mode is require");
  }
  SECTION("allow with an empty cert_file") {
    auto diags = load_bad(head + "tls = { mode = \"allow\", cert_file = \"\", key_file = \"" + key + "\" }\n" + rest);
    REQUIRE(diags.size() == 1);
    CHECK(diags[0].key == "listeners[0].tls.cert_file");
  }
  SECTION("a file that does not exist") {
    const std::string missing = (dir.path / "nope.pem").string();
    expect_single_error(head + "[listeners.tls]\nmode = \"require\"\ncert_file = \"" + missing +
                            "\"\nkey_file = \"" + key + "\"\n" + rest,
                        "listeners[0].tls.cert_file", 7, "cannot read \"" + missing + "\"");
  }
  SECTION("server TLS: verify-full needs a CA file") {
    expect_single_error(kMinimalTail + "[clusters.server_tls]\nmode = \"verify-full\"\n", "clusters[0].server_tls.ca_file",
                        16, "is required when mode is verify-full");
    Config c = load_ok(kMinimalTail + "[clusters.server_tls]\nmode = \"verify-ca\"\nca_file = \"" + cert + "\"\n");
    CHECK(c.clusters[0].server_tls_mode == ServerTlsMode::kVerifyCa);
    CHECK(c.clusters[0].server_tls.ca_file == cert);
  }
  SECTION("server TLS: a client certificate needs both files") {
    expect_single_error(kMinimalTail + "[clusters.server_tls]\nmode = \"require\"\ncert_file = \"" + cert + "\"\n",
                        "clusters[0].server_tls.key_file", 16, "both cert_file and key_file");
  }
}

TEST_CASE("every problem in a file is reported, in line order", "[config]") {
  auto diags = load_bad(R"([general]
workers = 2000
client_login_timeout = "15"
[pool]
pool_size = 0
mode = "statement"
[[listeners]]
name = "pg"
listen = "127.0.0.1:99999"
cluster = "nowhere"
colour = "blue"
[[clusters]]
name = "main"
monitor_user = "mon"
[[users]]
name = "app"
auth = "md5"
)");
  for (const auto& d : diags) UNSCOPED_INFO(format(d));
  std::vector<std::string> got;
  for (const auto& d : diags) got.push_back(format(d));
  REQUIRE(got.size() == 9);
  CHECK_THAT(got[0], Catch::StartsWith("baton.toml:2: general.workers: must be between 0 and 1024"));
  CHECK_THAT(got[1], Catch::StartsWith("baton.toml:3: general.client_login_timeout: "));
  CHECK_THAT(got[2], Catch::StartsWith("baton.toml:5: pool.pool_size: "));
  CHECK_THAT(got[3], Catch::StartsWith("baton.toml:6: pool.mode: must be one of"));
  CHECK_THAT(got[4], Catch::StartsWith("baton.toml:9: listeners[0].listen: "));
  CHECK_THAT(got[5], Catch::StartsWith("baton.toml:10: listeners[0].cluster: no [[clusters]] entry"));
  CHECK_THAT(got[6], Catch::StartsWith("baton.toml:11: listeners[0].colour: unknown key"));
  CHECK_THAT(got[7], Catch::StartsWith("baton.toml:12: clusters[0].nodes: "));
  CHECK_THAT(got[8], Catch::StartsWith("baton.toml:15: users[0].password: is required"));
}

TEST_CASE("syntax errors and unreadable files", "[config]") {
  auto diags = load_bad("[general]\nworkers = 1\nlog_level = \"info\n");
  REQUIRE(diags.size() == 1);
  CHECK(diags[0].line == 3);
  CHECK_THAT(diags[0].message, Catch::StartsWith("TOML syntax error: "));

  auto twice = load_bad("[general]\nworkers = 1\nworkers = 2\n");
  REQUIRE(twice.size() == 1);
  CHECK(twice[0].line == 3);

  auto secret = load_bad("[[users]]\nname = \"a\"\npassword = \"hunter2\n");
  REQUIRE(secret.size() == 1);
  CHECK(format(secret[0]).find("hunter2") == std::string::npos);

  auto missing = load_config("/nonexistent/baton.toml", &lookup_fake_env);
  REQUIRE(std::holds_alternative<std::vector<Diagnostic>>(missing));
  const auto& m = std::get<std::vector<Diagnostic>>(missing);
  REQUIRE(m.size() == 1);
  CHECK(format(m[0]) == "/nonexistent/baton.toml: cannot read the configuration file: No such file or directory");
}
