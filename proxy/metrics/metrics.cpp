// Prometheus metrics: the catalog, per-worker counters summed at scrape time, control-plane families.
#include "proxy/metrics/metrics.hpp"

#include <algorithm>
#include <limits>
#include <sstream>
#include <type_traits>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "proxy/config/config.hpp"

namespace baton::proxy::metrics {

namespace {

using prometheus::MetricType;

// Catalog indices, in output order.
enum Id : std::size_t {
  kClientConnections,
  kServerConnections,
  kPoolWait,
  kQueryDuration,
  kTransactionDuration,
  kQueries,
  kTransactions,
  kClientReceivedBytes,
  kClientSentBytes,
  kPinnedSessions,
  kReprepared,
  kErrors,
  kRoutedTransactions,
  kReadFallbacks,
  kStandbySkips,
  kNodeRole,
  kNodeHealth,
  kLagBytes,
  kLagSeconds,
  kEpoch,
  kFailovers,
  kFailoverDuration,
  kConfigReloads,
  kCatalogSize,
};

constexpr std::array<MetricDef, kCatalogSize> kCatalog{{
    {"baton_client_connections", "Client connections by state (active: has a server connection; waiting: "
     "queued for one; idle: between transactions).", MetricType::Gauge, {"listener", "state"}},
    {"baton_server_connections", "Server connections by state (active: leased to a client; idle: in the pool; "
     "opening: connecting or logging in).", MetricType::Gauge, {"cluster", "node", "state"}},
    {"baton_pool_wait_seconds", "Time a client waited for a server connection from the pool.",
     MetricType::Histogram, {"cluster", "node"}},
    {"baton_query_duration_seconds", "Query latency seen by the proxy, from the client's request to the "
     "server's last answer.", MetricType::Histogram, {"listener", "cluster", "node"}},
    {"baton_transaction_duration_seconds", "Transaction latency, from the first statement to the server "
     "reporting the transaction over.", MetricType::Histogram, {"listener", "cluster", "node"}},
    {"baton_queries_total", "Queries forwarded to a server.", MetricType::Counter, {"listener"}},
    {"baton_transactions_total", "Transactions completed (committed, rolled back or implicit).",
     MetricType::Counter, {"listener"}},
    {"baton_client_received_bytes_total", "Bytes received from clients.", MetricType::Counter, {"listener"}},
    {"baton_client_sent_bytes_total", "Bytes sent to clients.", MetricType::Counter, {"listener"}},
    {"baton_pinned_sessions", "Client sessions pinned to one server connection by session state.",
     MetricType::Gauge, {"listener"}},
    {"baton_prepared_statements_reprepared_total", "Prepared statements prepared again on another server "
     "connection.", MetricType::Counter, {"listener"}},
    {"baton_errors_total", "Errors by kind.", MetricType::Counter, {"kind"}},
    {"baton_routed_transactions_total", "Transactions routed to a node, by kind (read: routed by the read rules, "
     "to a standby or falling back to the primary; write: to the primary).", MetricType::Counter,
     {"cluster", "node", "kind"}},
    {"baton_read_fallbacks_total", "Reads sent to the primary because no standby was eligible.",
     MetricType::Counter, {"cluster"}},
    {"baton_standby_skips_total", "Standbys left out of a read's choice, by reason (lag: past the cluster's "
     "replica lag limits; not_caught_up: behind a session's read-your-writes position).", MetricType::Counter,
     {"cluster", "node", "reason"}},
    {"baton_node_role", "The role of a node (1 for its current role, 0 for the others).", MetricType::Gauge,
     {"cluster", "node", "role"}},
    {"baton_node_health", "The health of a node (1 for its current state, 0 for the others).",
     MetricType::Gauge, {"cluster", "node", "state"}},
    {"baton_replication_lag_bytes", "WAL bytes a standby has yet to replay.", MetricType::Gauge,
     {"cluster", "node"}},
    {"baton_replication_lag_seconds", "Replay lag a standby reports.", MetricType::Gauge, {"cluster", "node"}},
    {"baton_topology_epoch", "Topology epoch of a cluster (rises at every failover or switchover).",
     MetricType::Gauge, {"cluster"}},
    {"baton_failovers_total", "Failovers and switchovers completed.", MetricType::Counter, {"cluster"}},
    {"baton_failover_duration_seconds", "Time from the primary confirmed down (or the switchover request) "
     "to writes resumed on the new primary.", MetricType::Histogram, {"cluster"}},
    {"baton_config_reloads_total", "Configuration reloads by result.", MetricType::Counter, {"result"}},
}};

constexpr std::array<double, 14> kLatencyBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
constexpr std::array<double, 12> kPoolWaitBuckets{0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05,
                                                  0.1,    0.5,    1,     5,     30,   120};
constexpr std::array<double, 9> kFailoverBuckets{0.5, 1, 2, 5, 10, 20, 30, 60, 120};
static_assert(kLatencyBuckets.size() <= HistogramCells::kMaxBuckets);
static_assert(kPoolWaitBuckets.size() <= HistogramCells::kMaxBuckets);

constexpr std::array<ClientState, kClientStates> kAllClientStates{ClientState::kActive, ClientState::kWaiting,
                                                                  ClientState::kIdle};
constexpr std::array<ServerState, kServerStates> kAllServerStates{ServerState::kActive, ServerState::kIdle,
                                                                  ServerState::kOpening};
constexpr std::array<ErrorKind, kErrorKinds> kAllErrorKinds{
    ErrorKind::kAuthFailed,        ErrorKind::kTooManyClients, ErrorKind::kQueryWaitTimeout,
    ErrorKind::kServerUnreachable, ErrorKind::kProtocolViolation, ErrorKind::kServerLost,
    ErrorKind::kClientLoginTimeout};
constexpr std::array<RoutedKind, kRoutedKinds> kAllRoutedKinds{RoutedKind::kRead, RoutedKind::kWrite};
constexpr std::array<SkipReason, kSkipReasons> kAllSkipReasons{SkipReason::kLag, SkipReason::kNotCaughtUp};
constexpr std::array<health::NodeRole, 3> kAllRoles{health::NodeRole::kUnknown, health::NodeRole::kPrimary,
                                                    health::NodeRole::kStandby};
constexpr std::array<health::NodeHealth, 5> kAllHealth{health::NodeHealth::kUp, health::NodeHealth::kSuspect,
                                                       health::NodeHealth::kDown, health::NodeHealth::kFenced,
                                                       health::NodeHealth::kDrained};

std::vector<std::uint64_t> to_ns(std::span<const double> seconds) {
  std::vector<std::uint64_t> out;
  for (double s : seconds) out.push_back(static_cast<std::uint64_t>(s * 1e9 + 0.5));
  return out;
}

std::uint64_t load(const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); }
std::int64_t load(const std::atomic<std::int64_t>& a) { return a.load(std::memory_order_relaxed); }
// A cell has one writer, its worker (readers only load): a plain load and store, not a locked
// read-modify-write, which costs some 20 cycles more; a select-only transaction bumps 15 cells.
template <typename T>
void bump(std::atomic<T>& a, std::type_identity_t<T> n) {
  a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
void bump(std::atomic<std::uint64_t>& a) { bump<std::uint64_t>(a, 1); }

prometheus::MetricFamily family(Id id) {
  const MetricDef& d = kCatalog[id];
  return {std::string(d.name), std::string(d.help), d.type, {}};
}

prometheus::ClientMetric sample(std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  prometheus::ClientMetric m;
  for (const auto& [name, value] : labels) m.label.push_back({std::string(name), std::string(value)});
  return m;
}

// A histogram sample from per-bucket counts summed over workers; _count is the +Inf bucket.
struct HistogramSum {
  std::vector<std::uint64_t> counts;  // bounds + 1
  std::uint64_t sum_ns = 0;

  explicit HistogramSum(std::size_t bounds) : counts(bounds + 1, 0) {}
  void add(const HistogramCells& h) {
    for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += h.bucket(i);
    sum_ns += h.sum_ns();
  }
  void fill(prometheus::ClientMetric& m, std::span<const double> bounds) const {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
      cumulative += counts[i];
      m.histogram.bucket.push_back({cumulative, bounds[i]});
    }
    cumulative += counts.back();
    m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = static_cast<double>(sum_ns) / 1e9;
  }
};

}  // namespace

std::size_t MetricDef::label_count() const {
  return static_cast<std::size_t>(std::count_if(labels.begin(), labels.end(), [](auto l) { return !l.empty(); }));
}

std::span<const MetricDef> catalog() { return kCatalog; }

const MetricDef* find_metric(std::string_view name) {
  for (const MetricDef& d : kCatalog) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::string_view to_string(ClientState s) {
  switch (s) {
    case ClientState::kActive: return "active";
    case ClientState::kWaiting: return "waiting";
    case ClientState::kIdle: return "idle";
  }
  return "?";
}

std::string_view to_string(ServerState s) {
  switch (s) {
    case ServerState::kActive: return "active";
    case ServerState::kIdle: return "idle";
    case ServerState::kOpening: return "opening";
  }
  return "?";
}

std::string_view to_string(ErrorKind k) {
  switch (k) {
    case ErrorKind::kAuthFailed: return "auth_failed";
    case ErrorKind::kTooManyClients: return "too_many_clients";
    case ErrorKind::kQueryWaitTimeout: return "query_wait_timeout";
    case ErrorKind::kServerUnreachable: return "server_unreachable";
    case ErrorKind::kProtocolViolation: return "protocol_violation";
    case ErrorKind::kServerLost: return "server_lost";
    case ErrorKind::kClientLoginTimeout: return "client_login_timeout";
  }
  return "?";
}

std::string_view to_string(ReloadResult r) {
  switch (r) {
    case ReloadResult::kOk: return "ok";
    case ReloadResult::kFailed: return "failed";
  }
  return "?";
}

std::string_view to_string(RoutedKind k) {
  switch (k) {
    case RoutedKind::kRead: return "read";
    case RoutedKind::kWrite: return "write";
  }
  return "?";
}

std::string_view to_string(SkipReason r) {
  switch (r) {
    case SkipReason::kLag: return "lag";
    case SkipReason::kNotCaughtUp: return "not_caught_up";
  }
  return "?";
}

std::span<const double> latency_buckets() { return kLatencyBuckets; }
std::span<const double> pool_wait_buckets() { return kPoolWaitBuckets; }
std::span<const double> failover_buckets() { return kFailoverBuckets; }

MetricsLayout make_layout(const Config& config) {
  MetricsLayout layout;
  for (const ListenerConfig& l : config.listeners) layout.listeners.push_back({l.name, l.cluster});
  for (const ClusterConfig& c : config.clusters) {
    for (const NodeConfig& n : c.nodes) layout.nodes.push_back({c.name, n.name});
  }
  return layout;
}

std::vector<std::string> MetricsLayout::clusters() const {
  std::vector<std::string> out;
  auto add = [&](const std::string& c) {
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  };
  for (const Node& n : nodes) add(n.cluster);
  for (const Listener& l : listeners) add(l.cluster);
  return out;
}

// --- HistogramCells, WorkerMetrics: the hot path ---

void HistogramCells::observe(std::span<const std::uint64_t> bounds_ns, std::chrono::nanoseconds d) {
  const std::uint64_t ns = d.count() > 0 ? static_cast<std::uint64_t>(d.count()) : 0;
  std::size_t i = 0;
  while (i < bounds_ns.size() && ns > bounds_ns[i]) ++i;  // le: a value equal to a bound falls in it
  bump(counts_[i]);
  bump(sum_ns_, ns);
}

WorkerMetrics::WorkerMetrics(const MetricsLayout& layout, std::span<const std::uint64_t> latency_ns,
                             std::span<const std::uint64_t> pool_wait_ns)
    : listener_count_(layout.listeners.size()),
      node_count_(layout.nodes.size()),
      cluster_count_(layout.clusters().size()),
      latency_ns_(latency_ns),
      pool_wait_ns_(pool_wait_ns),
      listeners_(std::make_unique<ListenerCells[]>(listener_count_)),
      nodes_(std::make_unique<NodeCells[]>(node_count_)),
      pairs_(std::make_unique<PairCells[]>(listener_count_ * node_count_)),
      read_fallbacks_(std::make_unique<std::atomic<std::uint64_t>[]>(cluster_count_)) {}

void WorkerMetrics::add_client(int listener, ClientState s, std::int64_t delta) {
  if (!listener_ok(listener)) return;
  bump(listeners_[static_cast<std::size_t>(listener)].clients[static_cast<std::size_t>(s)], delta);
}

void WorkerMetrics::client_changed(int listener, ClientState from, ClientState to) {
  add_client(listener, from, -1);
  add_client(listener, to, 1);
}

void WorkerMetrics::add_server(int node, ServerState s, std::int64_t delta) {
  if (!node_ok(node)) return;
  bump(nodes_[static_cast<std::size_t>(node)].servers[static_cast<std::size_t>(s)], delta);
}

void WorkerMetrics::server_changed(int node, ServerState from, ServerState to) {
  add_server(node, from, -1);
  add_server(node, to, 1);
}

void WorkerMetrics::on_pool_wait(int node, std::chrono::nanoseconds waited) {
  if (node_ok(node)) nodes_[static_cast<std::size_t>(node)].pool_wait.observe(pool_wait_ns_, waited);
}

void WorkerMetrics::on_query(int listener, int node, std::chrono::nanoseconds latency) {
  if (!listener_ok(listener)) return;
  bump(listeners_[static_cast<std::size_t>(listener)].queries);
  if (node_ok(node)) pair(listener, node).query.observe(latency_ns_, latency);
}

void WorkerMetrics::on_transaction(int listener, int node, std::chrono::nanoseconds latency) {
  if (!listener_ok(listener)) return;
  bump(listeners_[static_cast<std::size_t>(listener)].transactions);
  if (node_ok(node)) pair(listener, node).transaction.observe(latency_ns_, latency);
}

void WorkerMetrics::on_client_bytes_received(int listener, std::size_t n) {
  if (listener_ok(listener)) bump(listeners_[static_cast<std::size_t>(listener)].bytes_received, n);
}

void WorkerMetrics::on_client_bytes_sent(int listener, std::size_t n) {
  if (listener_ok(listener)) bump(listeners_[static_cast<std::size_t>(listener)].bytes_sent, n);
}

void WorkerMetrics::session_pinned(int listener) {
  if (listener_ok(listener)) bump(listeners_[static_cast<std::size_t>(listener)].pinned, 1);
}

void WorkerMetrics::session_unpinned(int listener) {
  if (listener_ok(listener)) bump(listeners_[static_cast<std::size_t>(listener)].pinned, -1);
}

void WorkerMetrics::on_reprepare(int listener) {
  if (listener_ok(listener)) bump(listeners_[static_cast<std::size_t>(listener)].reprepared);
}

void WorkerMetrics::on_error(ErrorKind kind) {
  const auto i = static_cast<std::size_t>(kind);
  if (i < errors_.size()) bump(errors_[i]);
}

void WorkerMetrics::on_routed(int node, RoutedKind kind) {
  const auto k = static_cast<std::size_t>(kind);
  if (node_ok(node) && k < kRoutedKinds) bump(nodes_[static_cast<std::size_t>(node)].routed[k]);
}

void WorkerMetrics::on_read_fallback(int cluster) {
  if (cluster_ok(cluster)) bump(read_fallbacks_[static_cast<std::size_t>(cluster)]);
}

void WorkerMetrics::on_standby_skipped(int node, SkipReason reason) {
  const auto r = static_cast<std::size_t>(reason);
  if (node_ok(node) && r < kSkipReasons) bump(nodes_[static_cast<std::size_t>(node)].skipped[r]);
}

// --- WorkerCollector: sums every worker's cells into families at scrape time ---

class WorkerCollector : public prometheus::Collectable {
 public:
  WorkerCollector(const MetricsLayout& layout, const std::vector<std::unique_ptr<WorkerMetrics>>& workers)
      : layout_(layout), clusters_(layout.clusters()), workers_(workers) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    collect_listeners(out);
    collect_nodes(out);
    collect_latency(out, kQueryDuration, &WorkerMetrics::PairCells::query);
    collect_latency(out, kTransactionDuration, &WorkerMetrics::PairCells::transaction);
    collect_errors(out);
    collect_routing(out);
    return out;
  }

 private:
  using ListenerCounter = std::atomic<std::uint64_t> WorkerMetrics::ListenerCells::*;

  std::uint64_t sum_listener(std::size_t l, ListenerCounter field) const {
    std::uint64_t total = 0;
    for (const auto& w : workers_) total += load(w->listeners_[l].*field);
    return total;
  }

  void collect_listeners(std::vector<prometheus::MetricFamily>& out) const {
    prometheus::MetricFamily clients = family(kClientConnections);
    prometheus::MetricFamily pinned = family(kPinnedSessions);
    const std::pair<Id, ListenerCounter> counters[] = {
        {kQueries, &WorkerMetrics::ListenerCells::queries},
        {kTransactions, &WorkerMetrics::ListenerCells::transactions},
        {kClientReceivedBytes, &WorkerMetrics::ListenerCells::bytes_received},
        {kClientSentBytes, &WorkerMetrics::ListenerCells::bytes_sent},
        {kReprepared, &WorkerMetrics::ListenerCells::reprepared},
    };
    std::vector<prometheus::MetricFamily> counter_families;
    for (const auto& c : counters) counter_families.push_back(family(c.first));

    for (std::size_t l = 0; l < layout_.listeners.size(); ++l) {
      const std::string& name = layout_.listeners[l].name;
      for (ClientState s : kAllClientStates) {
        std::int64_t total = 0;
        for (const auto& w : workers_) total += load(w->listeners_[l].clients[static_cast<std::size_t>(s)]);
        auto m = sample({{"listener", name}, {"state", to_string(s)}});
        m.gauge.value = static_cast<double>(total);
        clients.metric.push_back(std::move(m));
      }
      std::int64_t pinned_total = 0;
      for (const auto& w : workers_) pinned_total += load(w->listeners_[l].pinned);
      auto p = sample({{"listener", name}});
      p.gauge.value = static_cast<double>(pinned_total);
      pinned.metric.push_back(std::move(p));
      for (std::size_t i = 0; i < std::size(counters); ++i) {
        auto m = sample({{"listener", name}});
        m.counter.value = static_cast<double>(sum_listener(l, counters[i].second));
        counter_families[i].metric.push_back(std::move(m));
      }
    }
    out.push_back(std::move(clients));
    out.push_back(std::move(pinned));
    for (auto& f : counter_families) out.push_back(std::move(f));
  }

  void collect_nodes(std::vector<prometheus::MetricFamily>& out) const {
    prometheus::MetricFamily servers = family(kServerConnections);
    prometheus::MetricFamily wait = family(kPoolWait);
    for (std::size_t n = 0; n < layout_.nodes.size(); ++n) {
      const auto& node = layout_.nodes[n];
      for (ServerState s : kAllServerStates) {
        std::int64_t total = 0;
        for (const auto& w : workers_) total += load(w->nodes_[n].servers[static_cast<std::size_t>(s)]);
        auto m = sample({{"cluster", node.cluster}, {"node", node.name}, {"state", to_string(s)}});
        m.gauge.value = static_cast<double>(total);
        servers.metric.push_back(std::move(m));
      }
      HistogramSum h(kPoolWaitBuckets.size());
      for (const auto& w : workers_) h.add(w->nodes_[n].pool_wait);
      auto m = sample({{"cluster", node.cluster}, {"node", node.name}});
      h.fill(m, kPoolWaitBuckets);
      wait.metric.push_back(std::move(m));
    }
    out.push_back(std::move(servers));
    out.push_back(std::move(wait));
  }

  void collect_latency(std::vector<prometheus::MetricFamily>& out, Id id,
                       HistogramCells WorkerMetrics::PairCells::*field) const {
    prometheus::MetricFamily f = family(id);
    const std::size_t nodes = layout_.nodes.size();
    for (std::size_t l = 0; l < layout_.listeners.size(); ++l) {
      const auto& listener = layout_.listeners[l];
      for (std::size_t n = 0; n < nodes; ++n) {
        const auto& node = layout_.nodes[n];
        if (node.cluster != listener.cluster) continue;
        HistogramSum h(kLatencyBuckets.size());
        for (const auto& w : workers_) h.add(w->pairs_[l * nodes + n].*field);
        auto m = sample({{"listener", listener.name}, {"cluster", node.cluster}, {"node", node.name}});
        h.fill(m, kLatencyBuckets);
        f.metric.push_back(std::move(m));
      }
    }
    out.push_back(std::move(f));
  }

  void collect_errors(std::vector<prometheus::MetricFamily>& out) const {
    prometheus::MetricFamily f = family(kErrors);
    for (ErrorKind k : kAllErrorKinds) {
      std::uint64_t total = 0;
      for (const auto& w : workers_) total += load(w->errors_[static_cast<std::size_t>(k)]);
      auto m = sample({{"kind", to_string(k)}});
      m.counter.value = static_cast<double>(total);
      f.metric.push_back(std::move(m));
    }
    out.push_back(std::move(f));
  }

  void collect_routing(std::vector<prometheus::MetricFamily>& out) const {
    prometheus::MetricFamily routed = family(kRoutedTransactions);
    prometheus::MetricFamily skips = family(kStandbySkips);
    prometheus::MetricFamily fallbacks = family(kReadFallbacks);
    for (std::size_t n = 0; n < layout_.nodes.size(); ++n) {
      const auto& node = layout_.nodes[n];
      for (RoutedKind k : kAllRoutedKinds) {
        std::uint64_t total = 0;
        for (const auto& w : workers_) total += load(w->nodes_[n].routed[static_cast<std::size_t>(k)]);
        auto m = sample({{"cluster", node.cluster}, {"node", node.name}, {"kind", to_string(k)}});
        m.counter.value = static_cast<double>(total);
        routed.metric.push_back(std::move(m));
      }
      for (SkipReason r : kAllSkipReasons) {
        std::uint64_t total = 0;
        for (const auto& w : workers_) total += load(w->nodes_[n].skipped[static_cast<std::size_t>(r)]);
        auto m = sample({{"cluster", node.cluster}, {"node", node.name}, {"reason", to_string(r)}});
        m.counter.value = static_cast<double>(total);
        skips.metric.push_back(std::move(m));
      }
    }
    for (std::size_t c = 0; c < clusters_.size(); ++c) {
      std::uint64_t total = 0;
      for (const auto& w : workers_) total += load(w->read_fallbacks_[c]);
      auto m = sample({{"cluster", clusters_[c]}});
      m.counter.value = static_cast<double>(total);
      fallbacks.metric.push_back(std::move(m));
    }
    out.push_back(std::move(routed));
    out.push_back(std::move(fallbacks));
    out.push_back(std::move(skips));
  }

  const MetricsLayout& layout_;
  std::vector<std::string> clusters_;
  const std::vector<std::unique_ptr<WorkerMetrics>>& workers_;
};

// --- Metrics ---

namespace {

template <typename T>
prometheus::Family<T>& register_family(prometheus::Registry& r, Id id, prometheus::detail::Builder<T> builder) {
  const MetricDef& d = kCatalog[id];
  return builder.Name(std::string(d.name)).Help(std::string(d.help)).Register(r);
}

}  // namespace

Metrics::Metrics(MetricsLayout layout, int workers)
    : layout_(std::move(layout)),
      clusters_(layout_.clusters()),
      latency_ns_(to_ns(kLatencyBuckets)),
      pool_wait_ns_(to_ns(kPoolWaitBuckets)),
      registry_(std::make_shared<prometheus::Registry>()) {
  for (int i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<WorkerMetrics>(layout_, latency_ns_, pool_wait_ns_));
  }
  collector_ = std::make_unique<WorkerCollector>(layout_, workers_);
  prometheus::Registry& r = *registry_;
  node_role_ = &register_family(r, kNodeRole, prometheus::BuildGauge());
  node_health_ = &register_family(r, kNodeHealth, prometheus::BuildGauge());
  lag_bytes_ = &register_family(r, kLagBytes, prometheus::BuildGauge());
  lag_seconds_ = &register_family(r, kLagSeconds, prometheus::BuildGauge());
  epoch_ = &register_family(r, kEpoch, prometheus::BuildGauge());
  failovers_ = &register_family(r, kFailovers, prometheus::BuildCounter());
  failover_seconds_ = &register_family(r, kFailoverDuration, prometheus::BuildHistogram());
  reloads_ = &register_family(r, kConfigReloads, prometheus::BuildCounter());
  for (ReloadResult result : {ReloadResult::kOk, ReloadResult::kFailed}) {
    reloads_->Add({{"result", std::string(to_string(result))}});
  }
}

Metrics::~Metrics() = default;

int Metrics::listener_slot(std::string_view listener) const {
  for (std::size_t i = 0; i < layout_.listeners.size(); ++i) {
    if (layout_.listeners[i].name == listener) return static_cast<int>(i);
  }
  return -1;
}

int Metrics::node_slot(std::string_view cluster, std::string_view node) const {
  for (std::size_t i = 0; i < layout_.nodes.size(); ++i) {
    if (layout_.nodes[i].cluster == cluster && layout_.nodes[i].name == node) return static_cast<int>(i);
  }
  return -1;
}

int Metrics::cluster_slot(std::string_view cluster) const {
  for (std::size_t i = 0; i < clusters_.size(); ++i) {
    if (clusters_[i] == cluster) return static_cast<int>(i);
  }
  return -1;
}

void Metrics::on_topology(std::string_view cluster, const health::Topology& topology) {
  const std::string c(cluster);
  epoch_->Add({{"cluster", c}}).Set(static_cast<double>(topology.epoch));
  for (const health::NodeState& n : topology.nodes) {
    for (health::NodeRole role : kAllRoles) {
      node_role_->Add({{"cluster", c}, {"node", n.name}, {"role", std::string(health::to_string(role))}})
          .Set(role == n.role ? 1 : 0);
    }
    for (health::NodeHealth h : kAllHealth) {
      node_health_->Add({{"cluster", c}, {"node", n.name}, {"state", std::string(health::to_string(h))}})
          .Set(h == n.health ? 1 : 0);
    }
    lag_bytes_->Add({{"cluster", c}, {"node", n.name}}).Set(static_cast<double>(n.lag_bytes));
    lag_seconds_->Add({{"cluster", c}, {"node", n.name}}).Set(n.lag_seconds);
  }
}

void Metrics::on_failover(std::string_view cluster, std::chrono::nanoseconds duration) {
  const std::string c(cluster);
  failovers_->Add({{"cluster", c}}).Increment();
  const prometheus::Histogram::BucketBoundaries bounds(kFailoverBuckets.begin(), kFailoverBuckets.end());
  failover_seconds_->Add({{"cluster", c}}, bounds).Observe(std::chrono::duration<double>(duration).count());
}

void Metrics::on_config_reload(ReloadResult result) {
  reloads_->Add({{"result", std::string(to_string(result))}}).Increment();
}

std::string Metrics::serialize() const {
  std::vector<prometheus::MetricFamily> families = collector_->Collect();
  for (auto& f : registry_->Collect()) families.push_back(std::move(f));
  // Families without series yet (no failover so far, say) still show their HELP and TYPE.
  for (std::size_t i = 0; i < kCatalog.size(); ++i) {
    const bool present = std::any_of(families.begin(), families.end(),
                                     [&](const auto& f) { return f.name == kCatalog[i].name; });
    if (!present) families.push_back(family(static_cast<Id>(i)));
  }
  auto index = [](const prometheus::MetricFamily& f) {
    const MetricDef* d = find_metric(f.name);
    return d ? static_cast<std::size_t>(d - kCatalog.data()) : kCatalog.size();
  };
  std::stable_sort(families.begin(), families.end(),
                   [&](const auto& a, const auto& b) { return index(a) < index(b); });
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace baton::proxy::metrics
