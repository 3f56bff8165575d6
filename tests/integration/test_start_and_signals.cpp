// [start-signals] integration tests: two nodes claiming primary at baton's start, and SIGINT shutdown (PostgreSQL 15).
#include <catch2/catch.hpp>

#include <signal.h>

#include <boost/json.hpp>

#include <chrono>
#include <fstream>
#include <future>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.hpp"
#include "tests/integration/json_fields.hpp"

using baton::test::BatonProcess;
using baton::test::HttpResult;
using baton::test::PgCluster;
using baton::test::RunResult;
using baton::test::free_port;
using baton::test::http_request;
using baton::test::integer;
using baton::test::is_null;
using baton::test::num;
using baton::test::parse_object;
using baton::test::run;
using baton::test::shell_quote;
using baton::test::str;
using baton::test::wait_until;

namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kPsql = "/usr/lib/postgresql/15/bin/psql";
constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kTable = "start_signal_rows";

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double epoch_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// baton in front of the nodes at `ports` (named node0, node1, ...): one split listener, the admin API,
// automatic failover with quick probes, buffer_timeout 3 s, the state file `state_file`.
std::string config_text(const std::vector<int>& ports, int listen_port, int admin_port,
                        const std::string& shutdown_timeout, const std::string& state_file) {
  std::string nodes;
  for (std::size_t k = 0; k < ports.size(); ++k) {
    nodes += "  [[clusters.nodes]]\n  name = \"node" + std::to_string(k) + "\"\n  host = \"127.0.0.1\"\n  port = " +
             std::to_string(ports[k]) + "\n";
  }
  return "[general]\nworkers = 2\nlog_level = \"info\"\nshutdown_timeout = \"" + shutdown_timeout + "\"\n" +
         "\n[admin]\nlisten = \"127.0.0.1:" + std::to_string(admin_port) + "\"\ntoken = \"start-signals-token\"\n" +
         "\n[pool]\nmode = \"transaction\"\npool_size = 6\n"
         "\n[[listeners]]\nname = \"pg\"\nlisten = \"127.0.0.1:" + std::to_string(listen_port) +
         "\"\ncluster = \"main\"\nrole = \"split\"\n"
         "\n[[clusters]]\nname = \"main\"\nmonitor_user = \"baton_monitor\"\nmonitor_password = \"monitor-secret\"\n"
         "  [clusters.failover]\n"
         "  mode = \"auto\"\n"
         "  probe_interval = \"500ms\"\n"
         "  suspect_interval = \"200ms\"\n"
         "  probe_timeout = \"1s\"\n"
         "  failures_before_down = 3\n"
         "  down_after = \"2s\"\n"
         "  buffer_timeout = \"3s\"\n"
         "  state_file = \"" + state_file + "\"\n" +
         nodes + "\n[[users]]\nname = \"app\"\npassword = \"app-secret\"\n";
}

// psql through baton: each statement its own -c, unaligned tuples only, errors with their SQLSTATE.
RunResult baton_psql(int port, const std::vector<std::string>& statements, std::chrono::seconds timeout = 30s) {
  std::string cmd = std::string("PGPASSWORD=app-secret ") + kPsql + " " +
                    shell_quote("host=127.0.0.1 port=" + std::to_string(port) +
                                " user=app dbname=app sslmode=disable connect_timeout=10") +
                    " -XAtq -v VERBOSITY=verbose";
  for (const std::string& s : statements) cmd += " -c " + shell_quote(s);
  return run(cmd, timeout);
}

json::object cluster_view(int admin_port) {
  HttpResult r = http_request(admin_port, "GET", "/api/v1/clusters/main", "", "", 3000ms);
  return r.status == 200 ? parse_object(r.body) : json::object{};
}

// The node named `name` in GET /api/v1/nodes (empty when absent or the API does not answer).
json::object node_view(int admin_port, const std::string& name) {
  const json::object all = parse_object(http_request(admin_port, "GET", "/api/v1/nodes", "", "", 3000ms).body);
  if (const json::value* nodes = all.if_contains("nodes"); nodes != nullptr && nodes->is_array()) {
    for (const json::value& n : nodes->as_array()) {
      if (n.is_object() && str(n.as_object(), "name") == name) return n.as_object();
    }
  }
  return {};
}

// Every event text of GET /api/v1/events, one a line.
std::string event_texts(int admin_port) {
  const json::object all = parse_object(http_request(admin_port, "GET", "/api/v1/events", "", "", 3000ms).body);
  std::string out;
  if (const json::value* events = all.if_contains("events"); events != nullptr && events->is_array()) {
    for (const json::value& e : events->as_array()) {
      if (e.is_object()) out += str(e.as_object(), "text") + "\n";
    }
  }
  return out;
}

// The current timeline of a node that is not in recovery, from its WAL file name (as baton's probe reads it).
std::string timeline_of(const PgCluster& c, int node) {
  return c.query(node, "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)", "postgres");
}

// Clients through baton, speaking the wire protocol with tests/integration/clients/pgwire.py so that
// every message baton sends them (and when the connection ends) is seen as it is:
//   write PORT SQL: a new client logs in and runs SQL; prints {login, login_seconds, error | rows ...}.
//   drain PORT TABLE READY: three logged-in clients: "parked" (never sent a request), "hot" (its
//     SELECT 1 was answered just now) and "tx" (BEGIN and an INSERT into TABLE, no commit); writes
//     READY, then reads each until the connection ends; prints {insert, <name>: {error, closed, at}}.
constexpr const char* kClientScript = R"PY(
import json, sys, threading, time
sys.path.insert(0, sys.argv[1])
import pgwire

def connect(port):
    c = pgwire.Conn(port, timeout=30)
    status, info = c.login("app", "app", "app-secret")
    return c, status, info

mode, port = sys.argv[2], int(sys.argv[3])
if mode == "write":
    start = time.monotonic()
    c, status, info = connect(port)
    out = {"login": status, "login_seconds": time.monotonic() - start}
    if status == "error":
        out["error"] = info
    elif status == "ok":
        rows, err, closed = c.query(sys.argv[4])
        out.update(rows=rows, error=err, closed=closed)
    print(json.dumps(out))
else:
    table, ready = sys.argv[4], sys.argv[5]
    results = {}
    parked, s1, _ = connect(port)
    hot, s2, _ = connect(port)
    tx, s3, _ = connect(port)
    results["logins"] = [s1, s2, s3]
    results["begin_error"] = tx.query("BEGIN")[1]
    rows, err, _ = tx.query("INSERT INTO %s VALUES (1) RETURNING inet_server_port()" % table)
    results["insert"] = {"rows": rows, "error": err}
    results["hot_rows"] = hot.query("SELECT 1")[0]

    def watch(name, conn):
        err, closed = conn.read_error_then_eof(40)
        results[name] = {"error": err, "closed": closed, "at": time.time()}

    threads = [threading.Thread(target=watch, args=(n, c)) for n, c in (("parked", parked), ("hot", hot), ("tx", tx))]
    for t in threads:
        t.start()
    with open(ready, "w") as f:
        f.write("ready\n")
    for t in threads:
        t.join()
    print(json.dumps(results))
)PY";

// A temp directory of this test (under $BATON_TMP_ROOT when set), removed at the end of its scope.
struct TempDir {
  explicit TempDir(const std::string& prefix) : path(baton::test::make_temp_dir(prefix)) {}
  ~TempDir() { run("rm -rf " + shell_quote(path)); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string path;
};

// The shell command running kClientScript (written into `dir`) with `args`.
std::string client_command(const std::string& dir, const std::string& args) {
  const std::string script = dir + "/clients.py";
  std::ofstream(script) << kClientScript;
  return std::string(kPython) + " -B " + shell_quote(script) + " " +
         shell_quote(baton::test::source_dir() + "/tests/integration/clients") + " " + args;
}

// The drain clients of kClientScript, run in the background.
class DrainClients {
 public:
  explicit DrainClients(int port) : dir_(baton::test::make_temp_dir("baton-drain-clients-")) {
    const std::string cmd = client_command(dir_, "drain " + std::to_string(port) + " " + kTable + " " +
                                                     shell_quote(dir_ + "/ready"));
    job_ = std::async(std::launch::async, [cmd] { return run(cmd, 90s); });
  }
  ~DrainClients() {
    if (job_.valid()) job_.wait_for(90s);
    run("rm -rf " + shell_quote(dir_));
  }
  DrainClients(const DrainClients&) = delete;
  DrainClients& operator=(const DrainClients&) = delete;

  // True once all three clients are set up and watching their connections (bounded).
  bool wait_ready(std::chrono::seconds timeout) const {
    return wait_until(timeout, [&] {
      return !baton::test::read_file(dir_ + "/ready").empty() ||
             job_.wait_for(0s) == std::future_status::ready;  // ended early: the caller looks at finish()
    }) && !baton::test::read_file(dir_ + "/ready").empty();
  }
  // What the script printed (its JSON line is the last one); "" when it did not end in time.
  std::string finish(std::chrono::seconds timeout) {
    if (job_.wait_for(timeout) != std::future_status::ready) return "";
    return job_.get().output;
  }

 private:
  std::string dir_;
  std::future<RunResult> job_;
};

// Seconds until `baton` has exited, counted from `since`; -1 when it still runs after `limit`.
double seconds_to_exit(BatonProcess& baton, Clock::time_point since, std::chrono::seconds limit) {
  while (baton.running()) {
    if (Clock::now() - since >= limit) return -1;
    std::this_thread::sleep_for(5ms);
  }
  return seconds_since(since);
}

// The error fields a drain client saw, as "SEVERITY SQLSTATE message" ("" when there was none).
std::string error_line(const json::object& client) {
  const json::value* e = client.if_contains("error");
  if (e == nullptr || !e->is_object()) return "";
  const json::object& f = e->as_object();
  return str(f, "V") + " " + str(f, "C") + " " + str(f, "M");
}

// One drain client's record from the script's output (empty when missing).
json::object client_of(const json::object& all, const char* name) {
  const json::value* v = all.if_contains(name);
  return v != nullptr && v->is_object() ? v->as_object() : json::object{};
}

// What happened around a shutdown signal with three clients connected (one inside a transaction).
struct Shutdown {
  json::object clients;        // the drain script's JSON
  double exit_seconds = -1;    // from the first signal to baton's exit
  double signal_epoch = 0;     // wall-clock time of the first signal (the script's times are wall-clock too)
  int exit_status = -1;
  bool running_at_3s = false;  // baton was still running 3 s after the first signal
  std::string log;
};

// baton with general.shutdown_timeout = `shutdown_timeout` in front of the shared cluster; the
// drain clients connect, then `signals` are sent to baton (`gap` apart).
Shutdown shut_down_with_open_transaction(const std::string& shutdown_timeout, const std::vector<int>& signals,
                                         std::chrono::milliseconds gap) {
  PgCluster& c = PgCluster::shared();
  c.query(0, std::string("DROP TABLE IF EXISTS ") + kTable + "; CREATE TABLE " + kTable + " (id int PRIMARY KEY); " +
                 "GRANT ALL ON " + kTable + " TO app");
  const int listen_port = free_port();
  const int admin_port = free_port();
  const TempDir state_dir("baton-signal-state-");
  std::vector<int> ports;
  for (int node = 0; node < c.node_count(); ++node) ports.push_back(c.port(node));
  BatonProcess baton(config_text(ports, listen_port, admin_port, shutdown_timeout, state_dir.path + "/failover.state"),
                     {listen_port, admin_port});
  REQUIRE(wait_until(30s, [&] { return http_request(admin_port, "GET", "/readyz", "", "", 2000ms).status == 200; }));

  const std::string open_transactions =
      std::string("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND state = 'idle in transaction' ") +
      "AND query LIKE 'INSERT INTO " + kTable + "%'";
  DrainClients clients(listen_port);
  REQUIRE(clients.wait_ready(30s));
  // On the server: the transaction is open, its backend idle in it.
  CHECK(c.query(0, open_transactions, "postgres") == "1");

  Shutdown out;
  out.signal_epoch = epoch_now();
  const auto signalled = Clock::now();
  for (std::size_t k = 0; k < signals.size(); ++k) {
    if (k > 0) {
      // Standard signals do not queue: a second one sent before the kernel delivered the first merges
      // with it. Send it once baton has logged the first (and `gap` has passed).
      std::this_thread::sleep_for(gap);
      const auto limit = Clock::now() + 2s;
      while (baton.log().find(": draining clients") == std::string::npos && Clock::now() < limit) {
        std::this_thread::sleep_for(5ms);
      }
    }
    REQUIRE(::kill(baton.pid(), signals[k]) == 0);
  }
  while (seconds_since(signalled) < 3.0 && baton.running()) std::this_thread::sleep_for(5ms);
  out.running_at_3s = baton.running();
  out.exit_seconds = seconds_to_exit(baton, signalled, 20s);
  out.exit_status = baton.stop(SIGKILL, 5s);  // already exited: its status (else killed now)
  out.log = baton.log();

  const std::string printed = clients.finish(60s);
  INFO("drain clients printed:\n" << printed);
  const json::value parsed = baton::test::last_json_line(printed);
  if (parsed.is_object()) out.clients = parsed.as_object();
  CHECK(out.clients.contains("tx"));
  // baton did not commit the transaction on its way out: the backend's transaction ended (its
  // connection from baton closed) and the row is not there.
  CHECK(wait_until(10s, [&] { return c.query(0, open_transactions, "postgres") == "0"; }));
  CHECK(c.query(0, std::string("SELECT count(*) FROM ") + kTable) == "0");
  return out;
}

// True when the drain client `name` saw its connection end (EOF) before the script's 40 s read timeout.
bool closed(const Shutdown& s, const char* name) {
  const json::object c = client_of(s.clients, name);
  const json::value* v = c.if_contains("closed");
  return v != nullptr && v->is_bool() && v->as_bool();
}

// Seconds from the first signal to the moment the drain client `name` saw its connection end.
double closed_after(const Shutdown& s, const char* name) {
  return num(client_of(s.clients, name), "at") - s.signal_epoch;
}

void print_timings(const std::string& what, const Shutdown& s) {
  std::cout << "[start-signals] " << what << ": baton exited after " << s.exit_seconds
            << " s; idle clients ended after " << closed_after(s, "parked") << " s (parked), "
            << closed_after(s, "hot") << " s (hot); the client in a transaction lost its connection after "
            << closed_after(s, "tx") << " s\n" << std::flush;
}

// What every shutdown must do alike: the clients were set up as meant, and the idle ones were ended
// at once (within `idle_within` s of the signal) with PostgreSQL's fast-shutdown FATAL 57P01 (README,
// "SIGTERM ... ends idle clients at once with FATAL 57P01").
void check_idle_clients_told(const Shutdown& s, double idle_within) {
  const json::object& all = s.clients;
  INFO("drain clients: " << json::serialize(all));
  CHECK(json::serialize(all.contains("logins") ? all.at("logins") : json::value()) == R"(["ok","ok","ok"])");
  CHECK(is_null(all, "begin_error"));
  const json::object insert = client_of(all, "insert");
  CHECK(is_null(insert, "error"));
  CHECK(json::serialize(insert.contains("rows") ? insert.at("rows") : json::value()) ==
        "[[\"" + std::to_string(PgCluster::shared().port(0)) + "\"]]");
  for (const char* name : {"parked", "hot"}) {
    INFO(name << " client");
    CHECK(error_line(client_of(all, name)) == "FATAL 57P01 terminating connection due to administrator command");
    CHECK(closed(s, name));
    CHECK(closed_after(s, name) >= 0);
    CHECK(closed_after(s, name) < idle_within);
  }
  // The client inside its transaction, at the end of the grace: as PostgreSQL's fast shutdown, FATAL
  // 57P01 and the end of its connection (its transaction is not committed: see the caller).
  CHECK(error_line(client_of(all, "tx")) == "FATAL 57P01 terminating connection due to administrator command");
  CHECK(closed(s, "tx"));
}

}  // namespace

// ---- two claimants at start -------------------------------------------------------------------

TEST_CASE("start: two nodes claim primary on timelines 1 and 2; the newer is primary, the other fenced (read-only)",
          "[start-signals]") {
  const auto test_start = Clock::now();
  PgCluster c(PgCluster::Options{.replicas = 1, .synchronous = false, .tls = false});
  c.query(0, std::string("CREATE TABLE ") + kTable + " (id int PRIMARY KEY, port int); GRANT ALL ON " + kTable +
                 " TO app");
  c.wait_replicated();
  // node1 is promoted (timeline 2) while node0 goes on as a primary on timeline 1: a split brain
  // that exists before baton starts.
  c.promote(1);
  REQUIRE(c.role(0) == "primary");
  REQUIRE(c.role(1) == "primary");
  REQUIRE(timeline_of(c, 0) == "00000001");
  REQUIRE(timeline_of(c, 1) == "00000002");
  REQUIRE(c.query(0, "SHOW default_transaction_read_only") == "off");
  // A session straight to node0, open before baton starts (an application that bypasses baton):
  // the fence ends it (40 s bounds it if it did not).
  auto bypass = std::async(std::launch::async, [&] { return c.psql(0, "SELECT pg_sleep(40)"); });
  REQUIRE(wait_until(10s, [&] {
    return c.query(0, "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(40)'") == "1";
  }));

  const int listen_port = free_port();
  const int admin_port = free_port();
  const TempDir state_dir("baton-start-state-");
  const std::string state_file = state_dir.path + "/failover.state";  // none yet: baton decides from the claims
  BatonProcess baton(config_text({c.port(0), c.port(1)}, listen_port, admin_port, "5s", state_file),
                     {listen_port, admin_port});

  json::object view;
  const bool chosen = wait_until(30s, [&] { return str(view = cluster_view(admin_port), "primary") == "node1"; });
  INFO("cluster view: " << json::serialize(view));
  REQUIRE(chosen);
  std::cout << "[start-signals] two claimants on timelines 1 and 2: node1 primary in the admin view after "
            << seconds_since(test_start) << " s of the test\n";
  CHECK(str(view, "failover_state") == "healthy");
  CHECK(integer(view, "epoch") == 0);
  json::object n0, n1;
  CHECK(wait_until(10s, [&] { return str(n0 = node_view(admin_port, "node0"), "health") == "fenced"; }));
  n1 = node_view(admin_port, "node1");
  INFO("node0: " << json::serialize(n0) << "\nnode1: " << json::serialize(n1));
  CHECK(str(n1, "role") == "primary");
  CHECK(str(n1, "health") == "up");
  CHECK(integer(n1, "timeline") == 2);
  CHECK(integer(n0, "timeline") == 1);
  const std::string events = event_texts(admin_port);
  INFO("events:\n" << events);
  CHECK_THAT(events, Catch::Contains("two primaries at start: node0 (timeline 1) loses to node1 (timeline 2); "
                                     "fencing node0"));
  CHECK(http_request(admin_port, "GET", "/readyz", "", "", 3000ms).status == 200);
  CHECK(wait_until(15s, [&] {
    return event_texts(admin_port).find("fence node0: node made read-only") != std::string::npos;
  }));

  // The fence (health/actuators/pg_actuator.cpp): ALTER SYSTEM SET default_transaction_read_only = on
  // and a reload on node0. A write straight to node0 is refused with PostgreSQL's read-only error.
  CHECK(wait_until(15s, [&] { return c.query(0, "SHOW default_transaction_read_only") == "on"; }));
  CHECK(c.query(1, "SHOW default_transaction_read_only") == "off");
  // ...and node0's client sessions are ended (the read-only default binds no one who asks for
  // read-write): the bypassing session is cut off, not left writing to the fenced node.
  REQUIRE(bypass.wait_for(15s) == std::future_status::ready);
  const RunResult cut = bypass.get();
  INFO("session straight to node0 when baton fenced it: " << cut.output);
  CHECK(cut.exit_code != 0);
  CHECK_THAT(cut.output, Catch::Contains("terminating connection due to administrator command"));
  CHECK(wait_until(15s, [&] {
    return event_texts(admin_port).find("client sessions ended") != std::string::npos;
  }));
  RunResult direct = c.psql(0, std::string("\\set VERBOSITY verbose\nINSERT INTO ") + kTable + " VALUES (99, 0)");
  INFO("direct write to node0: " << direct.output);
  CHECK(direct.exit_code != 0);
  CHECK_THAT(direct.output, Catch::Contains("ERROR:  25006: cannot execute INSERT in a read-only transaction"));
  CHECK(c.query(0, std::string("SELECT count(*) FROM ") + kTable) == "0");

  // A write through baton lands on node1, the primary of timeline 2: read back on node1 itself.
  RunResult write = baton_psql(listen_port, {std::string("INSERT INTO ") + kTable +
                                             " VALUES (1, inet_server_port()) RETURNING port"});
  INFO("write through baton: " << write.output);
  CHECK(write.exit_code == 0);
  CHECK(write.output == std::to_string(c.port(1)) + "\n");
  CHECK(c.query(1, std::string("SELECT port FROM ") + kTable + " WHERE id = 1") == std::to_string(c.port(1)));
  CHECK(c.query(0, std::string("SELECT count(*) FROM ") + kTable) == "0");
  // Reads too go only to node1 (no standby: replica_fallback sends them to the primary), never to node0.
  RunResult reads = baton_psql(listen_port, std::vector<std::string>(10, "SELECT inet_server_port()"));
  INFO("reads through baton: " << reads.output);
  std::string ten;
  for (int i = 0; i < 10; ++i) ten += std::to_string(c.port(1)) + "\n";
  CHECK(reads.output == ten);

  // The state file records the decision, so that node0 stays fenced across a restart of baton.
  const std::string state = baton::test::read_file(state_file);
  INFO("state file:\n" << state);
  CHECK_THAT(state, Catch::Contains("\nprimary=node1\n"));
  CHECK_THAT(state, Catch::Contains("\ntimeline=2\n"));
  CHECK_THAT(state, Catch::Contains("\nfenced=node0\n"));
  std::cout << "[start-signals] timelines 1 and 2 test took " << seconds_since(test_start) << " s\n" << std::flush;
}

TEST_CASE("start: two nodes claim primary on the same timeline; no primary is chosen, writes are refused",
          "[start-signals]") {
  const auto test_start = Clock::now();
  // Two independent clusters, each a lone primary on timeline 1, given to baton as one cluster.
  PgCluster a(PgCluster::Options{.replicas = 0, .synchronous = false, .tls = false});
  PgCluster b(PgCluster::Options{.replicas = 0, .synchronous = false, .tls = false});
  for (const PgCluster* pg : {&a, &b}) {
    pg->query(0, std::string("CREATE TABLE ") + kTable + " (id int PRIMARY KEY, port int); GRANT ALL ON " + kTable +
                     " TO app");
    REQUIRE(timeline_of(*pg, 0) == "00000001");
  }
  const int listen_port = free_port();
  const int admin_port = free_port();
  const TempDir state_dir("baton-start-state-");
  BatonProcess baton(
      config_text({a.port(0), b.port(0)}, listen_port, admin_port, "5s", state_dir.path + "/failover.state"),
      {listen_port, admin_port});

  json::object view;
  const bool undecided =
      wait_until(30s, [&] { return str(view = cluster_view(admin_port), "failover_state") == "no_primary"; });
  INFO("cluster view: " << json::serialize(view));
  REQUIRE(undecided);
  const std::string events = event_texts(admin_port);
  INFO("events:\n" << events);
  CHECK_THAT(events, Catch::Contains("several nodes claim primary on timeline 1 (node0, node1): no primary chosen "
                                     "until only one of them answers"));

  // A new client's write waits failover.buffer_timeout (3 s), then is refused at login, FATAL 57P03
  // (README, "No primary"): seen on the wire, and as psql reports it.
  const std::string insert = std::string("INSERT INTO ") + kTable + " VALUES (1, inet_server_port())";
  auto wire = std::async(std::launch::async, [&] {
    return run(client_command(state_dir.path, "write " + std::to_string(listen_port) + " " + shell_quote(insert)), 60s);
  });
  const auto psql_at = Clock::now();
  RunResult by_psql = baton_psql(listen_port, {insert});
  const double psql_waited = seconds_since(psql_at);
  const RunResult by_wire = wire.get();
  INFO("psql through baton (" << psql_waited << " s): " << by_psql.output);
  INFO("wire client through baton: " << by_wire.output);
  CHECK(by_psql.exit_code != 0);
  CHECK_THAT(by_psql.output, Catch::Contains("FATAL:  no primary in cluster \"main\" within failover.buffer_timeout"));
  CHECK(psql_waited >= 2.8);
  CHECK(psql_waited < 10.0);
  const json::value w = baton::test::last_json_line(by_wire.output);
  REQUIRE(w.is_object());
  CHECK(str(w.as_object(), "login") == "error");
  const json::object fields = client_of(w.as_object(), "error");
  CHECK(str(fields, "V") == "FATAL");
  CHECK(str(fields, "C") == "57P03");
  CHECK_THAT(str(fields, "M"), Catch::StartsWith("no primary in cluster \"main\" within failover.buffer_timeout"));
  // ...and why: the failover machine's alert, not only "failover under way or no writable node".
  CHECK_THAT(str(fields, "M"), Catch::Contains("several nodes claim primary on timeline 1 (node0, node1)"));
  CHECK(num(w.as_object(), "login_seconds") >= 2.8);
  CHECK(num(w.as_object(), "login_seconds") < 10.0);
  CHECK(a.query(0, std::string("SELECT count(*) FROM ") + kTable) == "0");
  CHECK(b.query(0, std::string("SELECT count(*) FROM ") + kTable) == "0");

  // Still undecided after those seconds of probes: no primary, neither node fenced nor made read-only
  // (baton cannot tell which one is right), not ready.
  view = cluster_view(admin_port);
  INFO("cluster view later: " << json::serialize(view));
  CHECK(str(view, "failover_state") == "no_primary");
  CHECK(is_null(view, "primary"));
  CHECK(integer(view, "epoch") == 0);
  for (const char* name : {"node0", "node1"}) {
    const json::object n = node_view(admin_port, name);
    INFO(name << ": " << json::serialize(n));
    CHECK(str(n, "role") == "primary");
    CHECK(str(n, "health") == "down");
    CHECK(integer(n, "timeline") == 1);
  }
  CHECK(a.query(0, "SHOW default_transaction_read_only") == "off");
  CHECK(b.query(0, "SHOW default_transaction_read_only") == "off");
  HttpResult ready = http_request(admin_port, "GET", "/readyz", "", "", 3000ms);
  INFO("readyz: " << ready.status << " " << ready.body);
  CHECK(ready.status == 503);
  CHECK_THAT(ready.body, Catch::Contains("cluster main has no known primary"));

  // Once only one of them answers (node1 stopped), it is adopted, and writes go to it.
  const auto stopped_at = Clock::now();
  b.stop_node(0);
  CHECK(wait_until(20s, [&] { return str(view = cluster_view(admin_port), "primary") == "node0"; }));
  INFO("cluster view after node1 stopped: " << json::serialize(view));
  std::cout << "[start-signals] same timeline: stop of node1 begun -> node0 primary after " << seconds_since(stopped_at)
            << " s\n";
  CHECK(str(view, "failover_state") == "healthy");
  RunResult write = baton_psql(listen_port, {std::string("INSERT INTO ") + kTable +
                                             " VALUES (2, inet_server_port()) RETURNING port"});
  INFO("write after node1 stopped: " << write.output);
  CHECK(write.output == std::to_string(a.port(0)) + "\n");
  CHECK(a.query(0, std::string("SELECT port FROM ") + kTable + " WHERE id = 2") == std::to_string(a.port(0)));
  std::cout << "[start-signals] same-timeline test took " << seconds_since(test_start) << " s\n" << std::flush;
}

// ---- SIGINT ----------------------------------------------------------------------------------

TEST_CASE("SIGINT: idle clients get FATAL 57P01 at once, baton exits after a tenth of shutdown_timeout",
          "[start-signals]") {
  // shutdown_timeout 5 s: SIGINT allows 0.5 s for the open transaction, then baton exits.
  const Shutdown s = shut_down_with_open_transaction("5s", {SIGINT}, 0ms);
  INFO("baton log:\n" << s.log);
  print_timings("SIGINT, shutdown_timeout 5 s, a transaction open", s);
  CHECK(s.exit_seconds >= 0.45);  // it waited for the transaction (a drain, not an abrupt stop)...
  CHECK(s.exit_seconds < 3.0);    // ...but not for shutdown_timeout
  CHECK_FALSE(s.running_at_3s);
  CHECK(s.exit_status == 0);
  CHECK_THAT(s.log, Catch::Contains("SIGINT: draining clients (up to 500 ms)"));
  CHECK_THAT(s.log, Catch::Contains("1 clients still connected after the shutdown grace; closing them"));
  check_idle_clients_told(s, 0.45);
  // The client inside its transaction kept its connection through the grace, and lost it when baton exited.
  CHECK(closed_after(s, "tx") >= 0.45);
  CHECK(closed_after(s, "tx") < 3.0);
}

TEST_CASE("SIGTERM in the same setup waits the whole shutdown_timeout for the open transaction", "[start-signals]") {
  const Shutdown s = shut_down_with_open_transaction("5s", {SIGTERM}, 0ms);
  INFO("baton log:\n" << s.log);
  print_timings("SIGTERM, shutdown_timeout 5 s, a transaction open", s);
  CHECK(s.running_at_3s);  // where SIGINT had long exited
  CHECK(s.exit_seconds >= 4.9);
  CHECK(s.exit_seconds < 9.0);
  CHECK(s.exit_status == 0);
  CHECK_THAT(s.log, Catch::Contains("SIGTERM: draining clients (up to 5000 ms)"));
  CHECK_THAT(s.log, Catch::Contains("1 clients still connected after the shutdown grace; closing them"));
  check_idle_clients_told(s, 0.45);
  CHECK(closed_after(s, "tx") >= 4.9);
  CHECK(closed_after(s, "tx") < 9.0);
}

TEST_CASE("a second SIGINT stops baton at once, with a transaction open", "[start-signals]") {
  // shutdown_timeout 30 s: the first SIGINT alone would wait 3 s for the open transaction.
  const Shutdown s = shut_down_with_open_transaction("30s", {SIGINT, SIGINT}, 100ms);
  INFO("baton log:\n" << s.log);
  print_timings("SIGINT, SIGINT 100 ms later, shutdown_timeout 30 s, a transaction open", s);
  CHECK(s.exit_seconds >= 0.1);  // not before the second SIGINT
  CHECK(s.exit_seconds < 1.0);
  CHECK(s.exit_status == 0);
  CHECK_THAT(s.log, Catch::Contains("SIGINT: draining clients (up to 3000 ms)"));
  CHECK_THAT(s.log, Catch::Contains("SIGINT during shutdown: stopping now"));
  CHECK_THAT(s.log, !Catch::Contains("after the shutdown grace"));
  check_idle_clients_told(s, 0.45);
  CHECK(closed_after(s, "tx") < 1.0);
}
