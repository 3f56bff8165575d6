// Unit tests for the shutdown, admin TLS, failover and routing keys of baton.toml (issues 3, 4 and 5).
#include <catch2/catch.hpp>

#include "proxy/config/config.hpp"
#include "proxy/config/values.hpp"
#include "tests/unit/config_testing.hpp"

using namespace baton::proxy;
using namespace baton::test;
using namespace std::chrono_literals;

namespace {

// The listener of kMinimalTail with `keys` added at line 5, then the rest of kMinimalTail.
std::string with_listener_keys(const std::string& keys) {
  return "[[listeners]]\nname = \"pg\"\nlisten = \"127.0.0.1:6432\"\ncluster = \"main\"\n" + keys +
         kMinimalTail.substr(kMinimalTail.find("[[users]]"));
}

// A cluster with `keys` at line 14 (cluster level), then one node.
std::string with_cluster_keys(const std::string& keys) { return kClusterHead + keys + kNode; }

// A cluster whose [clusters.failover] table starts at line 14 and holds `keys` from line 15.
std::string with_failover(const std::string& keys) {
  return kClusterHead + "[clusters.failover]\n" + keys + kNode;
}

}  // namespace

TEST_CASE("new keys have their documented defaults", "[config]") {
  Config c = load_ok(kMinimalTail);
  CHECK(c.general.shutdown_timeout == 30s);
  CHECK(c.admin.tls_mode == AdminTlsMode::kDisable);
  CHECK(c.admin.tls.cert_file.empty());
  REQUIRE(c.listeners.size() == 1);
  CHECK(c.listeners[0].replica_fallback);
  CHECK_FALSE(c.listeners[0].read_your_writes);
  REQUIRE(c.clusters.size() == 1);
  const ClusterConfig& cl = c.clusters[0];
  CHECK(cl.max_replica_lag == 16u * 1024 * 1024);
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
  CHECK(f.max_failover_lag == 16u * 1024 * 1024);
  CHECK(f.promote_timeout == 30s);
  CHECK(f.switchover_timeout == 30s);
  CHECK(f.buffer_timeout == 10s);
  CHECK(f.promote_command.empty());
  CHECK(f.fence_command.empty());
  CHECK(f.state_file.empty());

  // An empty [clusters.failover] table changes nothing.
  Config empty = load_ok(with_failover(""));
  CHECK(empty.clusters[0].failover.probe_interval == 1s);
  CHECK(empty.clusters[0].failover.mode == FailoverMode::kAuto);
}

TEST_CASE("general.shutdown_timeout", "[config]") {
  CHECK(load_ok("[general]\nshutdown_timeout = \"2m\"\n" + kMinimalTail).general.shutdown_timeout == 2min);
  CHECK(load_ok("[general]\nshutdown_timeout = \"1ms\"\n" + kMinimalTail).general.shutdown_timeout == 1ms);
  expect_single_error("[general]\nshutdown_timeout = \"0s\"\n" + kMinimalTail, "general.shutdown_timeout", 2,
                      "must be at least 1ms");
  expect_single_error("[general]\nshutdown_timeout = 30\n" + kMinimalTail, "general.shutdown_timeout", 2,
                      "expected a duration string with a unit");
  expect_single_error("[general]\nshutdown_timeout = \"30\"\n" + kMinimalTail, "general.shutdown_timeout", 2,
                      "needs a unit");
}

TEST_CASE("admin.tls", "[config]") {
  TempDir dir;
  const std::string cert = dir.write("cert.pem", "-----BEGIN CERTIFICATE-----\n");
  const std::string key = dir.write("key.pem", "-----BEGIN PRIVATE KEY-----\n");

  SECTION("require with both files, token kept beside it") {
    Config c = load_ok("[admin]\nlisten = \"127.0.0.1:9931\"\ntoken = \"t\"\ntls = { mode = \"require\", cert_file = \"" +
                       cert + "\", key_file = \"" + key + "\" }\n" + kMinimalTail);
    CHECK(c.admin.port == 9931);
    CHECK(c.admin.token == "t");
    CHECK(c.admin.tls_mode == AdminTlsMode::kRequire);
    CHECK(c.admin.tls.cert_file == cert);
    CHECK(c.admin.tls.key_file == key);
  }
  SECTION("as a [admin.tls] table") {
    Config c = load_ok("[admin.tls]\nmode = \"disable\"\n" + kMinimalTail);
    CHECK(c.admin.tls_mode == AdminTlsMode::kDisable);
  }
  SECTION("require without files") {
    auto diags = load_bad("[admin]\ntls = { mode = \"require\" }\n" + kMinimalTail);
    REQUIRE(diags.size() == 2);
    CHECK(format(diags[0]) == "baton.toml:2: admin.tls.cert_file: is required when mode is require");
    CHECK(format(diags[1]) == "baton.toml:2: admin.tls.key_file: is required when mode is require");
  }
  SECTION("require with an empty key_file") {
    expect_single_error("[admin]\ntls = { mode = \"require\", cert_file = \"" + cert + "\", key_file = \"\" }\n" +
                            kMinimalTail,
                        "admin.tls.key_file", 2, "is required when mode is require");
  }
  SECTION("a certificate that cannot be read") {
    const std::string missing = (dir.path / "missing.pem").string();
    expect_single_error("[admin.tls]\nmode = \"require\"\ncert_file = \"" + missing + "\"\nkey_file = \"" + key +
                            "\"\n" + kMinimalTail,
                        "admin.tls.cert_file", 3, "cannot read \"" + missing + "\"");
  }
  SECTION("modes the admin server does not have") {
    expect_single_error("[admin]\ntls = { mode = \"allow\" }\n" + kMinimalTail, "admin.tls.mode", 2,
                        "must be one of: disable, require");
    expect_single_error("[admin]\ntls = { mode = \"verify-full\" }\n" + kMinimalTail, "admin.tls.mode", 2,
                        "must be one of: disable, require");
  }
  SECTION("unknown keys and wrong types") {
    expect_single_error("[admin]\ntls = { mode = \"disable\", ca_file = \"x\" }\n" + kMinimalTail, "admin.tls.ca_file",
                        2, "unknown key");
    expect_single_error("[admin]\ntls = \"require\"\n" + kMinimalTail, "admin.tls", 2, "expected a table, got a string");
  }
}

TEST_CASE("listener routing keys", "[config]") {
  Config c = load_ok(with_listener_keys("replica_fallback = false\nread_your_writes = true\n"));
  CHECK_FALSE(c.listeners[0].replica_fallback);
  CHECK(c.listeners[0].read_your_writes);
  expect_single_error(with_listener_keys("replica_fallback = \"yes\"\n"), "listeners[0].replica_fallback", 5,
                      "expected a boolean (true or false), got a string");
  expect_single_error(with_listener_keys("read_your_writes = 1\n"), "listeners[0].read_your_writes", 5,
                      "expected a boolean (true or false), got an integer");
  expect_single_error(with_listener_keys("read_your_write = true\n"), "listeners[0].read_your_write", 5,
                      "did you mean \"read_your_writes\"");
}

TEST_CASE("cluster routing keys", "[config]") {
  SECTION("values given") {
    Config c = load_ok(with_cluster_keys("max_replica_lag = \"1MiB\"\nmax_replica_lag_time = \"1500ms\"\n"
                                         "balancer = \"weighted\"\n"
                                         "volatile_functions = [\"Audit_Log\", \"app_*\", \"audit_log\", \"f$1\"]\n"));
    const ClusterConfig& cl = c.clusters[0];
    CHECK(cl.max_replica_lag == 1u << 20);
    CHECK(cl.max_replica_lag_time == 1500ms);
    CHECK(cl.balancer == BalancerKind::kWeighted);
    // Lowercased as the classifier compares unquoted names; the repeated name is kept once.
    CHECK(cl.volatile_functions == std::vector<std::string>{"audit_log", "app_*", "f$1"});
  }
  SECTION("zero means no limit, and bytes may be an integer") {
    Config c = load_ok(with_cluster_keys("max_replica_lag = \"0B\"\nmax_replica_lag_time = \"0s\"\n"));
    CHECK(c.clusters[0].max_replica_lag == 0u);
    CHECK(c.clusters[0].max_replica_lag_time == 0ms);
    CHECK(load_ok(with_cluster_keys("max_replica_lag = 4096\n")).clusters[0].max_replica_lag == 4096u);
    CHECK(load_ok(with_cluster_keys("balancer = \"round_robin\"\n")).clusters[0].balancer == BalancerKind::kRoundRobin);
  }
  SECTION("bad values") {
    expect_single_error(with_cluster_keys("max_replica_lag = \"16MB\"\n"), "clusters[0].max_replica_lag", 14,
                        "unknown size unit");
    expect_single_error(with_cluster_keys("max_replica_lag = -1\n"), "clusters[0].max_replica_lag", 14,
                        "must not be negative");
    expect_single_error(with_cluster_keys("max_replica_lag_time = \"10\"\n"), "clusters[0].max_replica_lag_time", 14,
                        "needs a unit");
    expect_single_error(with_cluster_keys("balancer = \"random\"\n"), "clusters[0].balancer", 14,
                        "must be one of: p2c, round_robin, weighted");
  }
  SECTION("volatile_functions") {
    expect_single_error(with_cluster_keys("volatile_functions = \"nextval\"\n"), "clusters[0].volatile_functions", 14,
                        "expected an array of strings, got a string");
    expect_single_error(with_cluster_keys("volatile_functions = [\"a\", 2]\n"), "clusters[0].volatile_functions[1]",
                        14, "expected a string, got an integer");
    expect_single_error(with_cluster_keys("volatile_functions = [\"public.audit\"]\n"),
                        "clusters[0].volatile_functions[0]", 14, "without its schema");
    expect_single_error(with_cluster_keys("volatile_functions = [\"ok\", \"*\"]\n"), "clusters[0].volatile_functions[1]",
                        14, "must not be empty");
    expect_single_error(with_cluster_keys("volatile_functions = [\"1abc\"]\n"), "clusters[0].volatile_functions[0]", 14,
                        "letters, digits");
    expect_single_error(with_cluster_keys("volatile_functions = [\"audit(\"]\n"), "clusters[0].volatile_functions[0]",
                        14, "letters, digits");
    expect_single_error(with_cluster_keys("volatile_functions = [\"a*b\"]\n"), "clusters[0].volatile_functions[0]", 14,
                        "letters, digits");
    CHECK(load_ok(with_cluster_keys("volatile_functions = []\n")).clusters[0].volatile_functions.empty());
  }
}

TEST_CASE("[clusters.failover] values given in the file", "[config]") {
  Config c = load_ok(with_failover(R"(mode = "manual"
probe_interval = "2s"
suspect_interval = "2s"
probe_timeout = "750ms"
failures_before_down = 5
down_after = "1m"
successes_before_up = 1
max_failover_lag = "0B"
promote_timeout = "45s"
switchover_timeout = "2m"
buffer_timeout = "0s"
promote_command = "/usr/local/bin/promote %n"
fence_command = "/usr/local/bin/fence"
)"));
  const FailoverSettings& f = c.clusters[0].failover;
  CHECK(f.mode == FailoverMode::kManual);
  CHECK(f.probe_interval == 2s);
  CHECK(f.suspect_interval == 2s);  // equal to probe_interval is allowed
  CHECK(f.probe_timeout == 750ms);
  CHECK(f.failures_before_down == 5);
  CHECK(f.down_after == 1min);
  CHECK(f.successes_before_up == 1);
  CHECK(f.max_failover_lag == 0u);
  CHECK(f.promote_timeout == 45s);
  CHECK(f.switchover_timeout == 2min);
  CHECK(f.buffer_timeout == 0ms);
  CHECK(f.promote_command == "/usr/local/bin/promote %n");
  CHECK(f.fence_command == "/usr/local/bin/fence");
  CHECK(load_ok(with_failover("mode = \"follow\"\n")).clusters[0].failover.mode == FailoverMode::kFollow);
  // The table may also be written inline.
  Config inline_table = load_ok(with_cluster_keys("failover = { mode = \"manual\", down_after = \"3s\" }\n"));
  CHECK(inline_table.clusters[0].failover.mode == FailoverMode::kManual);
  CHECK(inline_table.clusters[0].failover.down_after == 3s);
}

TEST_CASE("[clusters.failover] bad values name the key and the line", "[config]") {
  const std::string p = "clusters[0].failover.";
  expect_single_error(with_failover("mode = \"automatic\"\n"), p + "mode", 15, "must be one of: auto, manual, follow");
  expect_single_error(with_failover("probe_interval = \"0s\"\n"), p + "probe_interval", 15, "at least 1ms");
  expect_single_error(with_failover("probe_interval = 1\n"), p + "probe_interval", 15, "a duration string");
  expect_single_error(with_failover("suspect_interval = \"0ms\"\n"), p + "suspect_interval", 15, "at least 1ms");
  expect_single_error(with_failover("probe_timeout = \"0s\"\n"), p + "probe_timeout", 15, "at least 1ms");
  expect_single_error(with_failover("failures_before_down = 0\n"), p + "failures_before_down", 15, "between 1 and");
  expect_single_error(with_failover("down_after = \"5\"\n"), p + "down_after", 15, "needs a unit");
  expect_single_error(with_failover("down_after = \"0s\"\n"), p + "down_after", 15, "at least 1ms");
  expect_single_error(with_failover("successes_before_up = 0\n"), p + "successes_before_up", 15, "between 1 and");
  expect_single_error(with_failover("max_failover_lag = \"16MB\"\n"), p + "max_failover_lag", 15, "unknown size unit");
  expect_single_error(with_failover("max_failover_lag = \"1.5MiB\"\n"), p + "max_failover_lag", 15, "whole number");
  expect_single_error(with_failover("promote_timeout = \"0s\"\n"), p + "promote_timeout", 15, "at least 1ms");
  expect_single_error(with_failover("switchover_timeout = \"0s\"\n"), p + "switchover_timeout", 15, "at least 1ms");
  expect_single_error(with_failover("buffer_timeout = \"10 s\"\n"), p + "buffer_timeout", 15, "unknown duration unit");
  expect_single_error(with_failover("promote_command = 1\n"), p + "promote_command", 15, "expected a string");
  expect_single_error(with_failover("fence_command = [\"a\"]\n"), p + "fence_command", 15, "expected a string");
  expect_single_error(with_failover("probe_intreval = \"1s\"\n"), p + "probe_intreval", 15,
                      "did you mean \"probe_interval\"");
  expect_single_error(with_cluster_keys("failover = \"auto\"\n"), "clusters[0].failover", 14, "expected a table");
}

TEST_CASE("[clusters.failover] suspect_interval must not exceed probe_interval", "[config]") {
  // Against the default probe_interval (1s).
  expect_single_error(with_failover("suspect_interval = \"2s\"\n"), "clusters[0].failover.suspect_interval", 15,
                      "must not exceed probe_interval (1s)");
  // Against the given one, whichever line comes first.
  expect_single_error(with_failover("suspect_interval = \"300ms\"\nprobe_interval = \"250ms\"\n"),
                      "clusters[0].failover.suspect_interval", 15, "must not exceed probe_interval (250ms)");
  Config c = load_ok(with_failover("probe_interval = \"5s\"\nsuspect_interval = \"1s\"\n"));
  CHECK(c.clusters[0].failover.suspect_interval == 1s);
}

TEST_CASE("[clusters.failover] state_file", "[config]") {
  TempDir dir;
  SECTION("an absolute path in an existing directory; the file need not exist yet") {
    const std::string file = (dir.path / "main.state").string();
    Config c = load_ok(with_failover("state_file = \"" + file + "\"\n"));
    CHECK(c.clusters[0].failover.state_file == file);
  }
  SECTION("a relative path is taken beside the configuration file") {
    std::string cfg = dir.write("baton.toml", with_failover("state_file = \"main.state\"\n"));
    auto result = load_config(cfg, &lookup_fake_env);
    REQUIRE(std::holds_alternative<Config>(result));
    CHECK(std::get<Config>(result).clusters[0].failover.state_file == (dir.path / "main.state").string());
  }
  SECTION("a directory that does not exist") {
    const std::string missing = (dir.path / "nope").string();
    expect_single_error(with_failover("state_file = \"" + missing + "/main.state\"\n"),
                        "clusters[0].failover.state_file", 15, "directory \"" + missing + "\" does not exist");
  }
  SECTION("a directory instead of a file") {
    expect_single_error(with_failover("state_file = \"" + dir.path.string() + "\"\n"),
                        "clusters[0].failover.state_file", 15, "is a directory");
    expect_single_error(with_failover("state_file = \"" + dir.path.string() + "/\"\n"),
                        "clusters[0].failover.state_file", 15, "names a directory");
  }
  SECTION("two clusters cannot share one") {
    const std::string file = (dir.path / "shared.state").string();
    std::string text = with_failover("state_file = \"" + file + "\"\n") +
                       "[[clusters]]\nname = \"other\"\nmonitor_user = \"mon\"\n"   // lines 18-20
                       "[clusters.failover]\nstate_file = \"" + file + "\"\n" + kNode;  // 21-22
    auto diags = load_bad(text);
    for (const auto& d : diags) UNSCOPED_INFO(format(d));
    REQUIRE(diags.size() == 1);
    CHECK(format(diags[0]) ==
          "baton.toml:22: clusters[1].failover.state_file: is already the state file of clusters[0] (each cluster "
          "needs its own)");
  }
  SECTION("empty means in memory only") {
    CHECK(load_ok(with_failover("state_file = \"\"\n")).clusters[0].failover.state_file.empty());
  }
}

TEST_CASE("format_duration and format_size give the largest exact unit", "[config]") {
  using config::format_duration;
  using config::format_size;
  CHECK(format_duration(0ms) == "0s");
  CHECK(format_duration(200ms) == "200ms");
  CHECK(format_duration(1500ms) == "1500ms");
  CHECK(format_duration(5s) == "5s");
  CHECK(format_duration(90s) == "90s");
  CHECK(format_duration(2min) == "2m");
  CHECK(format_duration(1h) == "1h");
  CHECK(format_size(0) == "0B");
  CHECK(format_size(1000) == "1000B");
  CHECK(format_size(1536 * 1024) == "1536KiB");
  CHECK(format_size(16u << 20) == "16MiB");
  CHECK(format_size(1u << 30) == "1GiB");
  // Each output reads back as the same value.
  for (auto d : {0ms, 200ms, 1500ms, 90000ms, 7200000ms}) {
    CHECK(config::parse_duration(format_duration(d)).value == d);
  }
  for (std::uint64_t n : {0ull, 1000ull, 1572864ull, 16777216ull, 3221225472ull}) {
    CHECK(config::parse_size(format_size(n)).value == n);
  }
}

TEST_CASE("normalize_function_name", "[config]") {
  using config::normalize_function_name;
  CHECK(normalize_function_name("NextVal").value == "nextval");
  CHECK(normalize_function_name("pg_advisory_lock*").value == "pg_advisory_lock*");
  CHECK(normalize_function_name("_x$1").value == "_x$1");
  CHECK_FALSE(normalize_function_name("").value);
  CHECK_FALSE(normalize_function_name("*").value);
  CHECK_FALSE(normalize_function_name("$x").value);
  CHECK_FALSE(normalize_function_name("9x").value);
  CHECK_FALSE(normalize_function_name("a b").value);
  CHECK_FALSE(normalize_function_name("a**").value);
  CHECK_THAT(normalize_function_name("pg_catalog.nextval").error, Catch::Contains("without its schema"));
}
