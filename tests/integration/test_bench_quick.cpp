// Integration tests of the benchmarks: bench/run.sh --quick and one kill of bench/failover.sh, their results checked.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"

using baton::test::RunResult;
using baton::test::run;
using baton::test::shell_quote;

namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

// The last `n` characters of `text` (pgbench and the bench script print a lot).
std::string tail(const std::string& text, std::size_t n = 6000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

double number(const json::value& v) { return v.is_null() ? -1.0 : v.to_number<double>(); }

// DIR/results.json, parsed (a failed check when it is missing or not JSON).
json::value read_results(const std::string& dir) {
  const std::string text = baton::test::read_file(dir + "/results.json");
  REQUIRE_FALSE(text.empty());
  json::error_code ec;
  json::value doc = json::parse(text, ec);
  INFO("results.json: " << text);
  REQUIRE_FALSE(ec);
  return doc;
}

const json::object* find_row(const json::array& rows, const std::string& endpoint, const std::string& scenario,
                             std::int64_t clients) {
  for (const auto& row : rows) {
    const auto& o = row.as_object();
    if (o.at("endpoint").as_string() == endpoint && o.at("scenario").as_string() == scenario &&
        o.at("clients").to_number<std::int64_t>() == clients) {
      return &o;
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("bench/run.sh --quick: every endpoint and scenario measured, baton and direct with tps > 0", "[bench]") {
  const std::string out = baton::test::make_temp_dir("baton-bench-out-");
  // The script starts PostgreSQL, two batons, two PgBouncers and HAProxy; the quick plan is
  // 3 scenarios x 6 endpoints x 2 s plus 200 idle clients through two proxies.
  // timeout(1) sends SIGTERM first, so that the script's exit trap still stops what it started.
  RunResult r = run("BATON_BINARY=" + shell_quote(baton::test::baton_binary()) +
                        " timeout --kill-after=60 780 bash " +
                        shell_quote(baton::test::source_dir() + "/bench/run.sh") + " --quick --out " + shell_quote(out),
                    900s);
  INFO("bench/run.sh output:\n" << tail(r.output));
  REQUIRE(r.exit_code == 0);

  json::value doc = read_results(out);
  const json::object& meta = doc.at("meta").as_object();

  const std::vector<std::string> endpoints = {"direct",       "baton-tx",          "baton-session",
                                              "pgbouncer-tx", "pgbouncer-session", "haproxy"};
  const std::vector<std::string> scenarios = {"select-simple", "select-prepared", "tpcb-simple"};
  std::vector<std::string> meta_endpoints;
  for (const auto& e : meta.at("endpoints").as_array()) meta_endpoints.emplace_back(e.as_string());
  CHECK(meta_endpoints == endpoints);
  std::vector<std::string> meta_scenarios;
  for (const auto& s : meta.at("scenarios").as_array()) meta_scenarios.emplace_back(s.as_string());
  CHECK(meta_scenarios == scenarios);
  CHECK(meta.at("quick").as_bool());

  const json::array& summary = doc.at("summary").as_array();
  const json::array& runs = doc.at("runs").as_array();
  CHECK(summary.size() == endpoints.size() * scenarios.size());
  CHECK(runs.size() == endpoints.size() * scenarios.size());  // one repeat, one client count

  for (const auto& endpoint : endpoints) {
    for (const auto& scenario : scenarios) {
      INFO(endpoint << " " << scenario);
      const json::object* row = find_row(summary, endpoint, scenario, 16);
      REQUIRE(row != nullptr);
      CHECK(row->at("runs").to_number<std::int64_t>() == 1);
      const json::object* raw = find_row(runs, endpoint, scenario, 16);
      REQUIRE(raw != nullptr);
      CHECK(raw->at("duration_s").to_number<std::int64_t>() == 2);
      const bool must_work = endpoint == "direct" || endpoint.rfind("baton", 0) == 0;
      if (!must_work) continue;
      INFO("errors: " << json::serialize(row->at("errors")));
      CHECK(row->at("status").as_string() == "ok");
      CHECK(number(row->at("tps")) > 0.0);
      CHECK(number(row->at("latency_p50_ms")) > 0.0);
      CHECK(number(row->at("latency_p99_ms")) >= number(row->at("latency_p50_ms")));
      CHECK(raw->at("transactions").to_number<std::int64_t>() > 0);
      CHECK(raw->at("latency_samples").to_number<std::int64_t>() == raw->at("transactions").to_number<std::int64_t>());
      if (endpoint == "direct") {
        CHECK(number(row->at("ratio_to_direct")) == Approx(1.0));
        CHECK(row->at("proxy_cpu_us_per_tx").is_null());  // no proxy: no proxy CPU figure
      } else {
        CHECK(number(row->at("ratio_to_direct")) > 0.0);
        CHECK(number(row->at("proxy_cpu_us_per_tx")) >= 0.0);
      }
    }
  }

  // Idle clients: baton in transaction mode holds 200 logged-in clients; RSS was read.
  bool baton_idle = false;
  for (const auto& row : doc.at("idle_rss_summary").as_array()) {
    const auto& o = row.as_object();
    if (o.at("endpoint").as_string() != "baton-tx") continue;
    baton_idle = true;
    CHECK(o.at("idle_clients").to_number<std::int64_t>() == 200);
    CHECK(o.at("status").as_string() == "ok");
    CHECK(number(o.at("rss_after_kib")) > 0.0);
    CHECK_FALSE(o.at("bytes_per_idle_client").is_null());
  }
  CHECK(baton_idle);

  // The markdown table: in results.md and printed.
  const std::string md = baton::test::read_file(out + "/results.md");
  const std::string header = "| endpoint | scenario | clients | tps | ratio | p50 ms | p99 ms | cpu us/tx |";
  CHECK_THAT(md, Catch::Contains(header));
  for (const auto& endpoint : endpoints) {
    for (const auto& scenario : scenarios) {
      CHECK_THAT(md, Catch::Contains("| " + endpoint + " | " + scenario + " | 16 | "));
    }
  }
  CHECK_THAT(r.output, Catch::Contains(header));

  // Everything it started is gone: no endpoint port accepts connections any more.
  for (const auto& [name, port] : meta.at("ports").as_object()) {
    INFO("port of " << std::string(name) << ": " << port);
    CHECK_FALSE(baton::test::wait_for_port(static_cast<int>(port.to_number<std::int64_t>()), 200ms));
  }

  std::error_code ignored;
  std::filesystem::remove_all(out, ignored);
}

TEST_CASE("bench/failover.sh: one kill with synchronous replication measured and nothing acknowledged lost", "[bench]") {
  const std::string out = baton::test::make_temp_dir("baton-failover-bench-out-");
  // A fresh three-node cluster, baton, 4 writers, one kill -9 of the primary (about 15 s).
  RunResult r = run("BATON_BINARY=" + shell_quote(baton::test::baton_binary()) +
                        " timeout --kill-after=30 300 bash " +
                        shell_quote(baton::test::source_dir() + "/bench/failover.sh") +
                        " --repeats 1 --modes sync --out " + shell_quote(out),
                    400s);
  INFO("bench/failover.sh output:\n" << tail(r.output));
  REQUIRE(r.exit_code == 0);

  json::value doc = read_results(out);
  INFO("results.json: " << json::serialize(doc));

  const json::array& runs = doc.at("runs").as_array();
  REQUIRE(runs.size() == 1);
  const json::object& run1 = runs[0].as_object();
  CHECK(run1.at("mode").as_string() == "sync");
  CHECK(run1.at("status").as_string() == "ok");
  CHECK(run1.at("new_primary").as_string().starts_with("node"));
  CHECK(run1.at("new_primary").as_string() != "node0");  // node0 was the primary killed
  CHECK(number(run1.at("resume_ms")) > 0.0);
  CHECK(number(run1.at("window_ms")) >= number(run1.at("resume_ms")));
  CHECK(run1.at("acked").to_number<std::int64_t>() > 0);
  CHECK(run1.at("errors_total").to_number<std::int64_t>() <= 4);  // at most one in flight per writer
  CHECK(run1.at("late_errors").to_number<std::int64_t>() == 0);
  CHECK(run1.at("reconnects").to_number<std::int64_t>() == 0);
  CHECK(run1.at("lost").to_number<std::int64_t>() == 0);  // synchronous replication
  CHECK(run1.at("idle_ok").as_bool());

  const json::array& summary = doc.at("summary").as_array();
  REQUIRE(summary.size() == 1);
  const json::object& row = summary[0].as_object();
  CHECK(row.at("runs_ok").to_number<std::int64_t>() == 1);
  CHECK(number(row.at("resume_ms")) == Approx(number(run1.at("resume_ms"))));
  CHECK(row.at("late_errors").to_number<std::int64_t>() == 0);

  const std::string md = baton::test::read_file(out + "/results.md");
  CHECK_THAT(md, Catch::Contains("| replication | runs ok | resume (median / max) |"));
  CHECK_THAT(md, Catch::Contains("| sync | 1/1 | "));

  std::error_code ignored;
  std::filesystem::remove_all(out, ignored);
}
