// The process: configuration, TLS contexts, workers, the control thread, signals.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "proxy/config/config.hpp"
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

  const Config& config() const { return *config_; }
  int worker_count() const { return static_cast<int>(workers_.size()); }
  Worker& worker(int i) { return *workers_[static_cast<std::size_t>(i)]; }

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

  std::shared_ptr<const Config> config_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex pools_mutex_;
  std::unordered_map<std::string, std::shared_ptr<PoolShared>> pools_;
  std::atomic<int> clients_{0};
  std::unordered_map<const ListenerConfig*, std::unique_ptr<asio::ssl::context>> client_tls_;
  std::unordered_map<const ClusterConfig*, std::unique_ptr<asio::ssl::context>> server_tls_;
};

}  // namespace baton::proxy
