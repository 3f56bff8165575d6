// Prometheus metrics: the catalog, cheap per-worker counters, control-plane gauges, and the text at scrape time.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/metric_type.h>

#include "health/topology.hpp"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace baton::proxy {
struct Config;
}

namespace baton::proxy::metrics {

// One metric family as it appears on /metrics: declared once, in metrics.cpp's catalog.
struct MetricDef {
  std::string_view name;
  std::string_view help;
  prometheus::MetricType type;
  std::array<std::string_view, 3> labels;  // unused slots are empty

  std::size_t label_count() const;
};

// Every family baton exports, in output order.
std::span<const MetricDef> catalog();
const MetricDef* find_metric(std::string_view name);

enum class ClientState { kActive, kWaiting, kIdle };        // has a server / waits for one / between transactions
enum class ServerState { kActive, kIdle, kOpening };        // leased / in the pool / connecting or logging in
enum class ErrorKind {
  kAuthFailed,
  kTooManyClients,
  kQueryWaitTimeout,
  kServerUnreachable,
  kProtocolViolation,
  kServerLost,
  kClientLoginTimeout,
};
enum class ReloadResult { kOk, kFailed };
enum class RoutedKind { kRead, kWrite };         // a transaction routed by the read rules / to the primary as a write
enum class SkipReason { kLag, kNotCaughtUp };    // why a standby was left out of a read's choice
inline constexpr std::size_t kClientStates = 3;
inline constexpr std::size_t kServerStates = 3;
inline constexpr std::size_t kErrorKinds = 7;
inline constexpr std::size_t kRoutedKinds = 2;
inline constexpr std::size_t kSkipReasons = 2;

std::string_view to_string(ClientState s);
std::string_view to_string(ServerState s);
std::string_view to_string(ErrorKind k);
std::string_view to_string(ReloadResult r);
std::string_view to_string(RoutedKind k);   // "read", "write"
std::string_view to_string(SkipReason r);   // "lag", "not_caught_up"

// Upper bounds (seconds) of the fixed buckets of worker histograms; +Inf is implied.
std::span<const double> latency_buckets();     // queries, transactions
std::span<const double> pool_wait_buckets();   // waits for a server connection
std::span<const double> failover_buckets();    // failover durations

// The label slots worker counters are laid out for, fixed when Metrics is built. A listener's
// latency series exist for the nodes of its own cluster.
struct MetricsLayout {
  struct Listener {
    std::string name;
    std::string cluster;
  };
  struct Node {
    std::string cluster;
    std::string name;
  };
  std::vector<Listener> listeners;
  std::vector<Node> nodes;

  // The distinct cluster names of nodes, then of listeners, in first-seen order (cluster slots).
  std::vector<std::string> clusters() const;
};
MetricsLayout make_layout(const Config& config);

// A histogram with fixed buckets: one relaxed increment per observation, summed at scrape time.
class HistogramCells {
 public:
  static constexpr std::size_t kMaxBuckets = 16;

  void observe(std::span<const std::uint64_t> bounds_ns, std::chrono::nanoseconds d);
  // Per-bucket (not cumulative) counts; the last one counts values above every bound.
  std::uint64_t bucket(std::size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  std::uint64_t sum_ns() const { return sum_ns_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<std::uint64_t>, kMaxBuckets + 1> counts_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

// One worker's counters. Only that worker writes them (relaxed atomics: any thread may read).
// Slot indices come from Metrics::listener_slot / node_slot; an index out of range is ignored.
class alignas(64) WorkerMetrics {
 public:
  WorkerMetrics(const MetricsLayout& layout, std::span<const std::uint64_t> latency_ns,
                std::span<const std::uint64_t> pool_wait_ns);
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  void client_opened(int listener, ClientState s) { add_client(listener, s, 1); }
  void client_changed(int listener, ClientState from, ClientState to);
  void client_closed(int listener, ClientState s) { add_client(listener, s, -1); }

  void server_opened(int node, ServerState s) { add_server(node, s, 1); }
  void server_changed(int node, ServerState from, ServerState to);
  void server_closed(int node, ServerState s) { add_server(node, s, -1); }

  void on_pool_wait(int node, std::chrono::nanoseconds waited);
  void on_query(int listener, int node, std::chrono::nanoseconds latency);
  void on_transaction(int listener, int node, std::chrono::nanoseconds latency);
  void on_client_bytes_received(int listener, std::size_t n);
  void on_client_bytes_sent(int listener, std::size_t n);
  void session_pinned(int listener);
  void session_unpinned(int listener);
  void on_reprepare(int listener);
  void on_error(ErrorKind kind);
  // Routing: a transaction sent to `node`; a read sent to the primary because no standby was
  // eligible (cluster slot from Metrics::cluster_slot); a standby left out of a read's choice.
  void on_routed(int node, RoutedKind kind);
  void on_read_fallback(int cluster);
  void on_standby_skipped(int node, SkipReason reason);

 private:
  friend class WorkerCollector;
  struct ListenerCells {
    std::array<std::atomic<std::int64_t>, kClientStates> clients{};
    std::atomic<std::uint64_t> queries{0};
    std::atomic<std::uint64_t> transactions{0};
    std::atomic<std::uint64_t> bytes_received{0};
    std::atomic<std::uint64_t> bytes_sent{0};
    std::atomic<std::int64_t> pinned{0};
    std::atomic<std::uint64_t> reprepared{0};
  };
  struct NodeCells {
    std::array<std::atomic<std::int64_t>, kServerStates> servers{};
    HistogramCells pool_wait;
    std::array<std::atomic<std::uint64_t>, kRoutedKinds> routed{};
    std::array<std::atomic<std::uint64_t>, kSkipReasons> skipped{};
  };
  struct PairCells {  // one (listener, node)
    HistogramCells query;
    HistogramCells transaction;
  };

  void add_client(int listener, ClientState s, std::int64_t delta);
  void add_server(int node, ServerState s, std::int64_t delta);
  bool listener_ok(int l) const { return l >= 0 && static_cast<std::size_t>(l) < listener_count_; }
  bool node_ok(int n) const { return n >= 0 && static_cast<std::size_t>(n) < node_count_; }
  bool cluster_ok(int c) const { return c >= 0 && static_cast<std::size_t>(c) < cluster_count_; }
  PairCells& pair(int l, int n) { return pairs_[static_cast<std::size_t>(l) * node_count_ + static_cast<std::size_t>(n)]; }

  std::size_t listener_count_;
  std::size_t node_count_;
  std::size_t cluster_count_;
  std::span<const std::uint64_t> latency_ns_;
  std::span<const std::uint64_t> pool_wait_ns_;
  std::unique_ptr<ListenerCells[]> listeners_;
  std::unique_ptr<NodeCells[]> nodes_;
  std::unique_ptr<PairCells[]> pairs_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> read_fallbacks_;  // by cluster slot
  std::array<std::atomic<std::uint64_t>, kErrorKinds> errors_{};
};

class WorkerCollector;

// All of baton's metrics. Workers write through for_worker(i); the control plane calls the
// on_/set_ functions (thread-safe); serialize() may run on any thread.
class Metrics {
 public:
  Metrics(MetricsLayout layout, int workers);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  WorkerMetrics& for_worker(int index) { return *workers_[static_cast<std::size_t>(index)]; }
  int worker_count() const { return static_cast<int>(workers_.size()); }
  const MetricsLayout& layout() const { return layout_; }

  // Slot of a listener / node in the layout, -1 when unknown.
  int listener_slot(std::string_view listener) const;
  int node_slot(std::string_view cluster, std::string_view node) const;
  int cluster_slot(std::string_view cluster) const;

  // Control plane: the latest topology of `cluster` (role, health, lag per node; epoch).
  void on_topology(std::string_view cluster, const health::Topology& topology);
  void on_failover(std::string_view cluster, std::chrono::nanoseconds duration);
  void on_config_reload(ReloadResult result);

  // The Prometheus text exposition format (version 0.0.4) of every family in the catalog.
  std::string serialize() const;
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  MetricsLayout layout_;
  std::vector<std::string> clusters_;
  std::vector<std::uint64_t> latency_ns_;
  std::vector<std::uint64_t> pool_wait_ns_;
  std::vector<std::unique_ptr<WorkerMetrics>> workers_;
  std::unique_ptr<WorkerCollector> collector_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* node_role_;
  prometheus::Family<prometheus::Gauge>* node_health_;
  prometheus::Family<prometheus::Gauge>* lag_bytes_;
  prometheus::Family<prometheus::Gauge>* lag_seconds_;
  prometheus::Family<prometheus::Gauge>* epoch_;
  prometheus::Family<prometheus::Counter>* failovers_;
  prometheus::Family<prometheus::Histogram>* failover_seconds_;
  prometheus::Family<prometheus::Counter>* reloads_;
};

}  // namespace baton::proxy::metrics
