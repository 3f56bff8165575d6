// Real drivers' prepared statements through baton in transaction pooling, more clients than server connections.
//
// Every test starts baton with 2 workers and pool_size 2 in front of the shared cluster's primary
// and connects 6-8 clients, so a statement one client prepared on one server connection is used on
// others. The driver programs live in tests/integration/drivers/ and print what they saw; the tests
// compare that output exactly. The database "drivers" logs every statement
// (log_min_duration_statement = 0), and the server log then proves that the server ran named
// statements: PostgreSQL logs "execute <name>: <query>" for the extended protocol, with baton's
// names B_<n> (unnamed statements show as "execute <unnamed>").
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstddef>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"

using baton::test::BatonProcess;
using baton::test::PgCluster;
using baton::test::RunResult;
using baton::test::run;
using baton::test::shell_quote;

namespace {

constexpr const char* kPython = "/usr/bin/python3";  // Debian's, where python3-psycopg installs
constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";

std::string drivers_dir() { return baton::test::source_dir() + "/tests/integration/drivers"; }

// The database the driver tests use, owned by app, logging every statement with its duration.
PgCluster& drivers_cluster() {
  PgCluster& c = PgCluster::shared();
  static bool ready = false;
  if (!ready) {
    c.query(0,
            "SELECT 'CREATE DATABASE drivers OWNER app' WHERE NOT EXISTS "
            "(SELECT 1 FROM pg_database WHERE datname = 'drivers') \\gexec\n"
            "ALTER DATABASE drivers SET log_min_duration_statement = 0;\n",
            "postgres");
    ready = true;
  }
  return c;
}

// baton in front of the primary: `workers` workers, transaction pooling, pool_size server
// connections in all; `pool_extra` adds lines to [pool].
std::string drivers_config(const PgCluster& c, int listen_port, const std::string& pool_extra = "") {
  return "[general]\nworkers = 2\n\n[pool]\nmode = \"transaction\"\npool_size = 2\nquery_wait_timeout = \"60s\"\n" +
         pool_extra +
         "\n[[listeners]]\nname = \"pg\"\nlisten = \"127.0.0.1:" + std::to_string(listen_port) +
         "\"\ncluster = \"main\"\n\n[[clusters]]\nname = \"main\"\nmonitor_user = \"baton_monitor\"\n"
         "monitor_password = \"monitor-secret\"\n  [[clusters.nodes]]\n  name = \"node0\"\n  host = \"127.0.0.1\"\n"
         "  port = " +
         std::to_string(c.port(0)) + "\n\n[[users]]\nname = \"app\"\npassword = \"app-secret\"\n";
}

std::string libpq_conninfo(int port) {
  return "host=127.0.0.1 port=" + std::to_string(port) +
         " user=app password=app-secret dbname=drivers sslmode=disable connect_timeout=10";
}

std::string log_path(const PgCluster& c) { return c.dir() + "/node0.log"; }

std::size_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::size_t>(st.st_size) : 0;
}

// Lines of the primary's log written since byte `from` by app@drivers that contain every needle.
std::size_t count_log_lines(const PgCluster& c, std::size_t from, const std::vector<std::string>& needles) {
  std::ifstream in(log_path(c));
  in.seekg(static_cast<std::streamoff>(from));
  std::size_t n = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("app@drivers") == std::string::npos) continue;
    bool all = true;
    for (const auto& needle : needles) all = all && line.find(needle) != std::string::npos;
    if (all) ++n;
  }
  return n;
}

// Server backends of app in database drivers right now (baton's pool, nothing else connects there).
int drivers_backends(const PgCluster& c) {
  return std::stoi(
      c.query(0, "SELECT count(*) FROM pg_stat_activity WHERE datname = 'drivers' AND usename = 'app'", "postgres"));
}

RunResult psycopg(int port, const std::string& scenario, const std::string& extra = "") {
  return run(std::string(kPython) + " " + shell_quote(drivers_dir() + "/python/psycopg_prepared.py") + " " +
                 shell_quote(libpq_conninfo(port)) + " " + scenario + " " + extra,
             std::chrono::seconds(60));
}

void require_psycopg() {
  RunResult r = run(std::string(kPython) + " -c 'import psycopg'", std::chrono::seconds(20));
  INFO("psycopg 3 is missing: apt-get install python3-psycopg\n" << r.output);
  REQUIRE(r.exit_code == 0);
}

}  // namespace

TEST_CASE("psycopg 3: prepared statements from 8 connections interleave over 2 server connections",
          "[drivers][psycopg]") {
  require_psycopg();
  PgCluster& c = drivers_cluster();
  const int port = baton::test::free_port();
  BatonProcess baton(drivers_config(c, port), {port});
  const std::size_t log_from = file_size(log_path(c));

  RunResult r = psycopg(port, "interleave");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  // 8 connections x 25 rounds of SELECT i * 1000 + round: 25 * 1000 * (0+...+7) + 8 * (0+...+24).
  CHECK(r.output ==
        "interleave rows=200 sum=702400\n"
        "psycopg names _pg3_0,_pg3_1\n"
        "done\n");
  // The server ran every execution as one of baton's named statements, none unnamed.
  CHECK(count_log_lines(c, log_from, {"execute B_", "drv-psy-a"}) == 200);
  CHECK(count_log_lines(c, log_from, {"execute B_", "drv-psy-b"}) == 96);  // the 12 odd rounds x 8
  CHECK(count_log_lines(c, log_from, {"execute <unnamed>", "drv-psy-"}) == 0);
  // Never more than pool_size server connections.
  const int backends = drivers_backends(c);
  CHECK(backends >= 1);
  CHECK(backends <= 2);
}

TEST_CASE("psycopg 3: executemany with prepared statements, in autocommit and in a transaction",
          "[drivers][psycopg]") {
  require_psycopg();
  PgCluster& c = drivers_cluster();
  const int port = baton::test::free_port();
  BatonProcess baton(drivers_config(c, port), {port});
  const std::size_t log_from = file_size(log_path(c));

  RunResult r = psycopg(port, "executemany");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output ==
        "uncommitted updates visible elsewhere: 0\n"
        "committed updates: 50\n"
        "executemany rows=100 sum=5050 min=n10 max=n9x\n"
        "done\n");
  CHECK(count_log_lines(c, log_from, {"execute B_", "drv-psy-many"}) == 100);
  CHECK(count_log_lines(c, log_from, {"execute B_", "drv-psy-upd"}) == 50);
  CHECK(c.query(0, "SELECT count(*), sum(id) FROM drv_psy_many WHERE note LIKE '%x'", "drivers") == "50|2500");
}

TEST_CASE("psycopg 3: a statement prepared before the client went idle runs on a new server connection",
          "[drivers][psycopg]") {
  require_psycopg();
  PgCluster& c = drivers_cluster();
  const int port = baton::test::free_port();
  // The idle server connection is closed after 1 s, so the second run must re-prepare on a new one.
  BatonProcess baton(drivers_config(c, port, "server_idle_timeout = \"1s\"\n"), {port});
  const std::size_t log_from = file_size(log_path(c));

  RunResult r = psycopg(port, "idle", "2.5");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output ==
        "first run v=8\n"
        "other 42\n"
        "after idle v=9 same_backend=False\n"
        "in a transaction v=10\n"
        "psycopg names _pg3_0\n"
        "done\n");
  // Prepared on the server once per server connection it ran on (2, or 3 if the transaction got
  // yet another one), executed three times by name.
  const std::size_t parses = count_log_lines(c, log_from, {"parse B_", "drv-psy-idle"});
  CHECK(parses >= 2);
  CHECK(parses <= 3);
  CHECK(count_log_lines(c, log_from, {"execute B_", "drv-psy-idle"}) == 3);
}

TEST_CASE("psycopg 3: statements psycopg evicts from its cache with DEALLOCATE", "[drivers][psycopg]") {
  // psycopg 3.1 (libpq < 17) forgets a prepared statement beyond prepared_max (default 100) by
  // sending "DEALLOCATE _pg3_N"; PostgreSQL answers every execution here (checked directly).
  require_psycopg();
  PgCluster& c = drivers_cluster();
  const std::string want =
      "evict 0: 10\nevict 1: 11\nevict 2: 12\nevict 3: 13\nevict 4: 14\npsycopg names _pg3_3,_pg3_4\ndone\n";
  RunResult direct = run(std::string(kPython) + " " + shell_quote(drivers_dir() + "/python/psycopg_prepared.py") +
                             " " + shell_quote(libpq_conninfo(c.port(0))) + " evict",
                         std::chrono::seconds(60));
  REQUIRE(direct.output == want);

  const int port = baton::test::free_port();
  BatonProcess baton(drivers_config(c, port), {port});
  RunResult r = psycopg(port, "evict");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output == want);
}

TEST_CASE("pgjdbc: server-side prepared statements (prepareThreshold=1) from 8 threads", "[drivers][jdbc]") {
  const std::string jar = "/usr/share/java/postgresql.jar";
  INFO("pgjdbc is missing: apt-get install libpostgresql-jdbc-java");
  REQUIRE(run("test -r " + jar).exit_code == 0);
  PgCluster& c = drivers_cluster();
  const std::string classes = baton::test::make_temp_dir("baton-jdbc-");
  RunResult javac = run("javac -cp " + jar + " -d " + shell_quote(classes) + " " +
                            shell_quote(drivers_dir() + "/java/JdbcPrepared.java"),
                        std::chrono::seconds(120));
  INFO(javac.output);
  REQUIRE(javac.exit_code == 0);

  const int port = baton::test::free_port();
  BatonProcess baton(drivers_config(c, port), {port});
  const std::size_t log_from = file_size(log_path(c));
  RunResult r = run("java -cp " + shell_quote(classes) + ":" + jar + " JdbcPrepared " +
                        shell_quote("jdbc:postgresql://127.0.0.1:" + std::to_string(port) + "/drivers") +
                        " app app-secret",
                    std::chrono::seconds(120));
  INFO(r.output);
  CHECK(r.exit_code == 0);
  // sum over 8 threads x 60 rounds of thread * 100 + round; 8 threads x 6 batches x 5 rows; the k
  // of one thread's rows sum to 50 * (9 + 19 + ... + 59) + 6 * (0+1+2+3+4) = 10260.
  CHECK(r.output ==
        "threads=8 rounds=60 sum=182160\n"
        "server-prepared statements in use: 8\n"
        "rows=240 ksum=82080 threads=8\n"
        "done\n");
  CHECK(count_log_lines(c, log_from, {"execute B_", "drv-jdbc-get"}) == 480);
  CHECK(count_log_lines(c, log_from, {"execute B_", "drv-jdbc-ins"}) == 240);
  CHECK(count_log_lines(c, log_from, {"execute B_", "drv-jdbc-cnt"}) == 48);
  CHECK(count_log_lines(c, log_from, {"execute <unnamed>", "drv-jdbc-"}) == 0);
  const int backends = drivers_backends(c);
  CHECK(backends >= 1);
  CHECK(backends <= 2);
  run("rm -rf " + shell_quote(classes));
}

TEST_CASE("node-postgres: named queries from 6 Clients and a Pool, interleaved", "[drivers][node]") {
  PgCluster& c = drivers_cluster();
  const std::string dir = drivers_dir() + "/node";
  if (run("test -d " + shell_quote(dir + "/node_modules/pg")).exit_code != 0) {
    RunResult ci = run("cd " + shell_quote(dir) + " && npm ci --no-audit --no-fund", std::chrono::seconds(180));
    INFO(ci.output);
    REQUIRE(ci.exit_code == 0);
  }
  const int port = baton::test::free_port();
  BatonProcess baton(drivers_config(c, port), {port});
  const std::size_t log_from = file_size(log_path(c));
  RunResult r = run("node " + shell_quote(dir + "/named_queries.js") + " 127.0.0.1 " + std::to_string(port) +
                        " drivers",
                    std::chrono::seconds(60));
  INFO(r.output);
  CHECK(r.exit_code == 0);
  // Clients: sum of i * 100 + round + 1 over 6 x 30 = 47790; the Pool: sum of 10000 + round * 10 +
  // k + 1 over 30 x 4 = 1217700.
  CHECK(r.output ==
        "named queries: rows=300 sum=1265490\n"
        "in a transaction: 42 in:tx; others: 1,2,3,4,5\n"
        "error 22012 division by zero\n"
        "after the error: 2\n"
        "done\n");
  CHECK(count_log_lines(c, log_from, {"execute B_", "drv-node-get"}) == 306);
  CHECK(count_log_lines(c, log_from, {"execute B_", "drv-node-cat"}) == 181);
  CHECK(count_log_lines(c, log_from, {"execute <unnamed>", "drv-node-"}) == 0);
}

TEST_CASE("pgbench -M prepared: 8 clients, 8 threads, 200 transactions each, no failures", "[drivers][pgbench]") {
  PgCluster& c = drivers_cluster();
  const int port = baton::test::free_port();
  BatonProcess baton(drivers_config(c, port), {port});
  const std::string env = "PGPASSWORD=app-secret ";
  const std::string target = " -h 127.0.0.1 -p " + std::to_string(port) + " -U app ";
  RunResult init = run(env + kPgBin + "/pgbench -i -s 1 -q" + target + "drivers", std::chrono::seconds(120));
  INFO(init.output);
  REQUIRE(init.exit_code == 0);

  const std::size_t log_from = file_size(log_path(c));
  RunResult r = run(env + kPgBin + "/pgbench -M prepared -n -c 8 -j 8 -t 200" + target + "drivers",
                    std::chrono::seconds(150));
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("query mode: prepared"));
  CHECK_THAT(r.output, Catch::Contains("number of transactions actually processed: 1600/1600"));
  CHECK_THAT(r.output, Catch::Contains("number of failed transactions: 0 (0.000%)"));
  // Every transaction committed exactly once: 1600 history rows, and the balances agree.
  CHECK(c.query(0,
                "SELECT count(*), (SELECT sum(abalance) FROM pgbench_accounts) = sum(delta), "
                "(SELECT sum(bbalance) FROM pgbench_branches) = sum(delta), "
                "(SELECT sum(tbalance) FROM pgbench_tellers) = sum(delta) FROM pgbench_history",
                "drivers") == "1600|t|t|t");
  // pgbench's statements ran under baton's names.
  CHECK(count_log_lines(c, log_from, {"execute B_", "UPDATE pgbench_accounts SET abalance"}) == 1600);
  CHECK(count_log_lines(c, log_from, {"execute B_", "INSERT INTO pgbench_history"}) == 1600);

  // psql's \gdesc describes an unnamed statement without running it.
  RunResult gdesc = run("printf '%s\\n' " + shell_quote("SELECT 1 AS a, 'x'::text AS b \\gdesc") + " | " + env +
                            kPgBin + "/psql -XAtq" + target + "-d drivers",
                        std::chrono::seconds(30));
  CHECK(gdesc.exit_code == 0);
  CHECK(gdesc.output == "a|integer\nb|text\n");
}

namespace {

// rawpg.py's verdicts, one "ok CASE" / "MISMATCH CASE" per line (with the transcripts after a mismatch).
RunResult rawpg(int port, double idle) {
  std::ostringstream idle_text;
  idle_text << idle;
  return run(std::string(kPython) + " " + shell_quote(drivers_dir() + "/python/rawpg.py") + " " +
                 std::to_string(port) + " drivers " + idle_text.str(),
             std::chrono::seconds(90));
}

const std::vector<std::string> kRawCases = {
    "unnamed_batch",        "close_and_reparse",      "duplicate_name",
    "describe_on_fresh_server", "error_mid_batch",    "parse_skipped_by_error",
    "failed_parse",         "reprepare_skipped_by_error", "flush_without_sync",
    "pipelined_simple",     "portal_suspended",
};

}  // namespace

TEST_CASE("raw protocol: tricky extended-query sequences answer as PostgreSQL does", "[drivers][rawpg]") {
  PgCluster& c = drivers_cluster();

  // The expected transcripts are PostgreSQL's own: straight to the primary every case passes.
  RunResult direct = rawpg(c.port(0), 0.1);
  {
    INFO(direct.output);
    REQUIRE(direct.exit_code == 0);
    for (const auto& name : kRawCases) CHECK_THAT(direct.output, Catch::Contains("\nok " + name + "\n") ||
                                                                    Catch::StartsWith("ok " + name + "\n"));
    CHECK_THAT(direct.output, Catch::Contains("note describe_on_fresh_server backend_changed=False"));
  }

  const int port = baton::test::free_port();
  // Idle server connections close after 1 s: the cases that wait 2.5 s continue on a new one.
  BatonProcess baton(drivers_config(c, port, "server_idle_timeout = \"1s\"\n"), {port});
  RunResult through = rawpg(port, 2.5);
  INFO(through.output);
  CHECK(through.exit_code == 0);
  CHECK_THAT(through.output, Catch::Contains("note describe_on_fresh_server backend_changed=True"));
  for (const auto& name : kRawCases) {
    INFO("case " << name);
    CHECK_THAT(through.output,
               Catch::Contains("\nok " + name + "\n") || Catch::StartsWith("ok " + name + "\n"));
  }
  CHECK_THAT(through.output, Catch::EndsWith("done\n"));
}
