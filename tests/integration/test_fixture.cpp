// Checks of the test fixtures themselves: the PostgreSQL cluster, its users, TLS and synchronous replication.
#include <catch2/catch.hpp>

#include <string>

#include "tests/integration/harness.hpp"

using baton::test::PgCluster;
using baton::test::RunResult;
using baton::test::run;
using baton::test::shell_quote;

namespace {

// psql over TCP as `user` with PGPASSWORD, one statement, unaligned tuples only.
RunResult tcp_psql(const std::string& conninfo, const std::string& password, const std::string& sql) {
  return run("PGPASSWORD=" + shell_quote(password) + " /usr/lib/postgresql/15/bin/psql " + shell_quote(conninfo) +
                 " -XAtq -v ON_ERROR_STOP=1 -c " + shell_quote(sql),
             std::chrono::seconds(30));
}

std::string conninfo(const PgCluster& c, int node, const std::string& user, const std::string& extra = "") {
  return "host=127.0.0.1 port=" + std::to_string(c.port(node)) + " user=" + user + " dbname=app connect_timeout=10 " +
         extra;
}

}  // namespace

TEST_CASE("the shared cluster has a primary and two streaming replicas", "[fixture]") {
  PgCluster& c = PgCluster::shared();
  REQUIRE(c.node_count() == 3);
  CHECK(c.query(0, "SELECT pg_is_in_recovery()") == "f");
  CHECK(c.query(1, "SELECT pg_is_in_recovery()") == "t");
  CHECK(c.query(2, "SELECT pg_is_in_recovery()") == "t");
  CHECK(c.query(0, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "2");
  CHECK(c.query(0, "SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots") ==
        "node1,node2");
  for (int node = 0; node < c.node_count(); ++node) {
    CHECK(c.postmaster_pid(node) > 0);
    CHECK(c.port(node) == c.port(0) + node);
  }
}

TEST_CASE("a row written on the primary reaches both replicas", "[fixture]") {
  PgCluster& c = PgCluster::shared();
  c.query(0,
          "CREATE TABLE IF NOT EXISTS fixture_rows (id int PRIMARY KEY, note text);"
          "INSERT INTO fixture_rows VALUES (42, 'from the primary') ON CONFLICT (id) DO UPDATE SET note = EXCLUDED.note;");
  c.wait_replicated();
  CHECK(c.query(1, "SELECT note FROM fixture_rows WHERE id = 42") == "from the primary");
  CHECK(c.query(2, "SELECT note FROM fixture_rows WHERE id = 42") == "from the primary");
  // A replica refuses writes.
  RunResult write_on_replica = c.psql(1, "INSERT INTO fixture_rows VALUES (43, 'no')");
  CHECK(write_on_replica.exit_code != 0);
  CHECK_THAT(write_on_replica.output, Catch::Contains("read-only transaction"));
}

TEST_CASE("users log in over TCP with their passwords", "[fixture]") {
  PgCluster& c = PgCluster::shared();

  RunResult app = tcp_psql(conninfo(c, 0, "app"), "app-secret", "SELECT current_user");
  CHECK(app.exit_code == 0);
  CHECK(app.output == "app\n");

  RunResult wrong = tcp_psql(conninfo(c, 0, "app", "sslmode=disable"), "not-the-password", "SELECT 1");
  CHECK(wrong.exit_code != 0);
  CHECK_THAT(wrong.output, Catch::Contains("password authentication failed"));

  RunResult md5 = tcp_psql(conninfo(c, 1, "md5user"), "md5-secret", "SELECT current_user");
  CHECK(md5.exit_code == 0);
  CHECK(md5.output == "md5user\n");
  CHECK(c.query(0, "SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = 'md5user'", "postgres") == "md5");
  CHECK(c.query(0, "SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = 'app'", "postgres") ==
        "SCRAM-SHA-256$");

  RunResult clear = tcp_psql(conninfo(c, 2, "clearuser"), "clear-secret", "SELECT current_user");
  CHECK(clear.exit_code == 0);
  CHECK(clear.output == "clearuser\n");

  RunResult monitor = tcp_psql(conninfo(c, 0, "baton_monitor"), "monitor-secret", "SELECT rolsuper FROM pg_roles WHERE rolname = current_user");
  CHECK(monitor.exit_code == 0);
  CHECK(monitor.output == "t\n");

  // The superuser has no TCP access: only the unix socket.
  RunResult postgres_tcp = tcp_psql(conninfo(c, 0, "postgres"), "", "SELECT 1");
  CHECK(postgres_tcp.exit_code != 0);
}

TEST_CASE("the TLS port verifies as localhost with the test CA", "[fixture]") {
  PgCluster& c = PgCluster::shared();
  REQUIRE(c.options().tls);
  const std::string ca = c.cert_dir() + "/ca.crt";
  RunResult tls = run("PGPASSWORD=app-secret /usr/lib/postgresql/15/bin/psql " +
                          shell_quote("host=localhost port=" + std::to_string(c.port(0)) +
                                      " user=app dbname=app sslmode=verify-full sslrootcert=" + ca) +
                          " -XAtq -c " + shell_quote("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"),
                      std::chrono::seconds(30));
  CHECK(tls.exit_code == 0);
  CHECK(tls.output == "t\n");

  // With another CA the same verification must fail.
  const std::string other = baton::test::make_temp_dir("baton-other-ca-");
  REQUIRE(run("bash " + shell_quote(baton::test::source_dir() + "/tests/fixtures/make_certs.sh") + " " +
              shell_quote(other))
              .exit_code == 0);
  RunResult wrong_ca = run("PGPASSWORD=app-secret /usr/lib/postgresql/15/bin/psql " +
                               shell_quote("host=localhost port=" + std::to_string(c.port(0)) +
                                           " user=app dbname=app sslmode=verify-full sslrootcert=" + other +
                                           "/ca.crt") +
                               " -XAtq -c 'SELECT 1'",
                           std::chrono::seconds(30));
  CHECK(wrong_ca.exit_code != 0);
  CHECK_THAT(wrong_ca.output, Catch::Contains("certificate verify failed"));
  run("rm -rf " + shell_quote(other));
}

TEST_CASE("a synchronous cluster reports its standbys as sync or quorum", "[fixture]") {
  PgCluster c(PgCluster::Options{.replicas = 2, .synchronous = true, .tls = false});
  REQUIRE(c.node_count() == 3);
  CHECK(c.query(0, "SHOW synchronous_standby_names") == "ANY 1 (node1,node2)");
  const std::string states =
      c.query(0, "SELECT string_agg(application_name || ':' || sync_state, ',' ORDER BY application_name) "
                 "FROM pg_stat_replication");
  CHECK((states == "node1:quorum,node2:quorum" || states == "node1:sync,node2:potential" ||
         states == "node1:sync,node2:sync"));
  // A commit returns (one standby confirmed it) and is visible on the replicas.
  c.query(0, "CREATE TABLE sync_rows (id int); INSERT INTO sync_rows VALUES (7);");
  c.wait_replicated();
  CHECK(c.query(1, "SELECT id FROM sync_rows") == "7");
}

TEST_CASE("run() reports exit codes, merged output and timeouts", "[fixture]") {
  RunResult ok = run("echo out; echo err >&2; exit 3");
  CHECK(ok.exit_code == 3);
  CHECK_THAT(ok.output, Catch::Contains("out") && Catch::Contains("err"));
  RunResult slow = run("sleep 30", std::chrono::seconds(1));
  CHECK(slow.exit_code == -1);
  int a = baton::test::free_port_block(3);
  int b = baton::test::free_port();
  CHECK((b < a || b >= a + 3));
  CHECK_FALSE(baton::test::wait_for_port(a, std::chrono::milliseconds(100)));
}

namespace {

// A minimal configuration: one listener sending everything to the shared cluster's primary.
std::string primary_only_config(const PgCluster& c, int listen_port, int admin_port) {
  std::string nodes;
  for (int node = 0; node < c.node_count(); ++node) {
    nodes += "  [[clusters.nodes]]\n  name = \"node" + std::to_string(node) + "\"\n  host = \"127.0.0.1\"\n  port = " +
             std::to_string(c.port(node)) + "\n";
  }
  return "[general]\nworkers = 1\n\n[admin]\nlisten = \"127.0.0.1:" + std::to_string(admin_port) +
         "\"\n\n[[listeners]]\nname = \"pg\"\nlisten = \"127.0.0.1:" + std::to_string(listen_port) +
         "\"\ncluster = \"main\"\nrole = \"primary\"\n\n[[clusters]]\nname = \"main\"\nmonitor_user = "
         "\"baton_monitor\"\nmonitor_password = \"monitor-secret\"\n" +
         nodes + "\n[[users]]\nname = \"app\"\npassword = \"app-secret\"\n";
}

}  // namespace

TEST_CASE("BatonProcess runs baton in front of the cluster and stops it with SIGTERM", "[fixture][baton]") {
  PgCluster& c = PgCluster::shared();
  const int listen_port = baton::test::free_port();
  const int admin_port = baton::test::free_port();
  baton::test::BatonProcess baton(primary_only_config(c, listen_port, admin_port), {listen_port});
  REQUIRE(baton.running());
  CHECK(baton.pid() > 0);
  CHECK(baton::test::read_file(baton.config_path()).find("127.0.0.1:" + std::to_string(listen_port)) !=
        std::string::npos);

  // The primary-role listener sends the query to node 0.
  RunResult through = tcp_psql("host=127.0.0.1 port=" + std::to_string(listen_port) +
                                   " user=app dbname=app connect_timeout=10 sslmode=disable",
                               "app-secret", "SELECT inet_server_port()");
  CHECK(through.exit_code == 0);
  CHECK(through.output == std::to_string(c.port(0)) + "\n");

  CHECK(baton.stop() == 0);
  CHECK_FALSE(baton.running());
  CHECK(baton.stop() == 0);  // a second stop reports the same status
  CHECK_FALSE(baton::test::wait_for_port(listen_port, std::chrono::milliseconds(200)));
}

TEST_CASE("BatonProcess reports a baton that refuses its configuration, with the log", "[fixture][baton]") {
  const int listen_port = baton::test::free_port();
  const std::string bad = "[general]\nworkers = \"many\"\n";
  CHECK_THROWS_WITH(baton::test::BatonProcess(bad, {listen_port}), Catch::Contains("exited with status 1") &&
                                                                      Catch::Contains("not starting"));
}
