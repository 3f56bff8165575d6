// Integration tests of the admin API of a running baton: probes, views, metrics, auth, reload, pause, drain.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include <boost/json.hpp>

#include "tests/common/prom_exposition.hpp"
#include "tests/integration/harness.hpp"
#include "tests/integration/json_fields.hpp"

using baton::test::BatonProcess;
using baton::test::free_port;
using baton::test::http_request;
using baton::test::HttpResult;
using baton::test::PgCluster;
using baton::test::run;
using baton::test::RunResult;
using baton::test::shell_quote;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

constexpr const char* kPsql = "/usr/lib/postgresql/15/bin/psql";
constexpr const char* kPgbench = "/usr/lib/postgresql/15/bin/pgbench";
constexpr const char* kToken = "admin-secret-token";

struct Ports {
  int pg = free_port();
  int admin = free_port();
};

std::string config_text(const PgCluster& c, const Ports& p, int pool_size, const std::string& general = "") {
  std::string nodes;
  for (int node = 0; node < c.node_count(); ++node) {
    nodes += "  [[clusters.nodes]]\n  name = \"node" + std::to_string(node) + "\"\n  host = \"127.0.0.1\"\n  port = " +
             std::to_string(c.port(node)) + "\n";
  }
  return "[general]\nworkers = 2\n" + general + "\n[admin]\nlisten = \"127.0.0.1:" + std::to_string(p.admin) +
         "\"\ntoken = \"" + kToken + "\"\n\n[pool]\nmode = \"transaction\"\npool_size = " + std::to_string(pool_size) +
         "\n\n[[listeners]]\nname = \"pg\"\nlisten = \"127.0.0.1:" + std::to_string(p.pg) +
         "\"\ncluster = \"main\"\nrole = \"primary\"\n\n[[clusters]]\nname = \"main\"\nmonitor_user = \"baton_monitor\"\n"
         "monitor_password = \"monitor-secret\"\n" +
         nodes + "\n[[users]]\nname = \"app\"\npassword = \"app-secret\"\n";
}

json::value get_json(int port, const std::string& target) {
  HttpResult r = http_request(port, "GET", target);
  INFO(target << " -> " << r.status << " " << r.body << r.error);
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}

// Waits (bounded) until /readyz says 200: the monitor found the primary.
bool wait_ready(int admin_port, std::chrono::seconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (http_request(admin_port, "GET", "/readyz").status == 200) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

RunResult psql(int port, const std::string& sql) {
  return run("PGPASSWORD=app-secret " + std::string(kPsql) + " 'host=127.0.0.1 port=" + std::to_string(port) +
                 " user=app dbname=app sslmode=disable connect_timeout=10' -XAtq -v ON_ERROR_STOP=1 -c " +
                 shell_quote(sql),
             60s);
}

double metric(const baton::test::prom::Exposition& e, const std::string& name,
              const std::map<std::string, std::string>& labels) {
  return e.value(name, labels);
}

double sum_of(const baton::test::prom::Exposition& e, const std::string& name) {
  double total = 0;
  for (const auto& s : e.samples) {
    if (s.name == name) total += s.value;
  }
  return total;
}

}  // namespace

TEST_CASE("admin API of a running baton: probes, JSON views, valid metrics that move, bearer token", "[admin-api]") {
  PgCluster& c = PgCluster::shared();
  Ports p;
  BatonProcess baton(config_text(c, p, 4), {p.pg, p.admin});

  HttpResult health = http_request(p.admin, "GET", "/healthz");
  CHECK(health.status == 200);
  CHECK(json::parse(health.body).at("status") == "ok");
  REQUIRE(wait_ready(p.admin));

  json::value clusters = get_json(p.admin, "/api/v1/clusters");
  const json::object& main = clusters.at("clusters").as_array().at(0).as_object();
  CHECK(main.at("name") == "main");
  CHECK(main.at("primary") == "node0");
  CHECK(main.at("failover_state") == "healthy");

  json::value nodes = get_json(p.admin, "/api/v1/nodes");
  std::map<std::string, std::string> roles;
  for (const json::value& n : nodes.at("nodes").as_array()) {
    roles[std::string(n.at("name").as_string())] =
        std::string(n.at("role").as_string()) + "/" + std::string(n.at("health").as_string());
  }
  CHECK(roles == std::map<std::string, std::string>{
                     {"node0", "primary/up"}, {"node1", "standby/up"}, {"node2", "standby/up"}});

  // Traffic through baton: 30 queries in one psql run (one session, 30 transactions).
  std::string args;
  for (int i = 0; i < 30; ++i) args += " -c 'SELECT " + std::to_string(i) + "'";
  RunResult q = run("PGPASSWORD=app-secret " + std::string(kPsql) + " 'host=127.0.0.1 port=" + std::to_string(p.pg) +
                        " user=app dbname=app sslmode=disable' -XAtq" + args,
                    60s);
  REQUIRE(q.exit_code == 0);

  HttpResult m = http_request(p.admin, "GET", "/metrics");
  REQUIRE(m.status == 200);
  baton::test::prom::Exposition e;
  REQUIRE_NOTHROW(e = baton::test::prom::parse_exposition(m.body));
  CHECK(sum_of(e, "baton_queries_total") >= 30);
  CHECK(sum_of(e, "baton_transactions_total") >= 30);
  CHECK(sum_of(e, "baton_client_received_bytes_total") > 30 * 9);
  CHECK(sum_of(e, "baton_pool_wait_seconds_count") >= 1);
  CHECK(metric(e, "baton_node_health", {{"cluster", "main"}, {"node", "node0"}, {"state", "up"}}) == 1);
  CHECK(metric(e, "baton_node_role", {{"cluster", "main"}, {"node", "node0"}, {"role", "primary"}}) == 1);

  json::value pools = get_json(p.admin, "/api/v1/pools");
  bool found = false;
  for (const json::value& pool : pools.at("pools").as_array()) {
    if (pool.at("node") == "node0" && pool.at("user") == "app" && pool.at("database") == "app") {
      found = true;
      CHECK(pool.at("size").as_int64() == 4);
      CHECK(pool.at("idle").as_int64() + pool.at("active").as_int64() >= 1);
    }
  }
  CHECK(found);

  // POST without the token: 401, and the attempt is logged; with it: done.
  HttpResult no_token = http_request(p.admin, "POST", "/api/v1/reload");
  CHECK(no_token.status == 401);
  HttpResult wrong = http_request(p.admin, "POST", "/api/v1/reload", "", "not-the-token");
  CHECK(wrong.status == 401);
  HttpResult reload = http_request(p.admin, "POST", "/api/v1/reload", "", kToken);
  CHECK(reload.status == 200);
  std::this_thread::sleep_for(200ms);
  CHECK_THAT(baton.log(), Catch::Contains("refused POST /api/v1/reload: 401"));
  // The status page is served (its rendering is tested in a browser by [admin-page]).
  HttpResult page = http_request(p.admin, "GET", "/");
  CHECK(page.status == 200);
  CHECK_THAT(page.body, Catch::Contains("<html"));
}

TEST_CASE("reload under pgbench load: pool size and users change, zero failed transactions", "[admin-api]") {
  PgCluster& c = PgCluster::shared();
  Ports p;
  BatonProcess baton(config_text(c, p, 3), {p.pg, p.admin});
  REQUIRE(wait_ready(p.admin));

  const std::string script = baton::test::make_temp_dir("baton-reload-") + "/select.sql";
  { std::ofstream(script) << "SELECT 1;\n"; }
  auto bench = std::async(std::launch::async, [&] {
    return run("PGPASSWORD=app-secret " + std::string(kPgbench) + " -n -f " + shell_quote(script) +
                   " -c 8 -j 2 -T 6 -M extended 'host=127.0.0.1 port=" + std::to_string(p.pg) +
                   " user=app dbname=app sslmode=disable' 2>&1",
               60s);
  });
  std::this_thread::sleep_for(1500ms);
  // A valid change by SIGHUP: pool_size 3 -> 6, a new user.
  {
    std::ofstream out(baton.config_path());
    out << config_text(c, p, 6) << "\n[[users]]\nname = \"late\"\npassword = \"late-secret\"\nserver_user = \"app\"\n"
        << "server_password = \"app-secret\"\n";
  }
  REQUIRE(::kill(baton.pid(), SIGHUP) == 0);
  std::this_thread::sleep_for(1000ms);
  // The user added by the reload logs in; while pgbench runs.
  RunResult late = run("PGPASSWORD=late-secret " + std::string(kPsql) + " 'host=127.0.0.1 port=" +
                           std::to_string(p.pg) + " user=late dbname=app sslmode=disable' -XAtq -c 'SELECT 7'",
                       30s);
  CHECK(late.exit_code == 0);
  CHECK(late.output == "7\n");
  // An invalid file: refused with the reason, nothing changes.
  { std::ofstream(baton.config_path(), std::ios::app) << "\n[pool]\npool_size = -1\n"; }
  HttpResult bad = http_request(p.admin, "POST", "/api/v1/reload", "", kToken);
  CHECK(bad.status == 500);
  CHECK_THAT(bad.body, Catch::Contains("unchanged"));
  // A listen address change cannot be applied live: reported and kept.
  {
    Ports other = p;
    other.pg = free_port();
    std::ofstream(baton.config_path()) << config_text(c, other, 6);
  }
  HttpResult kept = http_request(p.admin, "POST", "/api/v1/reload", "", kToken);
  CHECK(kept.status == 200);
  CHECK_THAT(kept.body, Catch::Contains("listeners[pg].listen"));

  RunResult r = bench.get();
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("number of failed transactions: 0"));
  CHECK_THAT(r.output, !Catch::Contains("aborted"));

  json::value pools = get_json(p.admin, "/api/v1/pools");
  for (const json::value& pool : pools.at("pools").as_array()) {
    if (pool.at("node") == "node0" && pool.at("user") == "app") CHECK(pool.at("size").as_int64() == 6);
  }
  CHECK_THAT(baton.log(), Catch::Contains("pool.pool_size: 3 -> 6"));
}

TEST_CASE("pause holds new transactions until resume", "[admin-api]") {
  PgCluster& c = PgCluster::shared();
  Ports p;
  BatonProcess baton(config_text(c, p, 3), {p.pg, p.admin});
  REQUIRE(wait_ready(p.admin));
  HttpResult paused = http_request(p.admin, "POST", "/api/v1/pause", "", kToken);
  CHECK(paused.status == 200);
  json::value clusters = get_json(p.admin, "/api/v1/clusters");
  CHECK(clusters.at("clusters").as_array().at(0).at("writes_paused") == true);
  const auto start = std::chrono::steady_clock::now();
  auto held = std::async(std::launch::async, [&] { return psql(p.pg, "SELECT 42"); });
  CHECK(held.wait_for(1500ms) == std::future_status::timeout);  // waiting, not failed
  HttpResult resumed = http_request(p.admin, "POST", "/api/v1/resume", "", kToken);
  CHECK(resumed.status == 200);
  RunResult r = held.get();
  CHECK(r.exit_code == 0);
  CHECK(r.output == "42\n");
  CHECK(std::chrono::steady_clock::now() - start >= 1500ms);
}

TEST_CASE("SIGTERM under load: readiness drops, no transaction fails mid-flight, baton exits", "[admin-api]") {
  PgCluster& c = PgCluster::shared();
  c.query(0, "DROP TABLE IF EXISTS drain_rows; CREATE TABLE drain_rows (tx bigint, part text);"
             "GRANT ALL ON drain_rows TO app;");
  Ports p;
  BatonProcess baton(config_text(c, p, 4, "shutdown_timeout = \"20s\"\n"), {p.pg, p.admin});
  REQUIRE(wait_ready(p.admin));
  auto load = std::async(std::launch::async, [&] {
    return run("/usr/bin/python3 -B " +
                   shell_quote(baton::test::source_dir() + "/tests/integration/clients/drain_load.py") + " " +
                   std::to_string(p.pg) + " drain_rows 12 30",
               120s);
  });
  std::this_thread::sleep_for(2000ms);
  REQUIRE(::kill(baton.pid(), SIGTERM) == 0);
  std::this_thread::sleep_for(50ms);
  HttpResult ready = http_request(p.admin, "GET", "/readyz", "", "", 2000ms);
  // Not ready any more (or already gone when every client left at once).
  CHECK(ready.status != 200);
  const auto signalled = std::chrono::steady_clock::now();
  const int status = baton.stop(SIGTERM, 30s);
  const auto took = std::chrono::steady_clock::now() - signalled;
  CHECK(status == 0);
  CHECK(took < 15s);

  RunResult r = load.get();
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  json::value out = baton::test::last_json_line(r.output);
  REQUIRE(out.is_object());
  const json::array& committed = out.at("committed").as_array();
  CHECK(committed.size() >= 12);
  CHECK(out.at("errors").at("mid_flight").as_object().empty());
  // Every client was turned away between transactions, as PostgreSQL's own fast shutdown does it:
  // FATAL 57P01, which libpq reports as an error, or, when it reaches an idle connection, as a notice
  // followed by "server closed the connection unexpectedly" (psycopg2 does not always keep the notice).
  std::size_t turned_away = 0;
  std::size_t with_words = 0;
  for (const auto& [code, texts] : out.at("errors").at("at_start").as_object()) {
    for (const json::value& t : texts.as_array()) {
      const std::string text(t.as_string());
      INFO(code << ": " << text);
      CHECK((code == "57P01" ||
             (code == "none" && text.starts_with("server closed the connection unexpectedly"))));
      ++turned_away;
      if (code == "57P01" || text.find("terminating connection due to administrator command") != std::string::npos) {
        ++with_words;
      }
    }
  }
  CHECK(turned_away == 12);
  CHECK(with_words >= 1);
  // Every acknowledged transaction is whole on the server; nothing else is there.
  std::string both = c.query(0, "SELECT count(*) FILTER (WHERE n = 2), count(*) FROM "
                                "(SELECT tx, count(*) AS n FROM drain_rows GROUP BY tx) t");
  CHECK(both == std::to_string(committed.size()) + "|" + std::to_string(committed.size()));
  CHECK_THAT(baton.log(), Catch::Contains("every client has left"));
}

TEST_CASE("admin API over TLS (admin.tls require): curl verifies the certificate and gets answers", "[admin-api]") {
  PgCluster& c = PgCluster::shared();
  Ports p;
  std::string cfg = config_text(c, p, 2);
  const std::string certs = c.cert_dir();
  const std::string tls_line = "tls = { mode = \"require\", cert_file = \"" + certs + "/server.crt\", key_file = \"" +
                               certs + "/server.key\" }\n";
  cfg.replace(cfg.find("token = "), 0, tls_line);
  BatonProcess baton(cfg, {p.pg, p.admin});
  const std::string base = "curl -sS --max-time 10 --cacert " + shell_quote(certs + "/ca.crt") + " --resolve localhost:" +
                           std::to_string(p.admin) + ":127.0.0.1 https://localhost:" + std::to_string(p.admin);
  RunResult health = run(base + "/healthz", 30s);
  INFO(health.output);
  CHECK(health.exit_code == 0);
  CHECK(health.output == "{\"status\":\"ok\"}\n");
  RunResult post = run(base + "/api/v1/reload -X POST -H 'Authorization: Bearer " + std::string(kToken) + "'", 30s);
  CHECK_THAT(post.output, Catch::Contains("\"command\":\"reload\""));
  // Plain HTTP to the TLS port gets no answer.
  HttpResult plain = http_request(p.admin, "GET", "/healthz", "", "", 3000ms);
  CHECK(plain.status == -1);
  CHECK_THAT(baton.log(), Catch::Contains("admin API on https://"));
}

TEST_CASE("SIGTERM under pgbench tpcb-like load: clients leave only between transactions", "[admin-api]") {
  PgCluster& c = PgCluster::shared();
  REQUIRE(run(std::string(kPgbench) + " -i -s 1 -q 'host=" + c.socket_dir() + " port=" + std::to_string(c.port(0)) +
                  " user=app dbname=app' 2>&1",
              120s)
              .exit_code == 0);
  Ports p;
  BatonProcess baton(config_text(c, p, 4, "shutdown_timeout = \"20s\"\n"), {p.pg, p.admin});
  REQUIRE(wait_ready(p.admin));
  auto bench = std::async(std::launch::async, [&] {
    return run("PGPASSWORD=app-secret " + std::string(kPgbench) + " -n -c 8 -j 2 -T 30 'host=127.0.0.1 port=" +
                   std::to_string(p.pg) + " user=app dbname=app sslmode=disable' 2>&1",
               90s);
  });
  std::this_thread::sleep_for(3000ms);
  REQUIRE(::kill(baton.pid(), SIGTERM) == 0);
  CHECK(baton.stop(SIGTERM, 30s) == 0);
  RunResult r = bench.get();
  INFO(r.output);
  CHECK_THAT(r.output, Catch::Contains("number of failed transactions: 0"));
  // pgbench ends a client whose connection closes; each did so at command 4 of the built-in
  // tpcb-like script, its BEGIN (commands 0-3 are the \set lines): between transactions.
  std::size_t aborted = 0;
  for (std::size_t at = r.output.find("aborted in command"); at != std::string::npos;
       at = r.output.find("aborted in command", at + 1)) {
    ++aborted;
    CHECK(r.output.compare(at, 21, "aborted in command 4 ") == 0);
  }
  CHECK(aborted == 8);
  // Every transaction pgbench counted as processed is in pgbench_history, each exactly once.
  const std::string processed_key = "number of transactions actually processed: ";
  const std::size_t at = r.output.find(processed_key);
  REQUIRE(at != std::string::npos);
  const long processed = std::stol(r.output.substr(at + processed_key.size()));
  CHECK(processed > 0);
  CHECK(std::stol(c.query(0, "SELECT count(*) FROM pgbench_history")) == processed);
}
