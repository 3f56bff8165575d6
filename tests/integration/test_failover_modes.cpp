// [failover-modes] integration tests: failover modes manual and follow, and re-adding a fenced node, on real PostgreSQL 15 clusters.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <regex>
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
using baton::test::integer;
using baton::test::is_null;
using baton::test::parse_object;
using baton::test::str;
using baton::test::wait_until;
using baton::test::http_request;
using baton::test::run;
using baton::test::shell_quote;

namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kPsql = "/usr/lib/postgresql/15/bin/psql";
constexpr const char* kToken = "modes-test-token";
constexpr const char* kTable = "modes_rows";
// failover.buffer_timeout in the configurations below.
constexpr auto kBufferTimeout = 3s;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// baton in front of the cluster: one split listener, the admin API with a token, quick probes.
// `mode` is failover.mode; `cluster_extra` adds keys to the [[clusters]] table.
std::string modes_config(const PgCluster& c, const std::string& mode, int listen_port, int admin_port,
                         const std::string& cluster_extra = "") {
  std::string nodes;
  for (int node = 0; node < c.node_count(); ++node) {
    nodes += "  [[clusters.nodes]]\n  name = \"node" + std::to_string(node) + "\"\n  host = \"127.0.0.1\"\n  port = " +
             std::to_string(c.port(node)) + "\n";
  }
  return "[general]\nworkers = 2\nlog_level = \"info\"\nshutdown_timeout = \"5s\"\n"
         "\n[admin]\nlisten = \"127.0.0.1:" + std::to_string(admin_port) + "\"\ntoken = \"" + kToken + "\"\n" +
         "\n[pool]\nmode = \"transaction\"\npool_size = 6\n"
         "\n[[listeners]]\nname = \"pg\"\nlisten = \"127.0.0.1:" + std::to_string(listen_port) +
         "\"\ncluster = \"main\"\nrole = \"split\"\n"
         "\n[[clusters]]\nname = \"main\"\nmonitor_user = \"baton_monitor\"\nmonitor_password = \"monitor-secret\"\n" +
         cluster_extra +
         "  [clusters.failover]\n"
         "  mode = \"" + mode + "\"\n"
         "  probe_interval = \"500ms\"\n"
         "  suspect_interval = \"200ms\"\n"
         "  probe_timeout = \"1s\"\n"
         "  failures_before_down = 3\n"
         "  down_after = \"2s\"\n"
         "  promote_timeout = \"30s\"\n"
         "  buffer_timeout = \"3s\"\n"
         "  state_file = \"failover.state\"\n" +
         nodes + "\n[[users]]\nname = \"app\"\npassword = \"app-secret\"\n";
}

std::string baton_conninfo(int port) {
  return "host=127.0.0.1 port=" + std::to_string(port) + " user=app dbname=app sslmode=disable connect_timeout=10";
}

// psql through baton: each statement its own -c (so its own request and transaction), unaligned
// tuples only, errors with their SQLSTATE (VERBOSITY verbose); stdout and stderr merged.
RunResult baton_psql(int port, const std::vector<std::string>& statements, std::chrono::seconds timeout = 30s) {
  std::string cmd = std::string("PGPASSWORD=app-secret ") + kPsql + " " + shell_quote(baton_conninfo(port)) +
                    " -XAtq -v VERBOSITY=verbose";
  for (const std::string& s : statements) cmd += " -c " + shell_quote(s);
  return run(cmd, timeout);
}

// The lines of `text`, without empty ones.
std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    if (end > at) out.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

// GET /api/v1/clusters/main (empty when the API does not answer).
json::object cluster_view(int admin_port) {
  HttpResult r = http_request(admin_port, "GET", "/api/v1/clusters/main", "", "", 3000ms);
  if (r.status != 200) return {};
  return parse_object(r.body);
}

// The node named `name` in GET /api/v1/nodes (empty when the API does not answer or lists no such node).
json::object node_view(int admin_port, const std::string& name) {
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

// Every event text of GET /api/v1/events, one a line.
std::string event_texts(int admin_port) {
  HttpResult r = http_request(admin_port, "GET", "/api/v1/events", "", "", 3000ms);
  std::string out;
  const json::object all = parse_object(r.body);
  if (const json::value* events = all.if_contains("events"); events != nullptr && events->is_array()) {
    for (const json::value& e : events->as_array()) {
      if (e.is_object()) out += str(e.as_object(), "text") + "\n";
    }
  }
  return out;
}

// A psql session through baton that connects at once and then runs `after` only once the file
// `go` exists (a \! wait in its script): a client already connected when something happens.
class WaitingClient {
 public:
  WaitingClient(int port, const std::vector<std::string>& first, const std::vector<std::string>& after)
      : dir_(baton::test::make_temp_dir("baton-modes-client-")) {
    std::ofstream script(dir_ + "/script.sql");
    for (const std::string& s : first) script << s << ";\n";
    script << "\\echo connected\n";
    script << "\\! while [ ! -f " << shell_quote(dir_ + "/go") << " ]; do sleep 0.05; done\n";
    for (const std::string& s : after) {
      script << "\\! date +start=%s.%N\n" << s << ";\n\\! date +end=%s.%N\n";
    }
    script.close();
    const std::string cmd = std::string("PGPASSWORD=app-secret ") + kPsql + " " + shell_quote(baton_conninfo(port)) +
                            " -XAtq -v VERBOSITY=verbose -f " + shell_quote(dir_ + "/script.sql") + " 2>&1 | tee " +
                            shell_quote(dir_ + "/out.txt");
    job_ = std::async(std::launch::async, [cmd] { return run(cmd, 120s); });
  }
  ~WaitingClient() {
    go();
    if (job_.valid()) job_.wait_for(60s);
    run("rm -rf " + shell_quote(dir_));
  }
  WaitingClient(const WaitingClient&) = delete;
  WaitingClient& operator=(const WaitingClient&) = delete;

  // What psql printed so far.
  std::string output() const { return baton::test::read_file(dir_ + "/out.txt"); }
  void go() const { std::ofstream(dir_ + "/go") << "go\n"; }
  // Waits (bounded) for psql to end; its whole output, or "" on timeout.
  std::string finish(std::chrono::seconds timeout) {
    go();
    if (job_.wait_for(timeout) != std::future_status::ready) return "";
    return job_.get().output;
  }

 private:
  std::string dir_;
  std::future<RunResult> job_;
};

// Seconds between the "start=" and "end=" stamps WaitingClient printed around its first `after` statement.
double first_statement_seconds(const std::string& output) {
  std::smatch a, b;
  if (!std::regex_search(output, a, std::regex("start=([0-9.]+)")) ||
      !std::regex_search(output, b, std::regex("end=([0-9.]+)"))) {
    return -1;
  }
  return std::stod(b[1].str()) - std::stod(a[1].str());
}

// Creates the test table on the primary (for user app) and waits until the standbys have it.
void create_table(const PgCluster& c) {
  c.query(0, std::string("CREATE TABLE ") + kTable + " (id int PRIMARY KEY, port int); GRANT ALL ON " + kTable +
                 " TO app");
  c.wait_replicated();
}

bool in_recovery(const PgCluster& c, int node) {
  RunResult r = c.psql(node, "SELECT pg_is_in_recovery()", "postgres");
  return r.exit_code == 0 && r.output == "t\n";
}

// The port a standby's WAL receiver streams from, or "" when it does not stream.
std::string streams_from(const PgCluster& c, int node) {
  RunResult r = c.psql(node, "SELECT sender_port FROM pg_stat_wal_receiver WHERE status = 'streaming'", "postgres");
  if (r.exit_code != 0) return "";
  std::string out = r.output;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// Waits (bounded) until the cluster's failover state is `state`; returns the last view seen.
json::object wait_state(int admin_port, const std::string& state, std::chrono::seconds timeout, bool* reached) {
  json::object view;
  *reached = wait_until(timeout, [&] {
    view = cluster_view(admin_port);
    return str(view, "failover_state") == state;
  });
  return view;
}

// Read-only transactions through the split listener: the server port of each (one psql session,
// each SELECT its own request).
std::vector<std::string> read_ports(int port, int reads) {
  std::vector<std::string> statements(static_cast<std::size_t>(reads), "SELECT inet_server_port()");
  RunResult r = baton_psql(port, statements, 60s);
  INFO("reads through baton:\n" << r.output);
  CHECK(r.exit_code == 0);
  return lines(r.output);
}

int count_of(const std::vector<std::string>& v, const std::string& x) {
  int n = 0;
  for (const std::string& s : v) n += s == x ? 1 : 0;
  return n;
}

// A fresh three-node cluster with the test table, and baton in front of it in failover mode `mode`;
// `primary_seen`: baton's admin view showed node0 as primary within 30 s.
struct Rig {
  explicit Rig(const std::string& mode)
      : c(PgCluster::Options{.replicas = 2, .synchronous = false, .tls = false}),
        listen_port(free_port()),
        admin_port(free_port()),
        baton(table_and_config(c, mode, listen_port, admin_port), {listen_port, admin_port}),
        primary_seen(wait_until(30s, [this] { return str(cluster_view(admin_port), "primary") == "node0"; })) {}

  static std::string table_and_config(const PgCluster& c, const std::string& mode, int listen_port, int admin_port) {
    create_table(c);
    return modes_config(c, mode, listen_port, admin_port);
  }

  PgCluster c;
  const int listen_port;
  const int admin_port;
  BatonProcess baton;
  const bool primary_seen;
};

}  // namespace

TEST_CASE("failover modes: manual mode reports a dead primary, promotes nothing, and fails over on a switchover command",
          "[failover-modes]") {
  const auto test_start = Clock::now();
  Rig rig("manual");
  REQUIRE(rig.primary_seen);
  PgCluster& c = rig.c;
  const int listen_port = rig.listen_port;
  const int admin_port = rig.admin_port;
  RunResult first = baton_psql(listen_port, {std::string("INSERT INTO ") + kTable + " VALUES (1, inet_server_port()) RETURNING port"});
  INFO("first write: " << first.output);
  REQUIRE(first.output == std::to_string(c.port(0)) + "\n");
  c.wait_replicated();

  // A client connected before the kill: after it, its write waits buffer_timeout and fails, and
  // its next (read-only) request still works on the same connection.
  WaitingClient client(listen_port, {"SELECT 1"},
                       {std::string("INSERT INTO ") + kTable + " VALUES (2, inet_server_port())",
                        "SELECT 'still-usable:' || pg_is_in_recovery()"});
  REQUIRE(wait_until(20s, [&] { return client.output().find("connected") != std::string::npos; }));

  c.signal_node(0, SIGKILL);
  const auto killed_at = Clock::now();

  // Confirmed down; manual mode: no primary, and the events say why.
  bool confirmed = false;
  json::object view = wait_state(admin_port, "no_primary", 15s, &confirmed);
  INFO("cluster view: " << json::serialize(view));
  REQUIRE(confirmed);
  std::cout << "[failover-modes] manual: kill -9 -> no_primary after " << seconds_since(killed_at) << " s\n";
  CHECK(is_null(view, "primary"));
  const std::string events = event_texts(admin_port);
  INFO("events:\n" << events);
  CHECK_THAT(events, Catch::Contains("primary node0 is down; manual mode: no automatic failover"));

  // Several seconds later nothing was promoted: both standbys are still in recovery.
  std::this_thread::sleep_for(4s);
  CHECK(in_recovery(c, 1));
  CHECK(in_recovery(c, 2));
  view = cluster_view(admin_port);
  INFO("cluster view after 4 s more: " << json::serialize(view));
  CHECK(str(view, "failover_state") == "no_primary");
  CHECK(is_null(view, "primary"));
  CHECK(integer(view, "epoch") == 0);
  CHECK(str(node_view(admin_port, "node1"), "role") == "standby");
  CHECK(str(node_view(admin_port, "node2"), "role") == "standby");
  CHECK(str(node_view(admin_port, "node0"), "health") == "down");

  // The connected client's write: 57P03 once buffer_timeout (3 s) has passed, naming what the probes saw.
  const std::string out = client.finish(30s);
  INFO("connected client's output:\n" << out);
  const double waited = first_statement_seconds(out);
  CHECK(waited >= 2.8);
  CHECK(waited < 8.0);
  CHECK_THAT(out, Catch::Contains("ERROR:  57P03: no primary in cluster \"main\" within failover.buffer_timeout"));
  CHECK_THAT(out, Catch::Contains("node0: "));
  CHECK_THAT(out, Catch::Contains("still-usable:true"));
  // A new login meanwhile: the same wait, and the error is FATAL.
  const auto login_at = Clock::now();
  RunResult login = baton_psql(listen_port, {std::string("INSERT INTO ") + kTable + " VALUES (3, 0)"});
  const double login_waited = seconds_since(login_at);
  INFO("new client's output: " << login.output);
  CHECK(login.exit_code != 0);
  CHECK(login_waited >= 2.8);
  CHECK_THAT(login.output, Catch::Contains("FATAL:  no primary in cluster \"main\" within failover.buffer_timeout"));
  CHECK(c.query(1, std::string("SELECT count(*) FROM ") + kTable) == "1");

  // Without the token the switchover is refused; with it, node2 is promoted.
  CHECK(http_request(admin_port, "POST", "/api/v1/clusters/main/switchover", R"({"target":"node2"})").status == 401);
  const auto asked_at = Clock::now();
  HttpResult sw = http_request(admin_port, "POST", "/api/v1/clusters/main/switchover", R"({"target":"node2"})",
                               kToken, 30000ms);
  INFO("switchover answer: " << sw.status << " " << sw.body << sw.error);
  REQUIRE(sw.status == 202);
  const json::object answer = parse_object(sw.body);
  CHECK(str(answer, "command") == "switchover");
  CHECK(str(answer, "result") == "accepted");
  CHECK(str(answer, "node") == "node2");

  REQUIRE(wait_until(30s, [&] { return !in_recovery(c, 2) && c.is_primary(2); }));
  CHECK(wait_until(15s, [&] { return str(cluster_view(admin_port), "primary") == "node2"; }));
  std::cout << "[failover-modes] manual: switchover command -> node2 primary in the admin view after "
            << seconds_since(asked_at) << " s\n";
  CHECK(in_recovery(c, 1));
  // node1 re-pointed: streams from node2.
  std::string sender;
  CHECK(wait_until(30s, [&] { return (sender = streams_from(c, 1)) == std::to_string(c.port(2)); }));
  INFO("node1 streams from port " << sender);
  // A write through baton lands on node2 and is then readable on node1.
  RunResult write = baton_psql(listen_port, {std::string("INSERT INTO ") + kTable +
                                             " VALUES (10, inet_server_port()) RETURNING port"});
  INFO("write after the switchover: " << write.output);
  CHECK(write.exit_code == 0);
  CHECK(write.output == std::to_string(c.port(2)) + "\n");
  CHECK(wait_until(15s, [&] {
    RunResult r = c.psql(1, std::string("SELECT port FROM ") + kTable + " WHERE id = 10");
    return r.exit_code == 0 && r.output == std::to_string(c.port(2)) + "\n";
  }));
  // The old primary is fenced.
  json::object old_node;
  CHECK(wait_until(10s, [&] { return str(old_node = node_view(admin_port, "node0"), "health") == "fenced"; }));
  INFO("node0: " << json::serialize(old_node));
  CHECK(integer(cluster_view(admin_port), "epoch") == 1);
  std::cout << "[failover-modes] manual mode test took " << seconds_since(test_start) << " s\n" << std::flush;
}

TEST_CASE("failover modes: follow mode never promotes, follows an outside promotion and refuses a switchover",
          "[failover-modes]") {
  const auto test_start = Clock::now();
  Rig rig("follow");
  REQUIRE(rig.primary_seen);
  PgCluster& c = rig.c;
  const int listen_port = rig.listen_port;
  const int admin_port = rig.admin_port;

  c.signal_node(0, SIGKILL);
  const auto killed_at = Clock::now();
  bool confirmed = false;
  json::object view = wait_state(admin_port, "no_primary", 15s, &confirmed);
  INFO("cluster view: " << json::serialize(view));
  REQUIRE(confirmed);
  std::cout << "[failover-modes] follow: kill -9 -> no_primary after " << seconds_since(killed_at) << " s\n";
  CHECK(is_null(view, "primary"));
  CHECK_THAT(event_texts(admin_port),
             Catch::Contains("primary node0 is down; follow mode: waiting for a node to report itself primary"));

  // baton promotes nothing by itself.
  std::this_thread::sleep_for(4s);
  CHECK(in_recovery(c, 1));
  CHECK(in_recovery(c, 2));
  view = cluster_view(admin_port);
  INFO("cluster view after 4 s more: " << json::serialize(view));
  CHECK(str(view, "failover_state") == "no_primary");
  CHECK(is_null(view, "primary"));

  // An outside manager promotes node1: baton follows it.
  c.query(1, "SELECT pg_promote(true, 60)", "postgres");
  REQUIRE_FALSE(in_recovery(c, 1));
  const auto promoted_at = Clock::now();
  CHECK(wait_until(15s, [&] { return str(view = cluster_view(admin_port), "primary") == "node1"; }));
  INFO("cluster view after the promotion: " << json::serialize(view));
  std::cout << "[failover-modes] follow: outside promotion of node1 -> primary in the admin view after "
            << seconds_since(promoted_at) << " s\n";
  CHECK(str(view, "failover_state") == "healthy");
  RunResult write = baton_psql(listen_port, {std::string("INSERT INTO ") + kTable +
                                             " VALUES (20, inet_server_port()) RETURNING port"});
  INFO("write after the outside promotion: " << write.output);
  CHECK(write.exit_code == 0);
  CHECK(write.output == std::to_string(c.port(1)) + "\n");
  CHECK(c.query(1, std::string("SELECT port FROM ") + kTable + " WHERE id = 20") == std::to_string(c.port(1)));

  // A switchover is refused in follow mode: baton never acts.
  HttpResult sw = http_request(admin_port, "POST", "/api/v1/clusters/main/switchover", R"({"target":"node2"})",
                               kToken, 30000ms);
  INFO("switchover answer: " << sw.status << " " << sw.body << sw.error);
  const json::object answer = parse_object(sw.body);
  CHECK(sw.status == 409);
  CHECK(str(answer, "result") == "conflict");
  CHECK_THAT(str(answer, "message"), Catch::Contains("follow mode"));
  // And nothing moved (the monitor itself refuses it).
  std::this_thread::sleep_for(3s);
  CHECK_THAT(event_texts(admin_port), Catch::Contains("switchover refused: follow mode"));
  CHECK(in_recovery(c, 2));
  CHECK_FALSE(in_recovery(c, 1));
  CHECK(str(cluster_view(admin_port), "primary") == "node1");
  std::cout << "[failover-modes] follow mode test took " << seconds_since(test_start) << " s\n" << std::flush;
}

TEST_CASE("failover modes: a fenced old primary, rebuilt as a standby and enabled, serves reads again",
          "[failover-modes]") {
  const auto test_start = Clock::now();
  Rig rig("auto");
  REQUIRE(rig.primary_seen);
  PgCluster& c = rig.c;
  const int listen_port = rig.listen_port;
  const int admin_port = rig.admin_port;

  c.signal_node(0, SIGKILL);
  const auto killed_at = Clock::now();
  std::string primary_name;
  REQUIRE(wait_until(30s, [&] {
    primary_name = str(cluster_view(admin_port), "primary");
    return primary_name == "node1" || primary_name == "node2";
  }));
  std::cout << "[failover-modes] auto: kill -9 -> " << primary_name << " primary in the admin view after "
            << seconds_since(killed_at) << " s\n";
  const int new_primary = primary_name == "node1" ? 1 : 2;
  const int other = 3 - new_primary;
  REQUIRE(wait_until(10s, [&] { return str(node_view(admin_port, "node0"), "health") == "fenced"; }));
  const bool other_follows =
      wait_until(30s, [&] { return streams_from(c, other) == std::to_string(c.port(new_primary)); });
  if (!other_follows) {  // what the standby says of its WAL receiver, and its log
    std::cout << "node" << other << " WAL receiver: "
              << c.psql(other, "SELECT status, sender_port, received_tli, latest_end_lsn FROM pg_stat_wal_receiver",
                        "postgres").output
              << "\n" << c.log_tail(other, 40) << std::flush;
  }
  REQUIRE(other_follows);

  // The operator rebuilds node0 as a standby of the new primary (and starts it).
  c.rebuild_as_standby(0, new_primary);
  REQUIRE(c.role(0) == "standby");
  CHECK(streams_from(c, 0) == std::to_string(c.port(new_primary)));
  RunResult write = baton_psql(listen_port, {std::string("INSERT INTO ") + kTable +
                                             " VALUES (30, inet_server_port()) RETURNING port"});
  INFO("write after the failover: " << write.output);
  CHECK(write.output == std::to_string(c.port(new_primary)) + "\n");
  CHECK(wait_until(15s, [&] {
    RunResult r = c.psql(0, std::string("SELECT count(*) FROM ") + kTable + " WHERE id = 30");
    return r.exit_code == 0 && r.output == "1\n";
  }));

  // Before the enable: still fenced, given no reads although it is a healthy standby.
  std::this_thread::sleep_for(2s);  // several probes of the rebuilt node
  json::object n0 = node_view(admin_port, "node0");
  INFO("node0 before the enable: " << json::serialize(n0));
  CHECK(str(n0, "health") == "fenced");
  const std::string p0 = std::to_string(c.port(0));
  const std::string p_other = std::to_string(c.port(other));
  std::vector<std::string> before = read_ports(listen_port, 20);
  CHECK(before.size() == 20);
  CHECK(count_of(before, p0) == 0);
  CHECK(count_of(before, p_other) == 20);

  // The enable re-adds it.
  CHECK(http_request(admin_port, "POST", "/api/v1/nodes/node0/enable", "").status == 401);
  const auto enabled_at = Clock::now();
  HttpResult en = http_request(admin_port, "POST", "/api/v1/nodes/node0/enable", "", kToken);
  INFO("enable answer: " << en.status << " " << en.body << en.error);
  CHECK((en.status == 200 || en.status == 202));
  const json::object answer = parse_object(en.body);
  CHECK(str(answer, "command") == "enable");
  CHECK(str(answer, "node") == "node0");
  CHECK(wait_until(15s, [&] {
    n0 = node_view(admin_port, "node0");
    return str(n0, "health") == "up" && str(n0, "role") == "standby";
  }));
  INFO("node0 after the enable: " << json::serialize(n0));
  std::cout << "[failover-modes] enable of node0 -> healthy standby in the admin view after "
            << seconds_since(enabled_at) << " s\n";
  CHECK(integer(n0, "timeline") >= 2);
  json::object view = cluster_view(admin_port);
  INFO("cluster view: " << json::serialize(view));
  CHECK(str(view, "primary") == primary_name);
  CHECK(str(view, "failover_state") == "healthy");

  // It takes reads again, beside the other standby (p2c: each read has at least a one-in-four
  // chance of node0, one in two once node0 has an idle pooled connection; fewer than 3 of 40 is
  // practically impossible if node0 is in rotation).
  std::vector<std::string> after = read_ports(listen_port, 40);
  INFO("reads after the enable: node0 " << count_of(after, p0) << ", node" << other << " " << count_of(after, p_other));
  CHECK(after.size() == 40);
  CHECK(count_of(after, p0) >= 3);
  CHECK(count_of(after, p_other) >= 3);
  CHECK(count_of(after, p0) + count_of(after, p_other) == 40);
  // And what is written through baton reaches it.
  RunResult later = baton_psql(listen_port, {std::string("INSERT INTO ") + kTable +
                                             " VALUES (31, inet_server_port()) RETURNING port"});
  CHECK(later.output == std::to_string(c.port(new_primary)) + "\n");
  CHECK(wait_until(15s, [&] {
    RunResult r = c.psql(0, std::string("SELECT count(*) FROM ") + kTable + " WHERE id = 31");
    return r.exit_code == 0 && r.output == "1\n";
  }));
  std::cout << "[failover-modes] re-add test took " << seconds_since(test_start) << " s\n" << std::flush;
}
