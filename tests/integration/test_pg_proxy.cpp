// Integration tests of baton's PostgreSQL proxy core against real PostgreSQL 15 with psql, pgbench and psycopg2.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <regex>
#include <string>
#include <thread>

#include "tests/integration/harness.hpp"

using baton::test::BatonProcess;
using baton::test::PgCluster;
using baton::test::RunResult;
using baton::test::free_port;
using baton::test::run;
using baton::test::run_client;
using baton::test::shell_quote;
using baton::test::value_of;

namespace {

using namespace std::chrono_literals;

constexpr const char* kPsql = "/usr/lib/postgresql/15/bin/psql";
constexpr const char* kPgbench = "/usr/lib/postgresql/15/bin/pgbench";
constexpr const char* kPython = "/usr/bin/python3";

std::string clients_dir() { return baton::test::source_dir() + "/tests/integration/clients"; }

// What a test changes in the configuration; everything else is the same small setup.
struct Setup {
  int listen_port = 0;
  int admin_port = 0;  // 0: any free port
  int workers = 2;
  std::string general;     // extra lines under [general]
  std::string pool;        // extra lines under [pool] (after mode and pool_size)
  int pool_size = 5;
  std::string mode = "transaction";
  int max_client_conn = 200;
  std::string listener;    // extra lines in the listener
  std::string cluster;     // extra lines in the cluster
  std::string app_user;    // extra lines in the app user
  std::string more;        // appended at the end (more listeners, clusters)
};

std::string nodes_toml(const PgCluster& c) {
  std::string out;
  for (int node = 0; node < c.node_count(); ++node) {
    out += "  [[clusters.nodes]]\n  name = \"node" + std::to_string(node) + "\"\n  host = \"127.0.0.1\"\n  port = " +
           std::to_string(c.port(node)) + "\n";
  }
  return out;
}

std::string config(const PgCluster& c, const Setup& s) {
  return "[general]\nworkers = " + std::to_string(s.workers) + "\nlog_level = \"info\"\n" + s.general +
         "\n[admin]\nlisten = \"127.0.0.1:" + std::to_string(s.admin_port != 0 ? s.admin_port : free_port()) + "\"\n" +
         "\n[pool]\nmode = \"" + s.mode + "\"\npool_size = " + std::to_string(s.pool_size) +
         "\nmax_client_conn = " + std::to_string(s.max_client_conn) + "\n" + s.pool +
         "\n[[listeners]]\nname = \"pg\"\nlisten = \"127.0.0.1:" + std::to_string(s.listen_port) +
         "\"\ncluster = \"main\"\nrole = \"primary\"\n" + s.listener +
         "\n[[clusters]]\nname = \"main\"\nmonitor_user = \"baton_monitor\"\nmonitor_password = \"monitor-secret\"\n" +
         s.cluster + nodes_toml(c) +
         "\n[[users]]\nname = \"app\"\npassword = \"app-secret\"\n" + s.app_user +
         "\n[[users]]\nname = \"md5user\"\nauth = \"md5\"\npassword = \"md5-secret\"\n"
         "\n[[users]]\nname = \"clearuser\"\nauth = \"scram-sha-256\"\npassword = \"clear-secret\"\n" +
         s.more;
}

std::string conninfo(int port, const std::string& user, const std::string& extra = "sslmode=disable") {
  return "host=127.0.0.1 port=" + std::to_string(port) + " user=" + user + " dbname=app connect_timeout=10 " + extra;
}

// psql through baton; `args` are further psql arguments (already quoted).
RunResult psql_via(int port, const std::string& user, const std::string& password, const std::string& args,
                   const std::string& extra = "sslmode=disable") {
  return run("PGPASSWORD=" + shell_quote(password) + " " + kPsql + " " + shell_quote(conninfo(port, user, extra)) +
                 " -XAtq " + args,
             60s);
}

// Client backends of `user` on the primary, as the server sees them.
int backends(const PgCluster& c, const std::string& user) {
  RunResult r = c.psql(0, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND usename = '" +
                              user + "'");
  if (r.exit_code != 0) return -1;
  return std::stoi(r.output);
}

// Waits (bounded) until the server has no backends of `user` left from earlier tests.
void wait_no_backends(const PgCluster& c, const std::string& user) {
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (backends(c, user) != 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
}

struct Sampled {
  RunResult result;
  int max_backends = -1;
  int samples = 0;
};

// Runs `command` while sampling, in a loop, how many backends `user` has on the primary.
Sampled run_sampling(const PgCluster& c, const std::string& user, const std::string& command,
                     std::chrono::seconds timeout) {
  Sampled s;
  auto job = std::async(std::launch::async, [&] { return run(command, timeout); });
  const auto deadline = std::chrono::steady_clock::now() + timeout + 10s;
  while (job.wait_for(50ms) != std::future_status::ready && std::chrono::steady_clock::now() < deadline) {
    s.max_backends = std::max(s.max_backends, backends(c, user));
    ++s.samples;
  }
  s.result = job.get();
  return s;
}

// One worker with pool_size 1: every client's statements go through one server connection.
Setup one_server_connection() {
  Setup s;
  s.listen_port = free_port();
  s.pool_size = 1;
  s.workers = 1;
  return s;
}

std::string temp_dir_for(const std::string& prefix) { return baton::test::make_temp_dir(prefix); }

}  // namespace

TEST_CASE("psql through baton: values, multi-statement strings, errors, \\copy", "[proxy]") {
  PgCluster& c = PgCluster::shared();
  Setup s;
  s.listen_port = free_port();
  BatonProcess baton(config(c, s), {s.listen_port});

  RunResult values = psql_via(s.listen_port, "app", "app-secret",
                              "-c " + shell_quote("SELECT 6 * 7, 'x' || 'y', current_user, current_database()"));
  CHECK(values.exit_code == 0);
  CHECK(values.output == "42|xy|app|app\n");

  // One Query message with four statements; psql 15 prints every result.
  c.query(0, "DROP TABLE IF EXISTS itest_multi");
  RunResult multi = psql_via(s.listen_port, "app", "app-secret",
                             "-c " + shell_quote("CREATE TABLE itest_multi (v int); "
                                                 "INSERT INTO itest_multi SELECT generate_series(1, 10); "
                                                 "SELECT sum(v) FROM itest_multi"));
  CHECK(multi.exit_code == 0);
  CHECK(multi.output == "55\n");
  CHECK(c.query(0, "SELECT count(*), sum(v) FROM itest_multi") == "10|55");

  // Errors do not end the session: psql goes on with the next commands on the same connection.
  const std::string script =
      "SELECT 'before', pg_backend_pid() > 0;\n"
      "SELECT 1/0;\n"
      "SELECT 'after';\n"
      "BEGIN;\n"
      "SELECT 'in tx';\n"
      "SELECT no_such_column FROM pg_class;\n"
      "SELECT 'never shown';\n"
      "ROLLBACK;\n"
      "SELECT 'after rollback', current_user;\n";
  RunResult errors = run("printf '%s' " + shell_quote(script) + " | PGPASSWORD=app-secret " + kPsql + " " +
                             shell_quote(conninfo(s.listen_port, "app")) + " -XAtq -v ON_ERROR_STOP=0 -f -",
                         60s);
  CHECK(errors.exit_code == 0);
  CHECK_THAT(errors.output, Catch::Contains("before|t\n") && Catch::Contains("division by zero") &&
                                Catch::Contains("after\n") && Catch::Contains("in tx\n") &&
                                Catch::Contains("column \"no_such_column\" does not exist") &&
                                Catch::Contains("current transaction is aborted") &&
                                Catch::Contains("after rollback|app\n"));
  CHECK(errors.output.find("never shown") == std::string::npos);
  CHECK(errors.output.find("division by zero") < errors.output.find("after rollback"));

  // \copy in and out.
  const std::string dir = temp_dir_for("baton-itest-copy-");
  {
    std::ofstream f(dir + "/in.tsv");
    for (int i = 1; i <= 2000; ++i) f << i << "\tname " << i << "\n";
  }
  RunResult prep = psql_via(s.listen_port, "app", "app-secret",
                            "-c " + shell_quote("DROP TABLE IF EXISTS itest_copy; CREATE TABLE itest_copy (id int, name text)"));
  CHECK(prep.exit_code == 0);
  RunResult copy_in = psql_via(s.listen_port, "app", "app-secret",
                               "-c " + shell_quote("\\copy itest_copy FROM '" + dir + "/in.tsv'"));
  CHECK(copy_in.exit_code == 0);
  CHECK(c.query(0, "SELECT count(*), sum(id), count(DISTINCT name) FROM itest_copy") == "2000|2001000|2000");
  RunResult copy_out = psql_via(s.listen_port, "app", "app-secret",
                                "-c " + shell_quote("\\copy (SELECT id, name FROM itest_copy ORDER BY id) TO '" + dir +
                                                    "/out.tsv'"));
  CHECK(copy_out.exit_code == 0);
  CHECK(baton::test::read_file(dir + "/out.tsv") == baton::test::read_file(dir + "/in.tsv"));
  c.query(0, "DROP TABLE itest_copy; DROP TABLE itest_multi;");
  run("rm -rf " + shell_quote(dir));
}

TEST_CASE("pgbench simple, extended and prepared: 50 clients over pool_size 5", "[proxy]") {
  // Both ways a worker does its I/O (general.io; the other tests run with the default, auto).
  const std::string io = GENERATE(std::string("io_uring"), std::string("epoll"));
  INFO("general.io = " << io);
  PgCluster& c = PgCluster::shared();
  // The pgbench tables, made directly on the primary as app.
  RunResult init = run(std::string("PGPASSWORD=app-secret ") + kPgbench + " -i -s 1 -q " +
                           shell_quote(conninfo(c.port(0), "app", "sslmode=prefer")),
                       120s);
  REQUIRE(init.exit_code == 0);
  wait_no_backends(c, "app");

  Setup s;
  s.listen_port = free_port();
  s.general = "io = \"" + io + "\"\n";
  BatonProcess baton(config(c, s), {s.listen_port});
  const std::regex processed(R"(number of transactions actually processed: (\d+))");
  const std::regex failed(R"(number of failed transactions: (\d+))");

  for (const char* mode : {"simple", "extended", "prepared"}) {
    INFO("pgbench -M " << mode);
    // pgbench's PQprepare waits per thread, so -M prepared needs a thread per client.
    const std::string threads = std::string(mode) == "prepared" ? "50" : "2";
    Sampled sampled = run_sampling(c, "app",
                                   std::string("PGPASSWORD=app-secret ") + kPgbench + " -n -M " + mode +
                                       " -c 50 -j " + threads + " -T 5 " +
                                       shell_quote(conninfo(s.listen_port, "app")),
                                   90s);
    INFO(sampled.result.output);
    CHECK(sampled.result.exit_code == 0);
    std::smatch m;
    REQUIRE(std::regex_search(sampled.result.output, m, processed));
    CHECK(std::stol(m[1]) > 0);
    REQUIRE(std::regex_search(sampled.result.output, m, failed));
    CHECK(m[1] == "0");
    CHECK(sampled.samples > 5);
    CHECK(sampled.max_backends >= 1);
    CHECK(sampled.max_backends <= 5);
  }
  // What the transactions did is on the server: pgbench_history has a row per transaction.
  CHECK(std::stol(c.query(0, "SELECT count(*) FROM pgbench_history")) > 0);
  // (Looked at last: the line comes after the listeners open, which is all the start waits for.)
  CHECK_THAT(baton.log(), Catch::Contains("baton started with 2 workers (" + io + ")"));
}

TEST_CASE("psycopg2: transactions, errors, COPY both ways, 100k-row results", "[proxy]") {
  PgCluster& c = PgCluster::shared();
  Setup s;
  s.listen_port = free_port();
  BatonProcess baton(config(c, s), {s.listen_port});
  RunResult r = run_client("psycopg_basics.py", std::to_string(s.listen_port), 180s);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(value_of(r.output, "after_commit_rollback") == "1:committed");
  CHECK(value_of(r.output, "error_sqlstate") == "23505");
  CHECK(value_of(r.output, "aborted_sqlstate") == "25P02");
  CHECK(value_of(r.output, "ids_after_error") == "1,4");
  CHECK(value_of(r.output, "copy_in") == "5000,12502500");
  CHECK(value_of(r.output, "copy_out_equal") == "True");
  CHECK(value_of(r.output, "copy_out_lines") == "5000");
  CHECK(value_of(r.output, "named_cursor") == "100000,5000050000");
  CHECK(value_of(r.output, "fetchall") == "100000,5000050000");
  CHECK_THAT(r.output, Catch::EndsWith("done\n"));
  // The script dropped its tables through baton.
  CHECK(c.query(0, "SELECT count(*) FROM pg_class WHERE relname IN ('itest_tx', 'itest_copy_py')") == "0");
}

TEST_CASE("transaction pooling keeps each client's settings on a shared server connection", "[proxy]") {
  PgCluster& c = PgCluster::shared();
  wait_no_backends(c, "app");
  // One worker: with two, each hand-over between clients on different workers closes the server
  // connection and opens a new one (per-worker pools), so they would not share a backend.
  const Setup s = one_server_connection();
  BatonProcess baton(config(c, s), {s.listen_port});
  const std::string server_tz = c.query(0, "SHOW TimeZone");
  RunResult r = run_client("settings_isolation.py", std::to_string(s.listen_port));
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(value_of(r.output, "server_pids") == "1");  // both clients were served by one backend
  CHECK(value_of(r.output, "b_initial") == "b|\"$user\", public|" + server_tz + "|1234ms");
  CHECK(value_of(r.output, "a_values") == "a|itest_a, public|Asia/Tokyo|0");
  CHECK(value_of(r.output, "b_values") == "b|\"$user\", public|America/Lima|1234ms");
  CHECK(value_of(r.output, "a_reported") == "a,Asia/Tokyo");
  CHECK(value_of(r.output, "b_reported") == "b,America/Lima");
  CHECK(value_of(r.output, "a_in_tx") == "Asia/Tokyo");
  CHECK(value_of(r.output, "b_after_a_tx") == "America/Lima|1234ms");
  CHECK_THAT(r.output, Catch::EndsWith("done\n"));
  CHECK(backends(c, "app") == 1);
}

TEST_CASE("a pooled server connection whose backend was terminated while idle is not reused", "[proxy]") {
  // The check before reuse differs by io: the epoll reactor's record, or the ring's watch.
  const std::string io = GENERATE(std::string("io_uring"), std::string("epoll"));
  INFO("general.io = " << io);
  PgCluster& c = PgCluster::shared();
  wait_no_backends(c, "app");
  Setup s = one_server_connection();  // the next statement gets the dead one unless the check drops it
  s.general = "io = \"" + io + "\"\n";
  BatonProcess baton(config(c, s), {s.listen_port});
  RunResult r = run_client("backend_gone.py", std::to_string(s.listen_port) + " " + std::to_string(c.port(0)) + " 5");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(value_of(r.output, "errors") == "0");
  CHECK(value_of(r.output, "distinct_pids") == "6");  // a new backend after each of the five kills
  CHECK_THAT(r.output, Catch::EndsWith("done\n"));
  CHECK_THAT(baton.log(), Catch::Contains("1 workers (" + io + ")"));
}

TEST_CASE("an extended-protocol batch that fails before its Sync arrives gets one ReadyForQuery", "[proxy]") {
  PgCluster& c = PgCluster::shared();
  wait_no_backends(c, "app");
  // Messages the client sends after the error, before its Sync, are skipped by the server: baton
  // expected answers to them and dropped the server connection ("unexpected ReadyForQuery").
  const Setup s = one_server_connection();
  BatonProcess baton(config(c, s), {s.listen_port});
  RunResult r = run_client("error_midbatch.py", std::to_string(s.listen_port) + " 3");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(value_of(r.output, "first_error") == "22012");
  CHECK(value_of(r.output, "after_sync") == "Z");
  CHECK(value_of(r.output, "query_skipped") == "Z");
  CHECK(value_of(r.output, "values") == "2,2,2,7,8");
  CHECK(value_of(r.output, "errors") == "0");
  CHECK_THAT(r.output, Catch::EndsWith("done\n"));
  CHECK(backends(c, "app") == 1);  // the one server connection went on
}

TEST_CASE("LISTEN, advisory locks and temp tables pin the server connection until the client leaves", "[proxy]") {
  PgCluster& c = PgCluster::shared();
  Setup s;
  s.listen_port = free_port();
  s.pool_size = 2;
  // One worker, so that the pinned connection goes back to the pool the next clients take from
  // (with two, a hand-over between workers closes it and opens another).
  s.workers = 1;
  BatonProcess baton(config(c, s), {s.listen_port});
  const std::string args = std::to_string(s.listen_port) + " " + std::to_string(c.port(0));

  SECTION("LISTEN") {
    RunResult r = run_client("pinning.py", args + " listen");
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(value_of(r.output, "pinned_kept_pid") == "True");
    CHECK(value_of(r.output, "others_served") == "20");
    CHECK(value_of(r.output, "others_on_pinned_pid") == "0");
    CHECK(value_of(r.output, "notifies") == "itest_channel:hello");
    CHECK(value_of(r.output, "reached_pinned_backend") == "True");
    CHECK(value_of(r.output, "next_user_listening") == "0");
  }
  SECTION("advisory lock") {
    RunResult r = run_client("pinning.py", args + " advisory");
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(value_of(r.output, "pinned_kept_pid") == "True");
    CHECK(value_of(r.output, "others_served") == "20");
    CHECK(value_of(r.output, "others_on_pinned_pid") == "0");
    CHECK(value_of(r.output, "server_advisory_locks_held") == "1");
    CHECK(value_of(r.output, "reached_pinned_backend") == "True");
    CHECK(value_of(r.output, "next_user_advisory") == "0");
    CHECK(value_of(r.output, "server_advisory_after") == "0");
  }
  SECTION("temp table") {
    RunResult r = run_client("pinning.py", args + " temp");
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(value_of(r.output, "pinned_kept_pid") == "True");
    CHECK(value_of(r.output, "others_served") == "20");
    CHECK(value_of(r.output, "others_on_pinned_pid") == "0");
    CHECK(value_of(r.output, "server_temp_tables") == "1");
    CHECK(value_of(r.output, "reached_pinned_backend") == "True");
    CHECK(value_of(r.output, "next_user_temp_gone") == "True");
    CHECK(value_of(r.output, "server_temp_after") == "0");
    CHECK(c.query(0, "SELECT count(*) FROM pg_class WHERE relname = 'itest_pinned_tmp'") == "0");
  }
  CHECK(backends(c, "app") <= 2);
}

TEST_CASE("session pooling: one backend per client, reset when it leaves", "[proxy]") {
  PgCluster& c = PgCluster::shared();
  wait_no_backends(c, "app");
  Setup s;
  s.listen_port = free_port();
  s.workers = 1;  // the next client must reach the same per-worker pool
  SECTION("pool_mode on the user") {
    s.app_user = "pool_mode = \"session\"\npool_size = 1\n";
  }
  SECTION("pool_mode on the listener") {
    s.listener = "pool_mode = \"session\"\n";
    s.pool_size = 1;
  }
  BatonProcess baton(config(c, s), {s.listen_port});
  RunResult r = run_client("session_mode.py", std::to_string(s.listen_port) + " app app-secret");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(value_of(r.output, "first_pids") == "1");
  CHECK(value_of(r.output, "first_work_mem") == "7777kB");
  CHECK(value_of(r.output, "second_same_backend") == "True");
  CHECK(value_of(r.output, "second_work_mem") == c.query(0, "SHOW work_mem"));
  // The server's last statement on that backend is the reset query (after the second client left).
  const std::string pid = value_of(r.output, "first_pid");
  REQUIRE(pid.find_first_not_of("0123456789") == std::string::npos);
  std::string last;
  for (int i = 0; i < 50 && last != "DISCARD ALL|idle"; ++i) {
    last = c.query(0, "SELECT query || '|' || state FROM pg_stat_activity WHERE pid = " + pid);
    if (last != "DISCARD ALL|idle") std::this_thread::sleep_for(100ms);
  }
  CHECK(last == "DISCARD ALL|idle");
  CHECK(backends(c, "app") == 1);
}

TEST_CASE("an active client waits hot for its next request; after a second or two idle it parks", "[proxy]") {
  PgCluster& c = PgCluster::shared();
  Setup s;
  s.listen_port = free_port();
  s.admin_port = free_port();
  BatonProcess baton(config(c, s), {s.listen_port});
  RunResult r = run_client("hot_wait.py", std::to_string(s.listen_port) + " " + std::to_string(s.admin_port), 60s);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // Logged in and left alone: parked. Answered: hot. Quiet for 3.5 s (the maintenance tick is 1 s;
  // a hot wait ends at the first tick after a whole one): parked again, and the next query works.
  CHECK(value_of(r.output, "hot_after_login_and_quiet") == "0");
  CHECK(value_of(r.output, "hot_after_query") == "1");
  CHECK(value_of(r.output, "hot_after_quiet") == "0");
  CHECK(value_of(r.output, "answer_after_park") == "42");
  CHECK(value_of(r.output, "hot_after_second_query") == "1");
  CHECK(value_of(r.output, "long_answers") == "200,300,70000");
  CHECK(value_of(r.output, "long_first_query") == "70000");
  // Ten clients, each with one query answered, then all quiet: every one parks; all answer again.
  CHECK(value_of(r.output, "hot_with_ten") == "10");
  CHECK(value_of(r.output, "hot_with_ten_after_quiet") == "0");
  CHECK(value_of(r.output, "ten_answers_after_park") == "45");
}

TEST_CASE("a cancel request through baton stops the query with 57014 and the session goes on", "[proxy]") {
  PgCluster& c = PgCluster::shared();
  Setup s;
  s.listen_port = free_port();
  BatonProcess baton(config(c, s), {s.listen_port});
  RunResult r = run_client("cancel.py", std::to_string(s.listen_port));
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(value_of(r.output, "sqlstate") == "57014");
  CHECK_THAT(value_of(r.output, "message"), Catch::Contains("canceling statement due to user request"));
  CHECK(value_of(r.output, "elapsed_ok") == "True");
  CHECK(value_of(r.output, "after_cancel") == "42");
  CHECK(value_of(r.output, "tx_sqlstate") == "57014");
  CHECK(value_of(r.output, "after_tx_cancel") == "still here");
  CHECK_THAT(r.output, Catch::EndsWith("done\n"));
  // The server cancelled it (its log says so), and no pg_sleep is left running.
  CHECK_THAT(c.log_tail(0, 200), Catch::Contains("canceling statement due to user request"));
  CHECK(c.query(0, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%' AND state = 'active'") ==
        "0");
}

TEST_CASE("nodes named by a host name: queries and cancel requests reach them", "[proxy]") {
  // "localhost": baton looks the name up on a thread of its own (a worker's io_context cannot use
  // Asio's resolver); it may give ::1 first, where PostgreSQL does not listen, and then 127.0.0.1.
  PgCluster& c = PgCluster::shared();
  Setup s;
  s.listen_port = free_port();
  std::string conf = config(c, s);
  const std::string ip = "host = \"127.0.0.1\"";
  int named = 0;
  for (std::size_t at = conf.find(ip); at != std::string::npos; at = conf.find(ip, at)) {
    conf.replace(at, ip.size(), "host = \"localhost\"");
    ++named;
  }
  REQUIRE(named == c.node_count());
  BatonProcess baton(conf, {s.listen_port});
  RunResult values = psql_via(s.listen_port, "app", "app-secret", "-c " + shell_quote("SELECT 6 * 7, current_user"));
  CHECK(values.exit_code == 0);
  CHECK(values.output == "42|app\n");
  // A cancel request goes to the node by its name too.
  RunResult r = run_client("cancel.py", std::to_string(s.listen_port));
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(value_of(r.output, "sqlstate") == "57014");
  CHECK(value_of(r.output, "after_cancel") == "42");
  CHECK_THAT(r.output, Catch::EndsWith("done\n"));
}

TEST_CASE("TLS between clients and baton (listener tls require)", "[proxy][tls]") {
  PgCluster& c = PgCluster::shared();
  const std::string certs = c.cert_dir();
  Setup s;
  s.listen_port = free_port();
  s.listener = "tls = { mode = \"require\", cert_file = \"" + certs + "/server.crt\", key_file = \"" + certs +
               "/server.key\" }\n";
  BatonProcess baton(config(c, s), {s.listen_port});

  RunResult ok = psql_via(s.listen_port, "app", "app-secret", "-c 'SELECT current_user' -c '\\conninfo'",
                          "sslmode=require");
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.output, Catch::StartsWith("app\n") && Catch::Contains("SSL connection (protocol: TLSv1."));

  RunResult plain = psql_via(s.listen_port, "app", "app-secret", "-c 'SELECT 1'", "sslmode=disable");
  CHECK(plain.exit_code != 0);
  CHECK_THAT(plain.output, Catch::Contains("FATAL") && Catch::Contains("SSL connection is required"));

  const std::string py =
      "import psycopg2\n"
      "c = psycopg2.connect(host='localhost', hostaddr='127.0.0.1', port=" + std::to_string(s.listen_port) +
      ", user='app', password='app-secret', dbname='app', sslmode='verify-full', sslrootcert='" + certs +
      "/ca.crt')\n"
      "cur = c.cursor()\n"
      "cur.execute('SELECT 40 + 2')\n"
      "print('value=%d' % cur.fetchone()[0])\n"
      "print('ssl_in_use=%s' % c.info.ssl_in_use)\n"
      "print('protocol=%s' % c.info.ssl_attribute('protocol'))\n";
  RunResult verified = run(std::string(kPython) + " -c " + shell_quote(py), 60s);
  INFO(verified.output);
  CHECK(verified.exit_code == 0);
  CHECK(value_of(verified.output, "value") == "42");
  CHECK(value_of(verified.output, "ssl_in_use") == "True");
  CHECK_THAT(value_of(verified.output, "protocol"), Catch::StartsWith("TLSv1."));
}

TEST_CASE("TLS between baton and the servers (server_tls verify-full)", "[proxy][tls]") {
  PgCluster& c = PgCluster::shared();
  const std::string certs = c.cert_dir();
  // baton verifies the node's name, 127.0.0.1, against the certificate: it must be in the SAN.
  RunResult san = run("openssl x509 -noout -ext subjectAltName -in " + shell_quote(certs + "/server.crt"), 30s);
  REQUIRE(san.exit_code == 0);
  REQUIRE_THAT(san.output, Catch::Contains("IP Address:127.0.0.1"));
  wait_no_backends(c, "app");

  SECTION("the right CA") {
    Setup s;
    s.listen_port = free_port();
    s.cluster = "server_tls = { mode = \"verify-full\", ca_file = \"" + certs + "/ca.crt\" }\n";
    BatonProcess baton(config(c, s), {s.listen_port});
    RunResult r = psql_via(s.listen_port, "app", "app-secret",
                           "-c " + shell_quote("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"));
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::StartsWith("t|TLSv1."));
    // What the server sees of baton's (pooled, idle) connections: all of them SSL.
    const std::string seen = c.query(
        0, "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
           "WHERE a.usename = 'app'");
    CHECK(seen == "1|1");
  }
  SECTION("another CA: baton refuses the server") {
    const std::string other = temp_dir_for("baton-itest-ca-");
    REQUIRE(run("bash " + shell_quote(baton::test::source_dir() + "/tests/fixtures/make_certs.sh") + " " +
                shell_quote(other))
                .exit_code == 0);
    Setup s;
    s.listen_port = free_port();
    s.cluster = "server_tls = { mode = \"verify-full\", ca_file = \"" + other + "/ca.crt\" }\n";
    BatonProcess baton(config(c, s), {s.listen_port});
    RunResult r = psql_via(s.listen_port, "app", "app-secret", "-c 'SELECT 1'");
    CHECK(r.exit_code != 0);
    // The monitor cannot verify the servers either: no primary, and the error says why.
    CHECK_THAT(r.output, Catch::Contains("57P03") || Catch::Contains("no primary"));
    CHECK_THAT(r.output, Catch::Contains("certificate verify failed"));
    CHECK(backends(c, "app") == 0);
    run("rm -rf " + shell_quote(other));
  }
}

TEST_CASE("baton logs into the servers with md5 and cleartext passwords", "[proxy]") {
  PgCluster& c = PgCluster::shared();
  wait_no_backends(c, "md5user");
  wait_no_backends(c, "clearuser");
  Setup s;
  s.listen_port = free_port();
  BatonProcess baton(config(c, s), {s.listen_port});
  // md5user: the client authenticates to baton with md5; pg_hba makes the server ask baton for md5.
  RunResult md5 = psql_via(s.listen_port, "md5user", "md5-secret", "-c 'SELECT current_user, 1 + 1'");
  CHECK(md5.exit_code == 0);
  CHECK(md5.output == "md5user|2\n");
  // clearuser: SCRAM from the client; the server asks baton for the cleartext password.
  RunResult clear = psql_via(s.listen_port, "clearuser", "clear-secret", "-c 'SELECT current_user, 2 + 2'");
  CHECK(clear.exit_code == 0);
  CHECK(clear.output == "clearuser|4\n");
  // The server connections baton opened stay in its pool.
  CHECK(backends(c, "md5user") == 1);
  CHECK(backends(c, "clearuser") == 1);
  // A wrong md5 password is refused by baton itself.
  RunResult wrong = psql_via(s.listen_port, "md5user", "nope", "-c 'SELECT 1'");
  CHECK(wrong.exit_code != 0);
  CHECK_THAT(wrong.output, Catch::Contains("password authentication failed for user \"md5user\""));
}

TEST_CASE("1,000 concurrent clients over pool_size 10", "[proxy][load]") {
  PgCluster& c = PgCluster::shared();
  rlimit nofile{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &nofile) == 0);
  nofile.rlim_cur = nofile.rlim_max;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &nofile) == 0);
  REQUIRE(nofile.rlim_cur >= 4096);
  wait_no_backends(c, "app");

  Setup s;
  s.listen_port = free_port();
  s.pool_size = 10;
  s.max_client_conn = 1100;
  BatonProcess baton(config(c, s), {s.listen_port});
  Sampled sampled = run_sampling(c, "app",
                                 "ulimit -n 4096; " + std::string(kPython) + " -B " +
                                     shell_quote(clients_dir() + "/many_clients.py") + " " +
                                     std::to_string(s.listen_port) + " 1000 3",
                                 300s);
  INFO(sampled.result.output);
  CHECK(sampled.result.exit_code == 0);
  CHECK(value_of(sampled.result.output, "connected") == "1000");
  CHECK(value_of(sampled.result.output, "max_open_at_once") == "1000");
  CHECK(value_of(sampled.result.output, "queries_ok") == "3000");
  CHECK(value_of(sampled.result.output, "sum") == "1498500");  // 3 * (0 + 1 + ... + 999)
  CHECK(value_of(sampled.result.output, "errors") == "0");
  CHECK(sampled.samples > 5);
  CHECK(sampled.max_backends >= 1);
  CHECK(sampled.max_backends <= 10);
}

TEST_CASE("bad input is refused with the right SQLSTATE while other sessions keep working", "[proxy]") {
  PgCluster& c = PgCluster::shared();
  Setup s;
  s.listen_port = free_port();

  SECTION("logins, unreachable server, malformed bytes, silent clients, pool wait timeout") {
    const int dead_listener = free_port();
    const int closed_port = free_port();  // nothing listens here
    s.general = "client_login_timeout = \"1s\"\n";
    s.pool = "query_wait_timeout = \"1s\"\nserver_connect_timeout = \"2s\"\n";
    s.app_user = "pool_size = 1\n";
    s.more = "\n[[listeners]]\nname = \"dead\"\nlisten = \"127.0.0.1:" + std::to_string(dead_listener) +
             "\"\ncluster = \"dead\"\nrole = \"primary\"\n"
             "\n[[clusters]]\nname = \"dead\"\nmonitor_user = \"baton_monitor\"\nmonitor_password = \"x\"\n"
             "failover = { buffer_timeout = \"1s\" }\n"
             "  [[clusters.nodes]]\n  name = \"gone\"\n  host = \"127.0.0.1\"\n  port = " +
             std::to_string(closed_port) + "\n";
    BatonProcess baton(config(c, s), {s.listen_port, dead_listener});
    RunResult r = run_client("bad_input.py", "many " + std::to_string(s.listen_port) + " " + std::to_string(dead_listener),
                         120s);
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(value_of(r.output, "unknown_user") == "FATAL|28P01|password authentication failed for user \"no_such_user\"");
    CHECK(value_of(r.output, "unknown_user_closed") == "True");
    CHECK(value_of(r.output, "wrong_password") == "FATAL|28P01|password authentication failed for user \"app\"");
    CHECK(value_of(r.output, "unknown_database") == "FATAL|3D000|database \"no_such_db\" does not exist");
    CHECK(value_of(r.output, "unknown_database_closed") == "True");
    // No node of cluster "dead" answers: no primary within its buffer_timeout, and the probes' reason.
    CHECK_THAT(value_of(r.output, "unreachable"),
               Catch::StartsWith("FATAL|57P03|no primary in cluster \"dead\"") &&
                   Catch::Contains("gone: ") && Catch::Contains("port " + std::to_string(closed_port)));
    CHECK(value_of(r.output, "unreachable_closed") == "True");
    CHECK(value_of(r.output, "unreachable_fast") == "True");
    CHECK_THAT(value_of(r.output, "startup_oversized"), Catch::StartsWith("FATAL|08P01|"));
    CHECK(value_of(r.output, "startup_oversized_closed") == "True");
    CHECK_THAT(value_of(r.output, "typed_before_login"), Catch::StartsWith("FATAL|08P01|"));
    CHECK(value_of(r.output, "typed_before_login_closed") == "True");
    CHECK(value_of(r.output, "query_length_3_login") == "ok");
    CHECK(value_of(r.output, "query_length_3_first_query") == "42");
    CHECK_THAT(value_of(r.output, "query_length_3"), Catch::StartsWith("FATAL|08P01|"));
    CHECK(value_of(r.output, "query_length_3_closed") == "True");
    CHECK_THAT(value_of(r.output, "query_oversized"), Catch::StartsWith("FATAL|08P01|"));
    CHECK(value_of(r.output, "query_oversized_closed") == "True");
    CHECK_THAT(value_of(r.output, "silent"), Catch::StartsWith("FATAL|08P01|"));
    CHECK(value_of(r.output, "silent_closed") == "True");
    CHECK(value_of(r.output, "silent_after_timeout") == "True");
    CHECK(value_of(r.output, "waiter_login") == "ok");
    CHECK_THAT(value_of(r.output, "pool_wait"), Catch::Contains("query_wait_timeout"));
    CHECK(value_of(r.output, "pool_wait_after_timeout") == "True");
    CHECK(value_of(r.output, "holder_continues") == "2");
    CHECK(value_of(r.output, "keeper_ok") == "11");
    CHECK(baton.running());
  }
  SECTION("max_client_conn 2: the third client gets 53300") {
    s.max_client_conn = 2;
    BatonProcess baton(config(c, s), {s.listen_port});
    RunResult r = run_client("bad_input.py", "toomany " + std::to_string(s.listen_port), 60s);
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(value_of(r.output, "second_login") == "ok");
    CHECK(value_of(r.output, "third") == "FATAL|53300|sorry, too many clients already");
    CHECK(value_of(r.output, "third_closed") == "True");
    CHECK(value_of(r.output, "fourth_login") == "ok");
    CHECK(value_of(r.output, "fourth_query") == "fourth");
    CHECK(value_of(r.output, "keeper_ok") == "2");
    CHECK(baton.running());
  }
}
