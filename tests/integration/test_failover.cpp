// Failover under write load on real three-node PostgreSQL 15 clusters: kill -9, a hung primary, a planned switchover.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <optional>
#include <regex>
#include <string>
#include <thread>

#include "tests/integration/harness.hpp"
#include "tests/integration/json_fields.hpp"

using baton::test::BatonProcess;
using baton::test::HttpResult;
using baton::test::PgCluster;
using baton::test::RunResult;
using baton::test::free_port;
using baton::test::integer;
using baton::test::num;
using baton::test::parse_object;
using baton::test::str;
using baton::test::value_of;
using baton::test::wait_until;
using baton::test::http_request;
using baton::test::run;
using baton::test::shell_quote;

namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kToken = "failover-test-token";
constexpr int kWriters = 4;
constexpr const char* kTable = "failover_rows";

std::string write_load_script() { return baton::test::source_dir() + "/tests/integration/clients/write_load.py"; }

double epoch_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// baton with automatic failover in front of the cluster: one primary-role listener, admin API
// with a token, the failover settings written out (they are the documented defaults).
std::string failover_config(const PgCluster& c, int listen_port, int admin_port) {
  std::string nodes;
  for (int node = 0; node < c.node_count(); ++node) {
    nodes += "  [[clusters.nodes]]\n  name = \"node" + std::to_string(node) + "\"\n  host = \"127.0.0.1\"\n  port = " +
             std::to_string(c.port(node)) + "\n";
  }
  return "[general]\nworkers = 2\nlog_level = \"info\"\nshutdown_timeout = \"5s\"\n"
         "\n[admin]\nlisten = \"127.0.0.1:" + std::to_string(admin_port) + "\"\ntoken = \"" + kToken + "\"\n" +
         "\n[pool]\nmode = \"transaction\"\npool_size = 8\nmax_client_conn = 100\n"
         "\n[[listeners]]\nname = \"pg\"\nlisten = \"127.0.0.1:" + std::to_string(listen_port) +
         "\"\ncluster = \"main\"\nrole = \"primary\"\n"
         "\n[[clusters]]\nname = \"main\"\nmonitor_user = \"baton_monitor\"\nmonitor_password = \"monitor-secret\"\n"
         "  [clusters.failover]\n"
         "  mode = \"auto\"\n"
         "  probe_interval = \"1s\"\n"
         "  suspect_interval = \"200ms\"\n"
         "  probe_timeout = \"1s\"\n"
         "  failures_before_down = 3\n"
         "  down_after = \"5s\"\n"
         "  max_failover_lag = \"16MiB\"\n"
         "  promote_timeout = \"30s\"\n"
         "  buffer_timeout = \"10s\"\n"
         "  state_file = \"failover.state\"\n" +
         nodes + "\n[[users]]\nname = \"app\"\npassword = \"app-secret\"\n";
}

// GET /readyz answers 200 once baton knows a primary.
bool wait_ready(int admin_port, std::chrono::seconds timeout) {
  return wait_until(timeout, [&] { return http_request(admin_port, "GET", "/readyz", "", "", 2000ms).status == 200; });
}

// The node named `name` in GET /api/v1/nodes (empty when the API does not answer or lists no such node).
json::object admin_node(int admin_port, const std::string& name) {
  HttpResult r = http_request(admin_port, "GET", "/api/v1/nodes", "", "", 3000ms);
  if (r.status != 200) return {};
  json::object all = parse_object(r.body);
  const json::value* nodes = all.if_contains("nodes");
  if (nodes == nullptr || !nodes->is_array()) return {};
  for (const json::value& n : nodes->as_array()) {
    if (n.is_object() && str(n.as_object(), "name") == name) return n.as_object();
  }
  return {};
}

// write_load.py run through baton, in the background.
class WriteLoad {
 public:
  WriteLoad(int port, int writers) : dir_(baton::test::make_temp_dir("baton-load-")) {
    const std::string cmd = std::string(kPython) + " -B " + shell_quote(write_load_script()) + " run --port " +
                            std::to_string(port) + " --table " + kTable + " --writers " + std::to_string(writers) +
                            " --status " + shell_quote(dir_ + "/status.json") + " --stop-file " +
                            shell_quote(dir_ + "/stop") + " --fault-file " + shell_quote(dir_ + "/fault") +
                            " --out " + shell_quote(dir_ + "/summary.json") + " --max-seconds 150";
    job_ = std::async(std::launch::async, [cmd] { return run(cmd, 200s); });
  }
  ~WriteLoad() {
    if (job_.valid()) {
      std::ofstream(dir_ + "/stop") << "stop\n";
      job_.wait_for(30s);
    }
    run("rm -rf " + shell_quote(dir_));
  }
  WriteLoad(const WriteLoad&) = delete;
  WriteLoad& operator=(const WriteLoad&) = delete;

  json::object status() const { return parse_object(baton::test::read_file(dir_ + "/status.json")); }
  long long acked() const { return integer(status(), "acked"); }
  long long last_ack_port() const { return integer(status(), "last_ack_port"); }
  bool finished_early() const { return job_.valid() && job_.wait_for(0s) == std::future_status::ready; }

  void mark_fault(double epoch) const {
    char text[64];
    std::snprintf(text, sizeof text, "%.6f\n", epoch);
    std::ofstream(dir_ + "/fault") << text;
  }

  // Ends the run and returns its summary (empty when there is none; output_ says why).
  json::object stop() {
    std::ofstream(dir_ + "/stop") << "stop\n";
    if (job_.wait_for(60s) != std::future_status::ready) {
      output_ = "write_load.py did not finish within 60 s of the stop file";
      return {};
    }
    RunResult r = job_.get();
    output_ = r.output;
    return parse_object(baton::test::read_file(dir_ + "/summary.json"));
  }
  const std::string& output() const { return output_; }

  // write_load.py verify against one node directly: {acked, present, lost, lost_ids, ...}.
  json::object verify(int node_port) const {
    RunResult r = run(std::string(kPython) + " -B " + shell_quote(write_load_script()) + " verify --summary " +
                          shell_quote(dir_ + "/summary.json") + " --port " + std::to_string(node_port),
                      60s);
    if (r.exit_code != 0) std::cout << "write_load.py verify failed:\n" << r.output << "\n";
    return parse_object(r.output);
  }

 private:
  std::string dir_;
  std::future<RunResult> job_;
  std::string output_;
};

// Client backends of user app on `node` that started, or began a statement, at or after the
// server time `since` (a timestamptz literal): work the node received after that moment.
int app_work_since(const PgCluster& c, int node, const std::string& since) {
  RunResult r = c.psql(node,
                       "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND usename = 'app' "
                       "AND (backend_start >= '" + since + "' OR query_start >= '" + since + "')",
                       "postgres");
  if (r.exit_code != 0) return -1;
  return std::stoi(r.output);
}

// True while `pid` runs (a zombie waiting to be reaped does not count).
bool process_running(pid_t pid) {
  std::string stat = baton::test::read_file("/proc/" + std::to_string(pid) + "/stat");
  std::size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

long long row_count(const PgCluster& c, int node) {
  RunResult r = c.psql(node, std::string("SELECT count(*) FROM ") + kTable);
  if (r.exit_code != 0) return -1;
  return std::stoll(r.output);
}

// The node (other than `except`) that reports itself primary, or -1.
int find_primary(const PgCluster& c, int except) {
  for (int node = 0; node < c.node_count(); ++node) {
    if (node != except && c.is_primary(node)) return node;
  }
  return -1;
}

// Checks the errors the writers saw: only in-flight transactions on the dead primary may fail,
// each with SQLSTATE 08006 and a message that says a failover happened; no connection is closed.
// After a kill (`killed_at`), a transaction begun 100 ms or more after both the kill and the old
// primary's last acknowledged write must wait for the new primary, not fail. (Backends serve on
// until they notice their postmaster is gone, within milliseconds on a quiet machine, hundreds of
// them on a busy one; until then a transaction may reach one, pass the pool's check and lose it.)
// A frozen primary takes new transactions until it is found down, so there only the count is checked.
void check_client_errors(const json::object& summary, std::optional<double> killed_at = std::nullopt) {
  std::optional<double> started_by = killed_at;
  if (killed_at) {
    const json::value* fault = summary.if_contains("fault");
    REQUIRE((fault != nullptr && fault->is_object()));
    started_by = std::max(*killed_at, num(fault->as_object(), "last_ack_on_old_port_epoch"));
  }
  const long long errors = integer(summary, "errors_total");
  CHECK(errors <= kWriters);  // at most one transaction in flight per writer
  CHECK(integer(summary, "reconnects") == 0);
  CHECK(integer(summary, "stuck_writers") == 0);
  if (const json::value* list = summary.if_contains("errors"); list != nullptr && list->is_array()) {
    for (const json::value& e : list->as_array()) {
      const json::object& err = e.as_object();
      INFO("client error: " << json::serialize(err));
      CHECK(str(err, "sqlstate") == "08006");
      // "failover", "fails over", "failed over", ...
      CHECK(std::regex_search(str(err, "message"), std::regex("fail(s|ed)?[ -]?over", std::regex::icase)));
      CHECK_FALSE(err.at("connection_closed").as_bool());
      if (started_by) CHECK(num(err, "started_epoch") <= *started_by + 0.1);
    }
  }
}

enum class Replication { kAsync, kSync };
enum class Fault { kKill, kHang };

std::string describe(Replication r, Fault f) {
  return std::string(r == Replication::kSync ? "sync" : "async") + ", " +
         (f == Fault::kKill ? "kill -9 of the primary's postmaster" : "SIGSTOP of the whole primary server");
}

void print_figures(const std::string& what, const json::object& summary, const std::string& lost) {
  const json::value* fault = summary.if_contains("fault");
  std::string resume = "-", window = "-";
  if (fault != nullptr && fault->is_object()) {
    double r = num(fault->as_object(), "resume_ms"), w = num(fault->as_object(), "window_ms");
    if (!std::isnan(r)) resume = std::to_string(static_cast<long long>(r)) + " ms";
    if (!std::isnan(w)) window = std::to_string(static_cast<long long>(w)) + " ms";
  }
  std::cout << "[failover] " << what << ": longest gap between acks " << num(summary, "max_gap_ms")
            << " ms; fault -> first write acked elsewhere " << resume << "; last ack before -> first after "
            << window << "; acked " << integer(summary, "acked") << ", client errors "
            << integer(summary, "errors_total") << " " << json::serialize(summary.at("errors_by_sqlstate"))
            << ", lost " << lost << "\n"
            << std::flush;
}

// One crash or hang of the primary under write load through baton; see the test cases below.
void fail_primary_under_load(Replication replication, Fault fault) {
  PgCluster c(PgCluster::Options{.replicas = 2, .synchronous = replication == Replication::kSync, .tls = false});
  if (fault == Fault::kHang) {
    // A frozen primary keeps its replication connections open: the standbys' WAL receivers say
    // 'streaming' until wal_receiver_timeout (60 s by default) passes, and the witness check
    // believes them (no failover while most standbys still stream). 3 s bounds the test.
    for (int k = 1; k < c.node_count(); ++k) {
      c.query(k, "ALTER SYSTEM SET wal_receiver_timeout = '3s'", "postgres");
      c.query(k, "SELECT pg_reload_conf()", "postgres");
    }
  }
  const int listen_port = free_port();
  const int admin_port = free_port();
  BatonProcess baton(failover_config(c, listen_port, admin_port), {listen_port, admin_port});
  REQUIRE(wait_ready(admin_port, 30s));

  WriteLoad load(listen_port, kWriters);
  REQUIRE(wait_until(30s, [&] { return load.acked() >= 200 || load.finished_early(); }));
  REQUIRE(load.last_ack_port() == c.port(0));

  // The fault.
  const int old_port = c.port(0);
  const double fault_epoch = epoch_now();
  if (fault == Fault::kKill) {
    c.signal_node(0, SIGKILL);
  } else {
    c.signal_node(0, SIGSTOP, PgCluster::SignalScope::kServer);
  }
  load.mark_fault(fault_epoch);

  // Writes resume on another node.
  const bool moved = wait_until(45s, [&] {
    long long p = load.last_ack_port();
    return (p > 0 && p != old_port) || load.finished_early();
  });
  CHECK(moved);
  int new_primary = -1;
  wait_until(15s, [&] { return (new_primary = find_primary(c, 0)) > 0; });
  REQUIRE(new_primary > 0);
  const int new_port = c.port(new_primary);
  std::this_thread::sleep_for(1s);

  // The old primary comes back: as a primary on its old timeline after the kill, or thawed
  // (with whatever it was doing when it froze) after the hang.
  if (fault == Fault::kKill) {
    c.start_node(0);
  } else {
    c.signal_node(0, SIGCONT, PgCluster::SignalScope::kServer);
  }
  // (baton fences the returning node and ends every client session there: ours too when the two
  // meet, which a busy machine makes likely. Asked again then, at most three times.)
  std::string returned_at;
  for (int attempt = 1;; ++attempt) {
    try {
      returned_at = c.query(0, "SELECT clock_timestamp()", "postgres");
      break;
    } catch (const std::exception& e) {
      if (attempt == 3 || std::string(e.what()).find("terminating connection due to administrator command") ==
                              std::string::npos) {
        throw;
      }
      std::this_thread::sleep_for(200ms);
    }
  }
  std::this_thread::sleep_for(1s);  // work frozen in the old primary's backends finishes
  const long long rows_before = row_count(c, 0);
  const long long acked_before = load.acked();
  // While the load goes on, the old primary gets nothing: no row, no session, no statement.
  std::this_thread::sleep_for(2500ms);
  CHECK(load.acked() > acked_before);
  CHECK(row_count(c, 0) == rows_before);
  CHECK(app_work_since(c, 0, returned_at) == 0);

  // The admin API reports the old primary fenced and the new one primary.
  json::object old_node, new_node;
  const bool fenced = wait_until(15s, [&] {
    old_node = admin_node(admin_port, "node0");
    return str(old_node, "health") == "fenced";
  });
  INFO("node0 in /api/v1/nodes: " << json::serialize(old_node));
  CHECK(fenced);
  new_node = admin_node(admin_port, "node" + std::to_string(new_primary));
  INFO("new primary in /api/v1/nodes: " << json::serialize(new_node));
  CHECK(str(new_node, "role") == "primary");

  const json::object summary = load.stop();
  INFO("write_load.py output:\n" << load.output());
  REQUIRE_FALSE(summary.empty());

  // Writes after the failover were taken by the new primary: on the server, and as the client saw it.
  CHECK(std::stoll(c.query(new_primary, std::string("SELECT count(*) FROM ") + kTable + " WHERE port = " +
                                            std::to_string(new_port))) > 0);
  CHECK(integer(summary, "last_ack_port") == new_port);

  // The idle client's next query works on the same connection, on the new primary.
  const json::value* idle = summary.if_contains("idle");
  REQUIRE((idle != nullptr && idle->is_object()));
  INFO("idle client: " << json::serialize(*idle));
  CHECK(idle->as_object().at("ok").as_bool());
  CHECK(integer(idle->as_object(), "port") == new_port);

  check_client_errors(summary, fault == Fault::kKill ? std::optional<double>(fault_epoch) : std::nullopt);

  // Acknowledged writes on the new primary, row by row.
  const json::object verified = load.verify(new_port);
  INFO("verify on the new primary: " << json::serialize(verified));
  REQUIRE_FALSE(verified.empty());
  CHECK(integer(verified, "acked") == integer(summary, "acked"));
  if (replication == Replication::kSync) CHECK(integer(verified, "lost") == 0);
  print_figures(describe(replication, fault) + ", node" + std::to_string(new_primary) + " promoted", summary,
                std::to_string(integer(verified, "lost")));
}

}  // namespace

TEST_CASE("failover: kill -9 of the primary, async replication", "[failover]") {
  fail_primary_under_load(Replication::kAsync, Fault::kKill);
}

TEST_CASE("failover: kill -9 of the primary, sync replication loses no acknowledged write", "[failover]") {
  fail_primary_under_load(Replication::kSync, Fault::kKill);
}

TEST_CASE("failover: a hung primary (SIGSTOP), async replication", "[failover]") {
  fail_primary_under_load(Replication::kAsync, Fault::kHang);
}

TEST_CASE("failover: a hung primary (SIGSTOP), sync replication loses no acknowledged write", "[failover]") {
  fail_primary_under_load(Replication::kSync, Fault::kHang);
}

TEST_CASE("failover: a login the primary refuses while it shuts down (57P03) waits for the node; the client stays",
          "[failover]") {
  // One node, failover only reported: the statement can only wait for this node to come back.
  PgCluster c(PgCluster::Options{.replicas = 0});
  const int listen_port = free_port();
  const int admin_port = free_port();
  std::string conf = failover_config(c, listen_port, admin_port);
  const std::string automatic = "mode = \"auto\"";
  REQUIRE(conf.find(automatic) != std::string::npos);
  conf.replace(conf.find(automatic), automatic.size(), "mode = \"manual\"");
  BatonProcess baton(conf, {listen_port});
  REQUIRE(wait_ready(admin_port, 30s));

  const RunResult r = baton::test::run_client(
      "node_restart_login.py", std::to_string(listen_port) + " " + std::to_string(c.port(0)) + " " +
                                   shell_quote(baton::test::source_dir() + "/tests/fixtures/pg_cluster.sh") + " " +
                                   shell_quote(c.dir()));
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(value_of(r.output, "login_refused") == "shutting down");
  CHECK(value_of(r.output, "restart_error") == "None");
  // Ended with FATAL 57P03 before: a refused login was taken for a refusal of the client.
  CHECK(value_of(r.output, "error") == "None");
  CHECK(value_of(r.output, "closed") == "0");
  CHECK(value_of(r.output, "new_backend") == "1");
  CHECK(std::atoi(value_of(r.output, "waited_ms").c_str()) >= 900);  // it waited out the shutdown
  CHECK(value_of(r.output, "after") == "42");
  CHECK_THAT(r.output, Catch::EndsWith("done\n"));
  CHECK_THAT(baton.log(), Catch::Contains("is not accepting connections"));
}

TEST_CASE("failover: planned switchover under write load, no client error and no lost write", "[failover]") {
  // Async replication: nothing but the switchover's own wait makes the target complete.
  PgCluster c(PgCluster::Options{.replicas = 2, .synchronous = false, .tls = false});
  const int listen_port = free_port();
  const int admin_port = free_port();
  BatonProcess baton(failover_config(c, listen_port, admin_port), {listen_port, admin_port});
  REQUIRE(wait_ready(admin_port, 30s));

  WriteLoad load(listen_port, kWriters);
  REQUIRE(wait_until(30s, [&] { return load.acked() >= 200 || load.finished_early(); }));

  // Without the token the switchover is refused.
  CHECK(http_request(admin_port, "POST", "/api/v1/switchover", R"({"target":"node1"})").status == 401);

  load.mark_fault(epoch_now());
  HttpResult sw = http_request(admin_port, "POST", "/api/v1/switchover", R"({"target":"node1"})", kToken, 60000ms);
  INFO("switchover answer: " << sw.status << " " << sw.body << sw.error);
  CHECK((sw.status >= 200 && sw.status < 300));

  CHECK(wait_until(45s, [&] { return load.last_ack_port() == c.port(1) || load.finished_early(); }));
  CHECK(wait_until(15s, [&] { return c.is_primary(1); }));
  CHECK(wait_until(15s, [&] { return str(admin_node(admin_port, "node1"), "role") == "primary"; }));

  // The old primary gets nothing once the switchover is done.
  const std::string done_at = c.query(0, "SELECT clock_timestamp()", "postgres");
  std::this_thread::sleep_for(1s);
  const long long rows_before = row_count(c, 0);
  std::this_thread::sleep_for(2s);
  CHECK(row_count(c, 0) == rows_before);
  CHECK(app_work_since(c, 0, done_at) == 0);

  const json::object summary = load.stop();
  INFO("write_load.py output:\n" << load.output());
  REQUIRE_FALSE(summary.empty());
  INFO("summary: " << json::serialize(summary.at("errors")));
  CHECK(integer(summary, "errors_total") == 0);
  CHECK(integer(summary, "reconnects") == 0);
  CHECK(integer(summary, "stuck_writers") == 0);
  CHECK(integer(summary, "last_ack_port") == c.port(1));
  const json::value* idle = summary.if_contains("idle");
  REQUIRE((idle != nullptr && idle->is_object()));
  INFO("idle client: " << json::serialize(*idle));
  CHECK(idle->as_object().at("ok").as_bool());
  CHECK(integer(idle->as_object(), "port") == c.port(1));

  const json::object verified = load.verify(c.port(1));
  INFO("verify on node1: " << json::serialize(verified));
  REQUIRE_FALSE(verified.empty());
  CHECK(integer(verified, "lost") == 0);
  print_figures("async, planned switchover to node1", summary, std::to_string(integer(verified, "lost")));
}

// --- The tools above, checked against PostgreSQL alone (no baton) -------------------------------

TEST_CASE("node control: kill, restart, hang, thaw, promote and rebuild as a standby", "[fixture][node-control]") {
  PgCluster c(PgCluster::Options{.replicas = 2, .synchronous = true, .tls = false});
  CHECK(c.role(0) == "primary");
  CHECK(c.role(1) == "standby");
  CHECK(c.query(1, "SHOW synchronous_standby_names") == "ANY 1 (node0,node2)");

  // write_load.py straight at node0, across a kill -9 and a restart of node0.
  WriteLoad load(c.port(0), 2);
  REQUIRE(wait_until(30s, [&] { return load.acked() >= 100 || load.finished_early(); }));
  const pid_t old_pid = c.postmaster_pid(0);
  load.mark_fault(epoch_now());
  c.signal_node(0, SIGKILL);
  CHECK(c.role(0) == "down");
  CHECK(wait_until(10s, [&] { return integer(load.status(), "errors") > 0; }));
  std::this_thread::sleep_for(500ms);
  c.start_node(0);  // waits for the killed postmaster's children first
  CHECK(c.role(0) == "primary");
  CHECK(c.postmaster_pid(0) != old_pid);
  const long long acked_at_restart = load.acked();
  CHECK(wait_until(20s, [&] { return load.acked() > acked_at_restart + 50; }));
  const json::object summary = load.stop();
  INFO("write_load.py output:\n" << load.output());
  REQUIRE_FALSE(summary.empty());
  CHECK(integer(summary, "reconnects") == 2);  // each writer's connection was closed once
  CHECK(integer(summary, "errors_total") >= 2);
  CHECK(num(summary, "max_gap_ms") >= 500);
  const json::object& idle = summary.at("idle").as_object();
  CHECK_FALSE(idle.at("ok").as_bool());  // its server died: the idle connection is gone
  CHECK(idle.at("connection_closed").as_bool());
  const json::object& around = summary.at("fault").as_object();
  CHECK(integer(around, "port_before_fault") == c.port(0));
  CHECK(integer(around, "acks_after_fault") > 0);
  // A kill -9 of the process loses nothing the server acknowledged (the OS still has it).
  const json::object verified = load.verify(c.port(0));
  CHECK(integer(verified, "acked") == integer(summary, "acked"));
  CHECK(integer(verified, "lost") == 0);

  // A hang of the whole server, and its end.
  c.signal_node(0, SIGSTOP, PgCluster::SignalScope::kServer);
  CHECK(c.role(0) == "stopped");
  c.signal_node(0, SIGCONT, PgCluster::SignalScope::kServer);
  CHECK(c.role(0) == "primary");

  // A failover by hand: node0 stops, node1 is promoted, node2 and node0 are rebuilt from it.
  c.stop_node(0);
  CHECK(c.role(0) == "down");
  c.promote(1);
  CHECK(c.is_primary(1));
  c.rebuild_as_standby(2, 1);
  c.rebuild_as_standby(0, 1);
  CHECK(c.role(0) == "standby");
  CHECK(c.role(2) == "standby");
  CHECK(c.query(0, "SHOW port") == std::to_string(c.port(0)));
  CHECK(c.query(1, "SELECT string_agg(application_name || ':' || state, ',' ORDER BY application_name) "
                   "FROM pg_stat_replication") == "node0:streaming,node2:streaming");
  // The promoted node keeps synchronous replication: a commit returns once a standby has it.
  CHECK(c.query(1, "SHOW synchronous_standby_names") == "ANY 1 (node0,node2)");
  c.query(1, "CREATE TABLE after_rebuild (v int); INSERT INTO after_rebuild VALUES (5)");
  CHECK(wait_until(10s, [&] {
    RunResult r = c.psql(0, "SELECT v FROM after_rebuild");
    return r.exit_code == 0 && r.output == "5\n";
  }));
  // The old rows came along with the base backup.
  CHECK(row_count(c, 0) == row_count(c, 1));
  CHECK(row_count(c, 0) >= integer(summary, "acked"));
}

TEST_CASE("node control: the cluster stops cleanly with a frozen and a killed node", "[fixture][node-control]") {
  pid_t frozen = 0;
  std::string frozen_children;
  {
    PgCluster c(PgCluster::Options{.replicas = 1, .synchronous = false, .tls = false});
    frozen = c.postmaster_pid(1);
    frozen_children = run("pgrep -P " + std::to_string(frozen)).output;
    REQUIRE_FALSE(frozen_children.empty());
    c.signal_node(1, SIGSTOP, PgCluster::SignalScope::kServer);
    c.signal_node(0, SIGKILL);
    CHECK(c.role(1) == "stopped");
  }  // the destructor must stop both: resume and shut down node1, wait for node0's orphans
  CHECK_FALSE(process_running(frozen));
  for (std::size_t at = 0; at < frozen_children.size();) {
    std::size_t end = frozen_children.find('\n', at);
    if (end == std::string::npos) end = frozen_children.size();
    const std::string pid = frozen_children.substr(at, end - at);
    if (!pid.empty()) CHECK_FALSE(process_running(std::stoi(pid)));
    at = end + 1;
  }
}
