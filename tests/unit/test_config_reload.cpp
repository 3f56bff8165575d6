// Unit tests for plan_reload: which changes a reload applies live, which it refuses, and what it reports.
#include <catch2/catch.hpp>

#include "proxy/config/reload.hpp"
#include "tests/unit/config_testing.hpp"

using namespace baton::proxy;
using namespace baton::test;
using namespace std::chrono_literals;
using Lines = std::vector<std::string>;

namespace {

const std::string kRunning = R"(
[admin]
listen = "127.0.0.1:9930"
token = "admin-secret-1"

[[listeners]]
name = "pg"
listen = "127.0.0.1:6432"
cluster = "main"

[[listeners]]
name = "ro"
listen = "127.0.0.1:6433"
cluster = "main"
role = "replica"

[[clusters]]
name = "main"
monitor_user = "mon"
monitor_password = "monitor-secret-1"
  [[clusters.nodes]]
  name = "pg1"
  host = "127.0.0.1"
  port = 5432
  [[clusters.nodes]]
  name = "pg2"
  host = "127.0.0.1"
  port = 5433
  [[clusters.nodes]]
  name = "pg3"
  host = "127.0.0.1"
  port = 5434

[[users]]
name = "app"
password = "user-secret-1"

[[users]]
name = "report"
auth = "md5"
password = "user-secret-2"
)";

const Config& running() {
  static const Config c = load_ok(kRunning);
  return c;
}

ClusterConfig& main_cluster(Config& c) { return c.clusters.at(0); }

void print(const ReloadPlan& plan) {
  for (const auto& l : plan.applied) UNSCOPED_INFO("applied: " << l);
  for (const auto& l : plan.kept) UNSCOPED_INFO("kept: " << l);
}

// No line of the plan mentions `secret`.
void check_no_secret(const ReloadPlan& plan, const std::string& secret) {
  for (const auto& l : plan.applied) CHECK(l.find(secret) == std::string::npos);
  for (const auto& l : plan.kept) CHECK(l.find(secret) == std::string::npos);
}

}  // namespace

TEST_CASE("reload: the same configuration changes nothing", "[config][reload]") {
  ReloadPlan plan = plan_reload(running(), running());
  print(plan);
  CHECK(plan.applied.empty());
  CHECK(plan.kept.empty());
  CHECK_FALSE(plan.changed());
  CHECK(plan.effective.listeners.size() == 2);
  CHECK(plan.effective.clusters.at(0).nodes.size() == 3);
  CHECK(plan.effective.users.size() == 2);
}

TEST_CASE("reload: general settings", "[config][reload]") {
  Config fresh = running();
  fresh.general.log_level = "debug";
  fresh.general.client_login_timeout = 5s;
  fresh.general.shutdown_timeout = 1min;
  fresh.general.workers = 4;
  fresh.general.max_message_size = 1u << 20;
  ReloadPlan plan = plan_reload(running(), fresh);
  print(plan);
  CHECK(plan.applied == Lines{"general.log_level: \"info\" -> \"debug\"", "general.client_login_timeout: 15s -> 5s",
                              "general.shutdown_timeout: 30s -> 1m"});
  CHECK(plan.kept == Lines{"general.workers: cannot change while running (kept 0); restart baton to apply",
                           "general.max_message_size: cannot change while running (kept 64MiB); restart baton to apply"});
  CHECK(plan.changed());
  CHECK(plan.effective.general.log_level == "debug");
  CHECK(plan.effective.general.client_login_timeout == 5s);
  CHECK(plan.effective.general.shutdown_timeout == 1min);
  CHECK(plan.effective.general.workers == 0);
  CHECK(plan.effective.general.max_message_size == 64u << 20);
}

TEST_CASE("reload: admin token is live, its address and TLS are not", "[config][reload]") {
  SECTION("a changed token") {
    Config fresh = running();
    fresh.admin.token = "admin-secret-2";
    ReloadPlan plan = plan_reload(running(), fresh);
    CHECK(plan.applied == Lines{"admin: token changed"});
    CHECK(plan.kept.empty());
    CHECK(plan.effective.admin.token == "admin-secret-2");
    check_no_secret(plan, "admin-secret");
  }
  SECTION("a token removed, then set again") {
    Config fresh = running();
    fresh.admin.token.clear();
    ReloadPlan removed = plan_reload(running(), fresh);
    CHECK(removed.applied == Lines{"admin: token removed (POST endpoints refused)"});
    ReloadPlan set = plan_reload(fresh, running());
    CHECK(set.applied == Lines{"admin: token set (POST endpoints enabled)"});
    check_no_secret(set, "admin-secret");
  }
  SECTION("listen and tls") {
    Config fresh = running();
    fresh.admin.host = "0.0.0.0";
    fresh.admin.port = 9999;
    fresh.admin.tls_mode = AdminTlsMode::kRequire;
    fresh.admin.tls.cert_file = "/etc/baton/admin.pem";
    fresh.admin.tls.key_file = "/etc/baton/admin.key";
    ReloadPlan plan = plan_reload(running(), fresh);
    print(plan);
    CHECK(plan.applied.empty());
    CHECK(plan.kept == Lines{"admin.listen: cannot change while running (kept 127.0.0.1:9930); restart baton to apply",
                             "admin.tls: cannot change while running (kept mode disable); restart baton to apply"});
    CHECK(plan.effective.admin.host == "127.0.0.1");
    CHECK(plan.effective.admin.port == 9930);
    CHECK(plan.effective.admin.tls_mode == AdminTlsMode::kDisable);
    CHECK(plan.effective.admin.tls.cert_file.empty());
    // And back: the running files are named in the line.
    ReloadPlan back = plan_reload(fresh, running());
    CHECK(back.kept.at(1) ==
          "admin.tls: cannot change while running (kept mode require, cert_file /etc/baton/admin.pem, key_file "
          "/etc/baton/admin.key); restart baton to apply");
  }
}

TEST_CASE("reload: every pool setting is live", "[config][reload]") {
  Config fresh = running();
  PoolConfig& p = fresh.pool;
  p.mode = PoolMode::kSession;
  p.pool_size = 30;
  p.min_pool_size = 2;
  p.max_client_conn = 5000;
  p.max_concurrent_logins = 4;
  p.max_prepared_statements = 0;
  p.query_wait_timeout = 30s;
  p.client_idle_timeout = 1h;
  p.server_idle_timeout = 0s;
  p.server_lifetime = 2h;
  p.server_connect_timeout = 500ms;
  p.server_reset_query = "";
  ReloadPlan plan = plan_reload(running(), fresh);
  print(plan);
  CHECK(plan.kept.empty());
  CHECK(plan.applied == Lines{"pool.mode: transaction -> session",
                              "pool.pool_size: 20 -> 30",
                              "pool.min_pool_size: 0 -> 2",
                              "pool.max_client_conn: 1000 -> 5000",
                              "pool.max_concurrent_logins: 8 -> 4",
                              "pool.max_prepared_statements: 200 -> 0",
                              "pool.query_wait_timeout: 2m -> 30s",
                              "pool.client_idle_timeout: 0s -> 1h",
                              "pool.server_idle_timeout: 10m -> 0s",
                              "pool.server_lifetime: 1h -> 2h",
                              "pool.server_connect_timeout: 5s -> 500ms",
                              "pool.server_reset_query: \"DISCARD ALL\" -> \"\""});
  CHECK(plan.effective.pool.pool_size == 30);
  CHECK(plan.effective.pool.server_reset_query.empty());
}

TEST_CASE("reload: users are added, removed and changed live, without their secrets", "[config][reload]") {
  Config fresh = running();
  fresh.users.erase(fresh.users.begin() + 1);  // report
  UserConfig& app = fresh.users.at(0);
  app.password = "user-secret-3";
  app.server_password = "user-secret-4";
  app.auth = AuthMethod::kMd5;
  app.server_user = "app_rw";
  app.pool_mode = PoolMode::kSession;
  app.pool_size = 5;
  UserConfig bob;
  bob.name = "bob";
  bob.password = "user-secret-5";
  bob.server_user = "bob";
  bob.server_password = "user-secret-5";
  fresh.users.push_back(bob);
  ReloadPlan plan = plan_reload(running(), fresh);
  print(plan);
  CHECK(plan.kept.empty());
  CHECK(plan.applied == Lines{"users[app].auth: scram-sha-256 -> md5", "users[app]: password changed",
                              "users[app].server_user: \"app\" -> \"app_rw\"", "users[app]: server_password changed",
                              "users[app].pool_mode: (not set) -> session", "users[app].pool_size: (not set) -> 5",
                              "users[bob]: added", "users[report]: removed"});
  check_no_secret(plan, "user-secret");
  REQUIRE(plan.effective.users.size() == 2);
  CHECK(plan.effective.users[0].password == "user-secret-3");
  CHECK(plan.effective.find_user("bob") != nullptr);
  CHECK(plan.effective.find_user("report") == nullptr);

  SECTION("a password replaced by a SCRAM verifier") {
    Config verifier = running();
    verifier.users[0].password.clear();
    verifier.users[0].scram_verifier = "SCRAM-SHA-256$4096:c2FsdA==$a2V5:a2V5";
    ReloadPlan v = plan_reload(running(), verifier);
    CHECK(v.applied == Lines{"users[app]: password changed", "users[app]: scram_verifier changed"});
    check_no_secret(v, "SCRAM-SHA-256");
  }
}

TEST_CASE("reload: listeners keep their sockets; their routing keys are live", "[config][reload]") {
  SECTION("live keys") {
    Config fresh = running();
    fresh.listeners[0].pool_mode = PoolMode::kSession;
    fresh.listeners[1].replica_fallback = false;
    fresh.listeners[1].read_your_writes = true;
    ReloadPlan plan = plan_reload(running(), fresh);
    print(plan);
    CHECK(plan.kept.empty());
    CHECK(plan.applied == Lines{"listeners[pg].pool_mode: (not set) -> session",
                                "listeners[ro].replica_fallback: true -> false",
                                "listeners[ro].read_your_writes: false -> true"});
    CHECK(plan.effective.listeners[1].read_your_writes);
  }
  SECTION("fixed keys keep the running value") {
    Config fresh = running();
    ListenerConfig& l = fresh.listeners[0];
    l.port = 7432;
    l.role = ListenerRole::kPrimary;
    l.cluster = "other";
    l.protocol = Protocol::kMysql;
    l.tls_mode = ClientTlsMode::kRequire;
    l.tls.cert_file = "/c.pem";
    l.tls.key_file = "/k.pem";
    l.read_your_writes = true;
    ReloadPlan plan = plan_reload(running(), fresh);
    print(plan);
    CHECK(plan.kept == Lines{
        "listeners[pg].protocol: cannot change while running (kept postgres); restart baton to apply",
        "listeners[pg].listen: cannot change while running (kept 127.0.0.1:6432); restart baton to apply",
        "listeners[pg].cluster: cannot change while running (kept main); restart baton to apply",
        "listeners[pg].role: cannot change while running (kept split); restart baton to apply",
        "listeners[pg].tls: cannot change while running (kept mode disable); restart baton to apply"});
    CHECK(plan.applied == Lines{"listeners[pg].read_your_writes: false -> true"});
    const ListenerConfig& eff = plan.effective.listeners[0];
    CHECK(eff.port == 6432);
    CHECK(eff.role == ListenerRole::kSplit);
    CHECK(eff.cluster == "main");
    CHECK(eff.protocol == Protocol::kPostgres);
    CHECK(eff.tls_mode == ClientTlsMode::kDisable);
    CHECK(eff.tls.cert_file.empty());
    CHECK(eff.read_your_writes);
  }
  SECTION("added and removed listeners") {
    Config fresh = running();
    fresh.listeners.erase(fresh.listeners.begin() + 1);
    ListenerConfig extra = fresh.listeners[0];
    extra.name = "new";
    extra.port = 6500;
    fresh.listeners.push_back(extra);
    ReloadPlan plan = plan_reload(running(), fresh);
    print(plan);
    CHECK(plan.applied.empty());
    CHECK(plan.kept == Lines{
        "listeners[ro]: cannot remove a listener while running (kept, listening on 127.0.0.1:6433); restart baton "
        "to apply",
        "listeners[new]: cannot add a listener while running (not started); restart baton to apply"});
    REQUIRE(plan.effective.listeners.size() == 2);
    CHECK(plan.effective.listeners[0].name == "pg");
    CHECK(plan.effective.listeners[1].name == "ro");
  }
}

TEST_CASE("reload: cluster settings", "[config][reload]") {
  SECTION("routing keys are live; monitor credentials need a restart") {
    Config fresh = running();
    ClusterConfig& c = main_cluster(fresh);
    c.monitor_user = "mon2";
    c.monitor_password = "monitor-secret-2";
    c.monitor_database = "baton";
    c.max_replica_lag = 0;
    c.max_replica_lag_time = 2s;
    c.balancer = BalancerKind::kRoundRobin;
    c.volatile_functions = {"audit", "app_*"};
    ReloadPlan plan = plan_reload(running(), fresh);
    print(plan);
    CHECK(plan.kept == Lines{
        "clusters[main].monitor_user: cannot change while running (kept mon); restart baton to apply",
        "clusters[main].monitor_password: cannot change while running (the running value is kept); restart baton to "
        "apply",
        "clusters[main].monitor_database: cannot change while running (kept postgres); restart baton to apply"});
    CHECK(plan.applied == Lines{"clusters[main].max_replica_lag: 16MiB -> 0B",
                                "clusters[main].max_replica_lag_time: 10s -> 2s",
                                "clusters[main].balancer: p2c -> round_robin",
                                "clusters[main].volatile_functions: [] -> [audit, app_*]"});
    check_no_secret(plan, "monitor-secret");
    CHECK(main_cluster(plan.effective).monitor_password == "monitor-secret-1");
    CHECK(main_cluster(plan.effective).monitor_user == "mon");
    CHECK(main_cluster(plan.effective).balancer == BalancerKind::kRoundRobin);
  }
  SECTION("buffer_timeout is live; the monitor's settings and commands need a restart") {
    Config fresh = running();
    FailoverSettings& f = main_cluster(fresh).failover;
    f.mode = FailoverMode::kManual;
    f.state_file = "/var/lib/baton/main.state";
    f.probe_interval = 2s;
    f.suspect_interval = 500ms;
    f.probe_timeout = 3s;
    f.failures_before_down = 5;
    f.down_after = 10s;
    f.successes_before_up = 3;
    f.max_failover_lag = 1u << 30;
    f.promote_timeout = 1min;
    f.switchover_timeout = 90s;
    f.buffer_timeout = 0s;
    f.promote_command = "promote --password=hook-secret";
    f.fence_command = "fence --token=hook-secret";
    ReloadPlan plan = plan_reload(running(), fresh);
    print(plan);
    const std::string r = "; restart baton to apply";
    CHECK(plan.kept == Lines{
        "clusters[main].failover.mode: cannot change while running (kept auto)" + r,
        "clusters[main].failover.state_file: cannot change while running (kept none: in memory)" + r,
        "clusters[main].failover.probe_interval: cannot change while running (kept 1s)" + r,
        "clusters[main].failover.suspect_interval: cannot change while running (kept 200ms)" + r,
        "clusters[main].failover.probe_timeout: cannot change while running (kept 1s)" + r,
        "clusters[main].failover.failures_before_down: cannot change while running (kept 3)" + r,
        "clusters[main].failover.down_after: cannot change while running (kept 5s)" + r,
        "clusters[main].failover.successes_before_up: cannot change while running (kept 2)" + r,
        "clusters[main].failover.max_failover_lag: cannot change while running (kept 16MiB)" + r,
        "clusters[main].failover.promote_timeout: cannot change while running (kept 30s)" + r,
        "clusters[main].failover.switchover_timeout: cannot change while running (kept 30s)" + r,
        "clusters[main].failover.promote_command: cannot change while running (the running value is kept)" + r,
        "clusters[main].failover.fence_command: cannot change while running (the running value is kept)" + r});
    CHECK(plan.applied == Lines{"clusters[main].failover.buffer_timeout: 10s -> 0s"});
    check_no_secret(plan, "hook-secret");
    const FailoverSettings& eff = main_cluster(plan.effective).failover;
    CHECK(eff.mode == FailoverMode::kAuto);
    CHECK(eff.state_file.empty());
    CHECK(eff.probe_interval == 1s);
    CHECK(eff.buffer_timeout == 0s);
    CHECK(eff.fence_command.empty());
  }
  SECTION("protocol and server TLS are not live") {
    Config fresh = running();
    main_cluster(fresh).protocol = Protocol::kMysql;
    main_cluster(fresh).server_tls_mode = ServerTlsMode::kVerifyFull;
    main_cluster(fresh).server_tls.ca_file = "/ca.pem";
    ReloadPlan plan = plan_reload(running(), fresh);
    CHECK(plan.applied.empty());
    CHECK(plan.kept == Lines{
        "clusters[main].protocol: cannot change while running (kept postgres); restart baton to apply",
        "clusters[main].server_tls: cannot change while running (kept mode disable); restart baton to apply"});
    CHECK(main_cluster(plan.effective).protocol == Protocol::kPostgres);
    CHECK(main_cluster(plan.effective).server_tls_mode == ServerTlsMode::kDisable);
    CHECK(main_cluster(plan.effective).server_tls.ca_file.empty());
  }
  SECTION("clusters added and removed") {
    Config fresh = running();
    main_cluster(fresh).name = "renamed";
    ReloadPlan plan = plan_reload(running(), fresh);
    print(plan);
    CHECK(plan.applied.empty());
    CHECK(plan.kept == Lines{"clusters[main]: cannot remove a cluster while running (kept); restart baton to apply",
                             "clusters[renamed]: cannot add a cluster while running (not added); restart baton to apply"});
    REQUIRE(plan.effective.clusters.size() == 1);
    CHECK(plan.effective.clusters[0].name == "main");
    CHECK(plan.effective.clusters[0].nodes.size() == 3);
  }
}

TEST_CASE("reload: nodes", "[config][reload]") {
  SECTION("weight, priority and no_promote are live") {
    Config fresh = running();
    auto& nodes = main_cluster(fresh).nodes;
    nodes[1].weight = 3;
    nodes[2].priority = -5;
    nodes[2].no_promote = true;
    ReloadPlan plan = plan_reload(running(), fresh);
    print(plan);
    CHECK(plan.kept.empty());
    CHECK(plan.applied == Lines{"clusters[main].nodes[pg2].weight: 1 -> 3", "clusters[main].nodes[pg3].priority: 0 -> -5",
                                "clusters[main].nodes[pg3].no_promote: false -> true"});
    const auto& eff = main_cluster(plan.effective).nodes;
    CHECK(eff[1].weight == 3);
    CHECK(eff[2].priority == -5);
    CHECK(eff[2].no_promote);
  }
  SECTION("host and port are not") {
    Config fresh = running();
    auto& nodes = main_cluster(fresh).nodes;
    nodes[0].host = "10.0.0.1";
    nodes[1].port = 6543;
    nodes[1].weight = 2;
    ReloadPlan plan = plan_reload(running(), fresh);
    print(plan);
    CHECK(plan.kept == Lines{
        "clusters[main].nodes[pg1].host: cannot change while running (kept 127.0.0.1); restart baton to apply",
        "clusters[main].nodes[pg2].port: cannot change while running (kept 5433); restart baton to apply"});
    CHECK(plan.applied == Lines{"clusters[main].nodes[pg2].weight: 1 -> 2"});
    const auto& eff = main_cluster(plan.effective).nodes;
    CHECK(eff[0].host == "127.0.0.1");
    CHECK(eff[1].port == 5433);
    CHECK(eff[1].weight == 2);
  }
  SECTION("added, removed and renamed nodes") {
    Config fresh = running();
    auto& nodes = main_cluster(fresh).nodes;
    nodes[2].name = "pg3b";  // a rename: pg3 removed, pg3b added
    NodeConfig pg4 = nodes[0];
    pg4.name = "pg4";
    pg4.port = 5435;
    nodes.push_back(pg4);
    ReloadPlan plan = plan_reload(running(), fresh);
    print(plan);
    CHECK(plan.applied.empty());
    CHECK(plan.kept == Lines{
        "clusters[main].nodes[pg3b]: cannot add a node while running (not added); restart baton to apply",
        "clusters[main].nodes[pg4]: cannot add a node while running (not added); restart baton to apply",
        "clusters[main].nodes[pg3]: cannot remove a node while running (kept 127.0.0.1:5434); restart baton to apply"});
    const auto& eff = main_cluster(plan.effective).nodes;
    REQUIRE(eff.size() == 3);
    CHECK(eff[2].name == "pg3");
    CHECK(eff[2].port == 5434);
  }
  SECTION("the order of the nodes is kept") {
    Config fresh = running();
    auto& nodes = main_cluster(fresh).nodes;
    std::swap(nodes[0], nodes[1]);
    nodes[0].weight = 7;  // pg2, now first
    ReloadPlan plan = plan_reload(running(), fresh);
    print(plan);
    CHECK(plan.kept == Lines{
        "clusters[main].nodes: order cannot change while running (kept pg1, pg2, pg3); restart baton to apply"});
    CHECK(plan.applied == Lines{"clusters[main].nodes[pg2].weight: 1 -> 7"});
    const auto& eff = main_cluster(plan.effective).nodes;
    CHECK(eff[0].name == "pg1");
    CHECK(eff[1].name == "pg2");
    CHECK(eff[1].weight == 7);
  }
}

TEST_CASE("reload: two files as an operator edits them", "[config][reload]") {
  std::string edited = kRunning;
  auto replace = [&](const std::string& from, const std::string& to) {
    auto at = edited.find(from);
    REQUIRE(at != std::string::npos);
    edited.replace(at, from.size(), to);
  };
  replace("listen = \"127.0.0.1:6432\"", "listen = \"127.0.0.1:7432\"");
  replace("password = \"user-secret-1\"", "password = \"user-secret-9\"\npool_size = 30");
  replace("  port = 5433\n", "  port = 5433\n  weight = 3\n");
  Config fresh = load_ok(edited);
  ReloadPlan plan = plan_reload(running(), fresh);
  print(plan);
  // server_password follows password when not given, so the server login changes too.
  CHECK(plan.applied == Lines{"clusters[main].nodes[pg2].weight: 1 -> 3", "users[app]: password changed",
                              "users[app]: server_password changed", "users[app].pool_size: (not set) -> 30"});
  CHECK(plan.kept ==
        Lines{"listeners[pg].listen: cannot change while running (kept 127.0.0.1:6432); restart baton to apply"});
  CHECK(plan.effective.listeners[0].port == 6432);
  CHECK(plan.effective.users[0].pool_size == std::optional<int>(30));
  check_no_secret(plan, "user-secret");
}
