// Integration tests of read/write splitting through baton on real three-node PostgreSQL clusters.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using baton::test::BatonProcess;
using baton::test::free_port;
using baton::test::PgCluster;
using baton::test::run;
using baton::test::RunResult;
using baton::test::shell_quote;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

constexpr const char* kPgbench = "/usr/lib/postgresql/15/bin/pgbench";

std::string split_config(const PgCluster& c, int port, const std::string& cluster_extra = "",
                         const std::string& listener_extra = "") {
  std::string nodes;
  for (int node = 0; node < c.node_count(); ++node) {
    nodes += "  [[clusters.nodes]]\n  name = \"node" + std::to_string(node) + "\"\n  host = \"127.0.0.1\"\n  port = " +
             std::to_string(c.port(node)) + "\n";
  }
  return "[general]\nworkers = 2\n\n[admin]\nlisten = \"127.0.0.1:" + std::to_string(free_port()) +
         "\"\n\n[pool]\nmode = \"transaction\"\npool_size = 6\n\n[[listeners]]\nname = \"pg\"\nlisten = \"127.0.0.1:" +
         std::to_string(port) + "\"\ncluster = \"main\"\nrole = \"split\"\n" + listener_extra +
         "\n[[clusters]]\nname = \"main\"\nmonitor_user = \"baton_monitor\"\nmonitor_password = \"monitor-secret\"\n" +
         "failover = { probe_interval = \"500ms\" }\n" + cluster_extra + nodes +
         "\n[[users]]\nname = \"app\"\npassword = \"app-secret\"\n";
}

// Waits (bounded) until a read through baton lands on a standby: the monitor has published them.
void wait_standbys(const PgCluster& c, int port) {
  for (int i = 0; i < 100; ++i) {
    RunResult r = run("PGPASSWORD=app-secret /usr/lib/postgresql/15/bin/psql 'host=127.0.0.1 port=" +
                          std::to_string(port) + " user=app dbname=app sslmode=disable' -XAtqc 'SELECT pg_is_in_recovery()'",
                      20s);
    if (r.output == "t\n") return;
    std::this_thread::sleep_for(100ms);
  }
  FAIL("no read reached a standby within 10 s");
}

std::map<std::string, long> counts(const json::value& v, const char* key) {
  std::map<std::string, long> out;
  if (const json::object* o = v.as_object().if_contains(key) ? &v.at(key).as_object() : nullptr) {
    for (const auto& kv : *o) out[std::string(kv.key())] = static_cast<long>(kv.value().as_int64());
  }
  return out;
}

long xact_commits(const PgCluster& c, int node) {
  return std::stol(c.query(node, "SELECT pg_stat_clear_snapshot(); SELECT xact_commit FROM pg_stat_database "
                                 "WHERE datname = 'app'",
                           "postgres"));
}

}  // namespace

TEST_CASE("split listener: reads spread over both standbys, writes and unsafe reads on the primary", "[routing]") {
  PgCluster& c = PgCluster::shared();
  c.query(0, "DROP TABLE IF EXISTS route_rows; CREATE TABLE route_rows (port int);"
             "DROP SEQUENCE IF EXISTS route_seq; CREATE SEQUENCE route_seq;"
             "GRANT ALL ON route_rows, route_seq TO app;");
  c.wait_replicated();
  const int port = free_port();
  BatonProcess baton(split_config(c, port), {port});
  wait_standbys(c, port);

  RunResult r = run("/usr/bin/python3 -B " +
                        shell_quote(baton::test::source_dir() + "/tests/integration/clients/route_probe.py") + " " +
                        std::to_string(port) + " 200",
                    120s);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  json::value out = json::parse(r.output);
  const std::string p0 = std::to_string(c.port(0)), p1 = std::to_string(c.port(1)), p2 = std::to_string(c.port(2));

  auto reads = counts(out, "read");
  CHECK(reads[p0] == 0);
  CHECK(reads[p1] + reads[p2] == 200);
  CHECK(reads[p1] >= 40);  // p2c over two idle standbys: both get a share
  CHECK(reads[p2] >= 40);
  auto with_param = counts(out, "read_with_parameter");
  CHECK(with_param[p1] + with_param[p2] == 20);
  // Everything that must not run on a standby ran on the primary.
  for (const char* key : {"write", "volatile", "for_update", "hint_primary", "cte_insert", "in_transaction"}) {
    INFO(key);
    auto m = counts(out, key);
    CHECK(m.size() == 1);
    CHECK(m.begin()->first == p0);
  }
  auto ro = counts(out, "read_only_transaction");
  CHECK(ro[p1] + ro[p2] == 10);  // whole read-only transactions on one standby each
  // On the servers: the primary holds all 30 rows written through baton.
  CHECK(c.query(0, "SELECT count(*) FROM route_rows") == "30");

  // Pipelined: a read then a write, each its own request, sent before any answer came back. The
  // read may take a standby; the write waits for it to be given back and goes to the primary.
  RunResult pipe = run("/usr/bin/python3 -B " +
                           shell_quote(baton::test::source_dir() + "/tests/integration/clients/pipeline_route.py") +
                           " " + std::to_string(port) + " 20",
                       60s);
  INFO(pipe.output);
  REQUIRE(pipe.exit_code == 0);
  // (Where the reads go depends on how the driver's bytes arrive: a request not yet whole in the
  // buffer goes to the primary. The writes must never go elsewhere.)
  CHECK_THAT(pipe.output, Catch::Contains("write_ports=" + p0 + "\n"));
  CHECK(c.query(0, "SELECT count(*) FROM route_rows WHERE port = " + p0) == "40");  // 20 + 20 writes; the CTE rows have port 0

  // The same two requests in one write to the socket: the read is judged alone, the write waits
  // for the standby to be given back.
  RunResult raw = run("/usr/bin/python3 -B " +
                          shell_quote(baton::test::source_dir() + "/tests/integration/clients/raw_pipeline.py") +
                          " " + std::to_string(port) + " 20",
                      60s);
  INFO(raw.output);
  REQUIRE(raw.exit_code == 0);
  CHECK_THAT(raw.output, Catch::Contains("write_ports=" + p0 + "\n"));
  CHECK_THAT(raw.output, Catch::Contains("\nerrors=0\n"));
  CHECK_THAT(raw.output, Catch::Contains("read_only_tx_errors=25006\n"));
  CHECK_THAT(raw.output, !Catch::Contains("read_ports=" + p0 + "\n"));
}

TEST_CASE("round_robin: sequential reads alternate between the standbys, pooled connections or not",
          "[routing]") {
  PgCluster& c = PgCluster::shared();
  const int port = free_port();
  BatonProcess baton(split_config(c, port, "balancer = \"round_robin\"\n"), {port});
  wait_standbys(c, port);
  // One psql per read: each a new client, so whether the chosen standby has an idle pooled
  // connection varies (a read that must open one takes the same standby as one that finds one).
  std::map<std::string, int> hits;
  for (int i = 0; i < 20; ++i) {
    RunResult r = run("PGPASSWORD=app-secret /usr/lib/postgresql/15/bin/psql 'host=127.0.0.1 port=" +
                          std::to_string(port) + " user=app dbname=app sslmode=disable' -XAtqc " +
                          shell_quote("SELECT inet_server_port()"),
                      20s);
    REQUIRE(r.exit_code == 0);
    ++hits[r.output];
  }
  const std::string p1 = std::to_string(c.port(1)) + "\n", p2 = std::to_string(c.port(2)) + "\n";
  INFO("node1 " << hits[p1] << ", node2 " << hits[p2]);
  CHECK(hits[p1] + hits[p2] == 20);
  // Strict alternation but for the one read wait_standbys() made: 10 each, give or take one.
  CHECK(hits[p1] >= 9);
  CHECK(hits[p2] >= 9);
}

TEST_CASE("pgbench -S through a split listener: the standbys' own counters take the reads", "[routing]") {
  PgCluster& c = PgCluster::shared();
  REQUIRE(run(std::string(kPgbench) + " -i -s 1 -q 'host=" + c.socket_dir() + " port=" + std::to_string(c.port(0)) +
                  " user=app dbname=app' 2>&1",
              120s)
              .exit_code == 0);
  c.wait_replicated();
  const int port = free_port();
  BatonProcess baton(split_config(c, port), {port});
  wait_standbys(c, port);
  for (const char* mode : {"extended", "prepared"}) {
    INFO("pgbench -M " << mode);
    long before[3];
    for (int n = 0; n < 3; ++n) before[n] = xact_commits(c, n);
    RunResult b = run("PGPASSWORD=app-secret " + std::string(kPgbench) + " -n -S -M " + mode +
                          " -c 4 -j 4 -t 200 'host=127.0.0.1 port=" + std::to_string(port) +
                          " user=app dbname=app sslmode=disable' 2>&1",
                      120s);
    INFO(b.output);
    REQUIRE(b.exit_code == 0);
    CHECK_THAT(b.output, Catch::Contains("number of failed transactions: 0"));
    // An idle backend flushes its statistics within PGSTAT_IDLE_INTERVAL (10 s): poll, bounded.
    long delta[3] = {0, 0, 0};
    for (int i = 0; i < 60; ++i) {
      for (int n = 0; n < 3; ++n) delta[n] = xact_commits(c, n) - before[n];
      if (delta[1] + delta[2] >= 800) break;
      std::this_thread::sleep_for(500ms);
    }
    INFO("xact_commit deltas: " << delta[0] << " " << delta[1] << " " << delta[2]);
    CHECK(delta[1] + delta[2] >= 800);
    CHECK(delta[1] >= 100);
    CHECK(delta[2] >= 100);
    CHECK(delta[0] < 50);  // the primary saw no pgbench reads (only baton's own parameter syncs, if any)
  }
}

TEST_CASE("a lagging standby leaves rotation and comes back; a stopped one too", "[routing]") {
  PgCluster c({.replicas = 2});
  c.query(0, "CREATE TABLE lag_rows (n int); GRANT ALL ON lag_rows TO app;");
  c.wait_replicated();
  const int port = free_port();
  BatonProcess baton(split_config(c, port, "max_replica_lag_time = \"2s\"\n"), {port});
  wait_standbys(c, port);
  const std::string p1 = std::to_string(c.port(1)), p2 = std::to_string(c.port(2));
  auto reads = [&](int n) {
    RunResult r = run("/usr/bin/python3 -B " +
                          shell_quote(baton::test::source_dir() + "/tests/integration/clients/route_probe.py") + " " +
                          std::to_string(port) + " " + std::to_string(n) + " reads-only",
                      60s);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    return counts(json::parse(r.output), "read");
  };

  // node2 applies WAL 10 s late; with writes flowing its replay lag passes 2 s.
  c.query(2, "ALTER SYSTEM SET recovery_min_apply_delay = '10s'; SELECT pg_reload_conf();", "postgres");
  bool lagging = false;
  for (int i = 0; i < 80 && !lagging; ++i) {
    c.query(0, "INSERT INTO lag_rows VALUES (1)");
    std::this_thread::sleep_for(250ms);
    auto m = reads(10);
    lagging = m[p2] == 0 && m[p1] == 10;
  }
  CHECK(lagging);
  auto during = reads(100);
  CHECK(during[p1] == 100);
  CHECK(during[p2] == 0);
  // Caught up again: back in rotation.
  c.query(2, "ALTER SYSTEM RESET recovery_min_apply_delay; SELECT pg_reload_conf();", "postgres");
  c.wait_replicated(60s);
  bool back = false;
  for (int i = 0; i < 80 && !back; ++i) {
    std::this_thread::sleep_for(250ms);
    back = reads(20)[p2] > 0;
  }
  CHECK(back);

  // A stopped standby: the reads that find it dead fail or go elsewhere; soon all go to node1.
  c.signal_node(2, SIGSTOP, PgCluster::SignalScope::kServer);
  std::this_thread::sleep_for(4s);  // probes time out, the monitor marks it down
  auto stopped = reads(50);
  c.signal_node(2, SIGCONT, PgCluster::SignalScope::kServer);
  CHECK(stopped[p1] == 50);
  CHECK(stopped[p2] == 0);
}

TEST_CASE("read-your-writes: a session reads its own rows at once while the standbys lag", "[routing]") {
  PgCluster c({.replicas = 2});
  c.query(0, "CREATE TABLE ryw_rows (id bigint); GRANT ALL ON ryw_rows TO app;");
  c.wait_replicated();
  for (int n = 1; n <= 2; ++n) {
    c.query(n, "ALTER SYSTEM SET recovery_min_apply_delay = '2s'; SELECT pg_reload_conf();", "postgres");
  }
  const std::string p0 = std::to_string(c.port(0));
  auto probe = [&](bool ryw) {
    const int port = free_port();
    BatonProcess baton(split_config(c, port, "", ryw ? "read_your_writes = true\n" : ""), {port});
    wait_standbys(c, port);
    RunResult r = run("/usr/bin/python3 -B " +
                          shell_quote(baton::test::source_dir() + "/tests/integration/clients/ryw_probe.py") + " " +
                          std::to_string(port) + " ryw_rows 20",
                      120s);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    return json::parse(r.output);
  };
  // Without it, reads of rows just written go to standbys 2 s behind: they miss them.
  json::value without = probe(false);
  CHECK(without.at("misses").as_int64() >= 10);
  // With it, every read sees its row (the primary serves until a standby has replayed the write)...
  json::value with = probe(true);
  CHECK(with.at("misses").as_int64() == 0);
  CHECK(with.at("read_ports").as_object().contains(p0));
  // ...and once the standbys have caught up, reads go back to them.
  CHECK(std::to_string(with.at("later_read_port").as_int64()) != p0);
}

TEST_CASE("target_session_attrs from the client picks primary or standbys for its session", "[routing]") {
  PgCluster& c = PgCluster::shared();
  const int port = free_port();
  BatonProcess baton(split_config(c, port), {port});
  wait_standbys(c, port);
  auto ask = [&](const std::string& attrs, const std::string& sql) {
    return run("PGOPTIONS=" + shell_quote("-c target_session_attrs=" + attrs) +
                   " PGPASSWORD=app-secret /usr/lib/postgresql/15/bin/psql 'host=127.0.0.1 port=" +
                   std::to_string(port) + " user=app dbname=app sslmode=disable' -XAtqc " + shell_quote(sql) + " 2>&1",
               30s);
  };
  // read-write: even a plain read runs on the primary.
  RunResult rw = ask("read-write", "SELECT pg_is_in_recovery()");
  CHECK(rw.output == "f\n");
  // read-only / standby: a standby, for writes too (which fail there, as on any read-only server).
  CHECK(ask("read-only", "SELECT pg_is_in_recovery()").output == "t\n");
  RunResult write = ask("standby", "CREATE TEMP TABLE t (x int)");
  CHECK_THAT(write.output, Catch::Contains("read-only transaction"));
  CHECK(ask("prefer-standby", "SELECT pg_is_in_recovery()").output == "t\n");
  CHECK(ask("any", "SELECT pg_is_in_recovery()").output == "t\n");  // the split listener's rule
  RunResult bad = ask("sometimes", "SELECT 1");
  CHECK(bad.exit_code != 0);
  CHECK_THAT(bad.output, Catch::Contains("invalid value for parameter \"target_session_attrs\": \"sometimes\""));
}
