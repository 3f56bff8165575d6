// The process: configuration, TLS contexts, workers, the control thread, signals.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "health/topology.hpp"
#include "proxy/config/config.hpp"
#include "proxy/metrics/metrics.hpp"
#include "proxy/net/asio.hpp"
#include "proxy/pool/pool.hpp"

namespace baton::proxy {

class Worker;

class App {
 public:
  explicit App(Config config);
  ~App();

  // Opens listeners, starts workers and blocks in the control loop until SIGTERM/SIGINT.
  int run();

  // The configuration in effect. A reload installs a new one; earlier ones stay alive (sessions
  // and listeners keep pointers into the one they started with), so a reference stays valid.
  const Config& config() const { return *current_.load(std::memory_order_acquire); }
  void install_config(Config config);  // control thread; then tell the workers (Worker::apply_config)
  int worker_count() const { return static_cast<int>(workers_.size()); }
  Worker& worker(int i) { return *workers_[static_cast<std::size_t>(i)]; }

  metrics::Metrics& metrics() { return *metrics_; }

  // The control plane's copy of each cluster's topology (config order); workers get theirs by post.
  health::TopologyPtr topology(std::size_t cluster) const;
  // Control thread: a new snapshot for every worker (and for metrics and the admin API).
  void publish_topology(std::size_t cluster, health::TopologyPtr topology);
  // Control thread: hold (or let go) new transactions that need cluster's primary, on every worker.
  void set_writes_paused(std::size_t cluster, bool paused);
  // Control thread: a node's WAL position from a probe (replayed on a standby, current on the
  // primary), for read-your-writes routing on every worker.
  void publish_position(std::size_t cluster, std::size_t node, std::uint64_t lsn);
  bool writes_paused(std::size_t cluster) const;
  // Why cluster's nodes cannot be used, as the monitor last saw it ("" when nothing is wrong); for
  // the error a client gets when no primary can be had.
  void set_trouble(std::size_t cluster, std::string text);
  std::string trouble(std::size_t cluster) const;
  // Any thread: a session lost its server connection to cluster's node, or could not open one.
  // The cluster's monitor probes the node at once instead of at its next interval (a killed
  // primary is seen within milliseconds, not up to probe_interval later). Passed on at most once
  // per 100 ms per node. What it runs on the control thread is set_node_trouble_hook()'s.
  void report_node_trouble(std::size_t cluster, std::size_t node);
  // Control thread: the function report_node_trouble() posts there (empty: none, as at shutdown).
  void set_node_trouble_hook(asio::any_io_executor control, std::function<void(std::size_t, std::size_t)> hook);

  // Counters of one pool key across workers.
  std::shared_ptr<PoolShared> pool_shared(const std::string& key, int max_size);
  // Tells every worker but `from` that pool `key` changed (a slot freed, or clients wait).
  void signal_pool(int from, const std::string& key);

  // Client connections across workers, for max_client_conn.
  bool try_admit_client();
  void release_client();
  int client_count() const { return clients_.load(std::memory_order_relaxed); }

  // TLS contexts: per listener for clients (null when disabled), per cluster for servers.
  asio::ssl::context* client_tls(const ListenerConfig& l);
  asio::ssl::context* server_tls(const ClusterConfig& c);

 private:
  std::string build_tls();

  std::vector<std::unique_ptr<const Config>> configs_;  // every configuration run with, latest last
  std::atomic<const Config*> current_{nullptr};
  std::unique_ptr<metrics::Metrics> metrics_;
  mutable std::mutex topology_mutex_;
  std::vector<health::TopologyPtr> topologies_;
  std::vector<bool> paused_;
  std::vector<std::string> trouble_;
  // report_node_trouble(): the last report per (cluster, node) in steady-clock nanoseconds, sized
  // by the first configuration (nodes a reload adds are reported without the limit).
  std::vector<std::vector<std::atomic<std::int64_t>>> trouble_reported_;
  std::mutex trouble_hook_mutex_;
  asio::any_io_executor trouble_executor_;
  std::function<void(std::size_t, std::size_t)> trouble_hook_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex pools_mutex_;
  std::unordered_map<std::string, std::shared_ptr<PoolShared>> pools_;
  std::atomic<int> clients_{0};
  std::unordered_map<const ListenerConfig*, std::unique_ptr<asio::ssl::context>> client_tls_;
  std::unordered_map<const ClusterConfig*, std::unique_ptr<asio::ssl::context>> server_tls_;
};

}  // namespace baton::proxy
