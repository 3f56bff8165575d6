// Tests for proxy/metrics: catalog rules, worker counters summed at scrape time, and a strict exposition-format parse.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "proxy/config/config.hpp"
#include "proxy/metrics/metrics.hpp"
#include "tests/common/prom_exposition.hpp"

using namespace baton::proxy::metrics;
using namespace baton::test::prom;
using namespace std::chrono_literals;
using baton::health::NodeHealth;
using baton::health::NodeRole;

namespace {

MetricsLayout two_clusters() {
  MetricsLayout l;
  l.listeners = {{"pg", "main"}, {"pg_ro", "main"}, {"rep", "reports"}};
  l.nodes = {{"main", "a"}, {"main", "b"}, {"reports", "r1"}};
  return l;
}

using Labels = std::map<std::string, std::string>;

}  // namespace

TEST_CASE("the strict exposition parser refuses malformed text", "[admin]") {
  // Each line below breaks one rule of the text format; the parser must notice.
  CHECK_THROWS(parse_exposition("x 1\n"));                                            // no TYPE
  CHECK_THROWS(parse_exposition("# TYPE x counter\nx{a=\"1\" 1\n"));                 // unclosed labels
  CHECK_THROWS(parse_exposition("# TYPE x counter\nx{1a=\"1\"} 1\n"));               // bad label name
  CHECK_THROWS(parse_exposition("# TYPE x counter\nx one\n"));                       // value not a float
  CHECK_THROWS(parse_exposition("# TYPE 1x counter\n"));                             // bad metric name
  CHECK_THROWS(parse_exposition("# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx 2\n")); // family split
  CHECK_THROWS(parse_exposition("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"));  // no +Inf
  CHECK_THROWS(parse_exposition(
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"));  // not cumulative
  CHECK_NOTHROW(parse_exposition(
      "# HELP h d\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\n"));
}

TEST_CASE("every metric is declared once with a conventional name, help and valid labels", "[admin]") {
  std::set<std::string> names;
  for (const MetricDef& d : catalog()) {
    INFO(d.name);
    CHECK(names.insert(std::string(d.name)).second);
    CHECK(std::regex_match(std::string(d.name), std::regex("baton_[a-z0-9_]+")));
    CHECK_FALSE(d.help.empty());
    if (d.type == prometheus::MetricType::Counter) CHECK(d.name.ends_with("_total"));
    if (d.type != prometheus::MetricType::Counter) CHECK_FALSE(d.name.ends_with("_total"));
    if (d.type == prometheus::MetricType::Histogram) {
      CHECK(d.name.ends_with("_seconds"));
    }
    for (std::size_t i = 0; i < d.label_count(); ++i) {
      CHECK(std::regex_match(std::string(d.labels[i]), kLabelName));
      CHECK(d.labels[i] != "le");
    }
  }
  // The families the issue asks for.
  for (const char* n : {"baton_client_connections", "baton_server_connections", "baton_pool_wait_seconds",
                        "baton_query_duration_seconds", "baton_transaction_duration_seconds",
                        "baton_transactions_total", "baton_queries_total", "baton_client_received_bytes_total",
                        "baton_client_sent_bytes_total", "baton_pinned_sessions",
                        "baton_prepared_statements_reprepared_total", "baton_errors_total", "baton_node_role",
                        "baton_node_health", "baton_replication_lag_bytes", "baton_replication_lag_seconds",
                        "baton_failovers_total", "baton_failover_duration_seconds", "baton_config_reloads_total",
                        "baton_routed_transactions_total", "baton_read_fallbacks_total",
                        "baton_standby_skips_total"}) {
    CHECK(find_metric(n) != nullptr);
  }
  CHECK(find_metric("baton_nope") == nullptr);
}

TEST_CASE("an empty Metrics serializes every family with HELP and TYPE, valid text", "[admin]") {
  Metrics m(two_clusters(), 2);
  const Exposition e = parse_exposition(m.serialize());
  REQUIRE(e.order.size() == catalog().size());
  for (std::size_t i = 0; i < catalog().size(); ++i) {
    const MetricDef& d = catalog()[i];
    INFO(d.name);
    CHECK(e.order[i] == d.name);  // catalog order
    const FamilyInfo& f = e.families.at(std::string(d.name));
    CHECK(f.has_help);
    CHECK(f.help == d.help);
  }
  CHECK(e.families.at("baton_queries_total").type == "counter");
  CHECK(e.families.at("baton_client_connections").type == "gauge");
  CHECK(e.families.at("baton_pool_wait_seconds").type == "histogram");
  // Zero-valued series are there from the start, so rate() works from the first scrape.
  CHECK(e.value("baton_queries_total", {{"listener", "pg"}}) == 0);
  CHECK(e.value("baton_errors_total", {{"kind", "auth_failed"}}) == 0);
  CHECK(e.value("baton_config_reloads_total", {{"result", "failed"}}) == 0);
  CHECK(e.count("baton_errors_total") == kErrorKinds);
  CHECK(e.count("baton_client_connections") == 3 * kClientStates);
  CHECK(e.count("baton_server_connections") == 3 * kServerStates);
  CHECK(e.families.at("baton_routed_transactions_total").type == "counter");
  CHECK(e.count("baton_routed_transactions_total") == 3 * kRoutedKinds);
  CHECK(e.count("baton_standby_skips_total") == 3 * kSkipReasons);
  CHECK(e.count("baton_read_fallbacks_total") == 2);  // clusters main and reports
  CHECK(e.value("baton_routed_transactions_total", {{"cluster", "reports"}, {"node", "r1"}, {"kind", "write"}}) == 0);
  CHECK(e.value("baton_standby_skips_total", {{"cluster", "main"}, {"node", "b"}, {"reason", "lag"}}) == 0);
  CHECK(e.value("baton_read_fallbacks_total", {{"cluster", "reports"}}) == 0);
}

TEST_CASE("routing counters: transactions per node and kind, read fallbacks, standby skips", "[admin]") {
  Metrics m(two_clusters(), 2);
  CHECK(m.cluster_slot("main") == 0);
  CHECK(m.cluster_slot("reports") == 1);
  CHECK(m.cluster_slot("nope") == -1);
  const int a = m.node_slot("main", "a");
  const int b = m.node_slot("main", "b");
  const int r1 = m.node_slot("reports", "r1");
  WorkerMetrics& w0 = m.for_worker(0);
  WorkerMetrics& w1 = m.for_worker(1);
  w0.on_routed(a, RoutedKind::kWrite);
  w1.on_routed(a, RoutedKind::kWrite);
  w1.on_routed(a, RoutedKind::kRead);  // a read that fell back to the primary
  w0.on_read_fallback(m.cluster_slot("main"));
  w0.on_routed(b, RoutedKind::kRead);
  w1.on_routed(b, RoutedKind::kRead);
  w1.on_routed(b, RoutedKind::kRead);
  w0.on_standby_skipped(b, SkipReason::kLag);
  w1.on_standby_skipped(b, SkipReason::kLag);
  w1.on_standby_skipped(r1, SkipReason::kNotCaughtUp);
  w1.on_read_fallback(m.cluster_slot("reports"));
  w1.on_read_fallback(m.cluster_slot("reports"));
  // Out-of-range slots are ignored.
  w0.on_routed(-1, RoutedKind::kRead);
  w0.on_routed(3, RoutedKind::kRead);
  w0.on_read_fallback(2);
  w0.on_read_fallback(-1);
  w0.on_standby_skipped(9, SkipReason::kLag);

  const Exposition e = parse_exposition(m.serialize());
  auto routed = [&](const char* node, const char* kind) {
    const std::string cluster = std::string(node) == "r1" ? "reports" : "main";
    return e.value("baton_routed_transactions_total", {{"cluster", cluster}, {"node", node}, {"kind", kind}});
  };
  CHECK(routed("a", "write") == 2);
  CHECK(routed("a", "read") == 1);
  CHECK(routed("b", "read") == 3);
  CHECK(routed("b", "write") == 0);
  CHECK(routed("r1", "read") == 0);
  CHECK(e.value("baton_read_fallbacks_total", {{"cluster", "main"}}) == 1);
  CHECK(e.value("baton_read_fallbacks_total", {{"cluster", "reports"}}) == 2);
  CHECK(e.value("baton_standby_skips_total", {{"cluster", "main"}, {"node", "b"}, {"reason", "lag"}}) == 2);
  CHECK(e.value("baton_standby_skips_total", {{"cluster", "main"}, {"node", "b"}, {"reason", "not_caught_up"}}) == 0);
  CHECK(e.value("baton_standby_skips_total", {{"cluster", "reports"}, {"node", "r1"}, {"reason", "not_caught_up"}}) == 1);
  CHECK(e.value("baton_standby_skips_total", {{"cluster", "main"}, {"node", "a"}, {"reason", "lag"}}) == 0);
}

TEST_CASE("cluster slots come from nodes, then listeners, each name once", "[admin]") {
  MetricsLayout l;
  l.nodes = {{"x", "1"}, {"y", "1"}, {"x", "2"}};
  l.listeners = {{"l1", "y"}, {"l2", "z"}};
  CHECK(l.clusters() == std::vector<std::string>{"x", "y", "z"});
  Metrics m(l, 1);
  CHECK(m.cluster_slot("z") == 2);
  m.for_worker(0).on_read_fallback(m.cluster_slot("z"));
  const Exposition e = parse_exposition(m.serialize());
  CHECK(e.value("baton_read_fallbacks_total", {{"cluster", "z"}}) == 1);
  CHECK(e.value("baton_read_fallbacks_total", {{"cluster", "x"}}) == 0);
  CHECK(e.count("baton_read_fallbacks_total") == 3);
}

TEST_CASE("counters bumped on two workers appear summed", "[admin]") {
  Metrics m(two_clusters(), 2);
  const int pg = m.listener_slot("pg");
  const int a = m.node_slot("main", "a");
  REQUIRE(pg == 0);
  REQUIRE(a == 0);
  CHECK(m.node_slot("reports", "r1") == 2);
  CHECK(m.node_slot("main", "r1") == -1);
  CHECK(m.listener_slot("nope") == -1);

  WorkerMetrics& w0 = m.for_worker(0);
  WorkerMetrics& w1 = m.for_worker(1);
  w0.on_query(pg, a, 3ms);
  w1.on_query(pg, a, 7ms);
  w1.on_query(pg, a, 1ms);  // exactly on a bound: counted in le="0.001"
  w0.on_transaction(pg, a, 20ms);
  w0.on_client_bytes_received(pg, 100);
  w1.on_client_bytes_received(pg, 23);
  w0.on_client_bytes_sent(pg, 4000);
  w1.on_reprepare(pg);
  w0.on_reprepare(pg);
  w0.session_pinned(pg);
  w1.session_pinned(pg);
  w1.session_unpinned(pg);
  w0.on_error(ErrorKind::kAuthFailed);
  w1.on_error(ErrorKind::kAuthFailed);
  w1.on_error(ErrorKind::kServerLost);
  w0.client_opened(pg, ClientState::kIdle);
  w0.client_opened(pg, ClientState::kIdle);
  w0.client_changed(pg, ClientState::kIdle, ClientState::kActive);
  w1.client_opened(pg, ClientState::kWaiting);
  w1.client_opened(pg, ClientState::kIdle);
  w1.client_closed(pg, ClientState::kIdle);
  w0.server_opened(a, ServerState::kOpening);
  w0.server_changed(a, ServerState::kOpening, ServerState::kIdle);
  w1.server_opened(a, ServerState::kOpening);
  w0.on_pool_wait(a, 2ms);
  w1.on_pool_wait(a, 200ms);

  const Exposition e = parse_exposition(m.serialize());
  CHECK(e.value("baton_queries_total", {{"listener", "pg"}}) == 3);
  CHECK(e.value("baton_queries_total", {{"listener", "pg_ro"}}) == 0);
  CHECK(e.value("baton_transactions_total", {{"listener", "pg"}}) == 1);
  CHECK(e.value("baton_client_received_bytes_total", {{"listener", "pg"}}) == 123);
  CHECK(e.value("baton_client_sent_bytes_total", {{"listener", "pg"}}) == 4000);
  CHECK(e.value("baton_prepared_statements_reprepared_total", {{"listener", "pg"}}) == 2);
  CHECK(e.value("baton_pinned_sessions", {{"listener", "pg"}}) == 1);
  CHECK(e.value("baton_errors_total", {{"kind", "auth_failed"}}) == 2);
  CHECK(e.value("baton_errors_total", {{"kind", "server_lost"}}) == 1);
  CHECK(e.value("baton_errors_total", {{"kind", "client_login_timeout"}}) == 0);
  CHECK(e.value("baton_client_connections", {{"listener", "pg"}, {"state", "active"}}) == 1);
  CHECK(e.value("baton_client_connections", {{"listener", "pg"}, {"state", "idle"}}) == 1);
  CHECK(e.value("baton_client_connections", {{"listener", "pg"}, {"state", "waiting"}}) == 1);
  const Labels node_a{{"cluster", "main"}, {"node", "a"}};
  CHECK(e.value("baton_server_connections", {{"cluster", "main"}, {"node", "a"}, {"state", "idle"}}) == 1);
  CHECK(e.value("baton_server_connections", {{"cluster", "main"}, {"node", "a"}, {"state", "opening"}}) == 1);
  CHECK(e.value("baton_server_connections", {{"cluster", "main"}, {"node", "a"}, {"state", "active"}}) == 0);

  // Query latency: 1 ms, 3 ms, 7 ms against bounds 0.0005, 0.001, 0.0025, 0.005, 0.01, ...
  Labels q{{"listener", "pg"}, {"cluster", "main"}, {"node", "a"}};
  auto bucket = [&](const std::string& name, Labels labels, const std::string& le) {
    labels["le"] = le;
    return e.value(name + "_bucket", labels);
  };
  CHECK(bucket("baton_query_duration_seconds", q, "0.0005") == 0);
  CHECK(bucket("baton_query_duration_seconds", q, "0.001") == 1);
  CHECK(bucket("baton_query_duration_seconds", q, "0.0025") == 1);
  CHECK(bucket("baton_query_duration_seconds", q, "0.005") == 2);
  CHECK(bucket("baton_query_duration_seconds", q, "0.01") == 3);
  CHECK(bucket("baton_query_duration_seconds", q, "+Inf") == 3);
  CHECK(e.value("baton_query_duration_seconds_count", q) == 3);
  CHECK(e.value("baton_query_duration_seconds_sum", q) == Approx(0.011));
  CHECK(bucket("baton_transaction_duration_seconds", q, "0.01") == 0);
  CHECK(bucket("baton_transaction_duration_seconds", q, "0.025") == 1);
  CHECK(e.value("baton_transaction_duration_seconds_sum", q) == Approx(0.020));

  // Pool wait: 2 ms and 200 ms against 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, ...
  CHECK(bucket("baton_pool_wait_seconds", node_a, "0.001") == 0);
  CHECK(bucket("baton_pool_wait_seconds", node_a, "0.005") == 1);
  CHECK(bucket("baton_pool_wait_seconds", node_a, "0.1") == 1);
  CHECK(bucket("baton_pool_wait_seconds", node_a, "0.5") == 2);
  CHECK(e.value("baton_pool_wait_seconds_count", node_a) == 2);
  CHECK(e.value("baton_pool_wait_seconds_sum", node_a) == Approx(0.202));
}

TEST_CASE("latency series exist only for nodes of the listener's cluster", "[admin]") {
  Metrics m(two_clusters(), 1);
  const Exposition e = parse_exposition(m.serialize());
  // pg and pg_ro x (a, b) + rep x r1 = 5 series.
  CHECK(e.count("baton_query_duration_seconds_count") == 5);
  CHECK_NOTHROW(e.value("baton_query_duration_seconds_count", {{"listener", "rep"}, {"cluster", "reports"}, {"node", "r1"}}));
  CHECK_THROWS(e.value("baton_query_duration_seconds_count", {{"listener", "rep"}, {"cluster", "main"}, {"node", "a"}}));
}

TEST_CASE("slots out of range are ignored", "[admin]") {
  Metrics m(two_clusters(), 1);
  WorkerMetrics& w = m.for_worker(0);
  w.on_query(-1, 0, 1ms);
  w.on_query(99, 0, 1ms);
  w.on_query(0, 99, 1ms);  // counted for the listener, no latency series for an unknown node
  w.client_opened(7, ClientState::kIdle);
  w.server_opened(-3, ServerState::kIdle);
  w.on_pool_wait(42, 1ms);
  const Exposition e = parse_exposition(m.serialize());
  CHECK(e.value("baton_queries_total", {{"listener", "pg"}}) == 1);
  CHECK(e.value("baton_query_duration_seconds_count", {{"listener", "pg"}, {"cluster", "main"}, {"node", "a"}}) == 0);
}

TEST_CASE("control-plane metrics: topology, failovers, reloads", "[admin]") {
  Metrics m(two_clusters(), 1);
  baton::health::Topology t;
  t.epoch = 3;
  t.nodes.resize(2);
  t.nodes[0].name = "a";
  t.nodes[0].role = NodeRole::kStandby;
  t.nodes[0].health = NodeHealth::kFenced;
  t.nodes[1].name = "b";
  t.nodes[1].role = NodeRole::kPrimary;
  t.nodes[1].health = NodeHealth::kUp;
  t.nodes[0].lag_bytes = 16384;
  t.nodes[0].lag_seconds = 1.5;
  t.primary = 1;
  m.on_topology("main", t);
  m.on_failover("main", 4500ms);
  m.on_config_reload(ReloadResult::kOk);
  m.on_config_reload(ReloadResult::kOk);
  m.on_config_reload(ReloadResult::kFailed);

  const Exposition e = parse_exposition(m.serialize());
  CHECK(e.value("baton_topology_epoch", {{"cluster", "main"}}) == 3);
  CHECK(e.value("baton_node_role", {{"cluster", "main"}, {"node", "b"}, {"role", "primary"}}) == 1);
  CHECK(e.value("baton_node_role", {{"cluster", "main"}, {"node", "b"}, {"role", "standby"}}) == 0);
  CHECK(e.value("baton_node_role", {{"cluster", "main"}, {"node", "a"}, {"role", "standby"}}) == 1);
  CHECK(e.value("baton_node_health", {{"cluster", "main"}, {"node", "a"}, {"state", "fenced"}}) == 1);
  CHECK(e.value("baton_node_health", {{"cluster", "main"}, {"node", "a"}, {"state", "up"}}) == 0);
  CHECK(e.value("baton_node_health", {{"cluster", "main"}, {"node", "b"}, {"state", "up"}}) == 1);
  CHECK(e.value("baton_replication_lag_bytes", {{"cluster", "main"}, {"node", "a"}}) == 16384);
  CHECK(e.value("baton_replication_lag_seconds", {{"cluster", "main"}, {"node", "a"}}) == 1.5);
  CHECK(e.value("baton_failovers_total", {{"cluster", "main"}}) == 1);
  CHECK(e.value("baton_failover_duration_seconds_bucket", {{"cluster", "main"}, {"le", "2"}}) == 0);
  CHECK(e.value("baton_failover_duration_seconds_bucket", {{"cluster", "main"}, {"le", "5"}}) == 1);
  CHECK(e.value("baton_failover_duration_seconds_sum", {{"cluster", "main"}}) == 4.5);
  CHECK(e.value("baton_config_reloads_total", {{"result", "ok"}}) == 2);
  CHECK(e.value("baton_config_reloads_total", {{"result", "failed"}}) == 1);

  // A later topology replaces the one-hot values.
  t.nodes[0].health = NodeHealth::kUp;
  m.on_topology("main", t);
  const Exposition e2 = parse_exposition(m.serialize());
  CHECK(e2.value("baton_node_health", {{"cluster", "main"}, {"node", "a"}, {"state", "fenced"}}) == 0);
  CHECK(e2.value("baton_node_health", {{"cluster", "main"}, {"node", "a"}, {"state", "up"}}) == 1);
}

TEST_CASE("the layout follows the configuration", "[admin]") {
  baton::proxy::Config c;
  c.listeners.resize(2);
  c.listeners[0].name = "pg";
  c.listeners[0].cluster = "main";
  c.listeners[1].name = "ro";
  c.listeners[1].cluster = "main";
  c.clusters.resize(1);
  c.clusters[0].name = "main";
  c.clusters[0].nodes.resize(2);
  c.clusters[0].nodes[0].name = "n1";
  c.clusters[0].nodes[1].name = "n2";
  const MetricsLayout l = make_layout(c);
  REQUIRE(l.listeners.size() == 2);
  CHECK(l.listeners[1].name == "ro");
  CHECK(l.listeners[1].cluster == "main");
  REQUIRE(l.nodes.size() == 2);
  CHECK(l.nodes[1].cluster == "main");
  CHECK(l.nodes[1].name == "n2");
}

TEST_CASE("metric enums name their label values", "[admin]") {
  CHECK(to_string(ClientState::kWaiting) == "waiting");
  CHECK(to_string(ServerState::kOpening) == "opening");
  CHECK(to_string(ErrorKind::kQueryWaitTimeout) == "query_wait_timeout");
  CHECK(to_string(ErrorKind::kClientLoginTimeout) == "client_login_timeout");
  CHECK(to_string(ReloadResult::kFailed) == "failed");
  CHECK(to_string(RoutedKind::kRead) == "read");
  CHECK(to_string(RoutedKind::kWrite) == "write");
  CHECK(to_string(SkipReason::kLag) == "lag");
  CHECK(to_string(SkipReason::kNotCaughtUp) == "not_caught_up");
}
