// A worker thread: its own io_context, SO_REUSEPORT listeners, client sessions and server pools.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "health/topology.hpp"
#include "protocol/pg/scram.hpp"
#include "proxy/admin/view.hpp"
#include "proxy/config/config.hpp"
#include "proxy/metrics/metrics.hpp"
#include "proxy/net/asio.hpp"
#include "proxy/net/ring.hpp"
#include "proxy/pg/prepared.hpp"
#include "proxy/pg/server_conn.hpp"
#include "routing/balancer.hpp"
#include "routing/classification_cache.hpp"
#include "routing/classifier.hpp"

namespace baton::proxy {

class App;
namespace pg {
class Session;
}

class Worker {
 public:
  Worker(App& app, int index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Opens this worker's listening sockets (SO_REUSEPORT). Returns "" or the error.
  std::string listen();
  // How the worker's thread waits for sockets: Asio's epoll reactor alone, or an io_uring ring
  // around it for the relay's reads and writes (ring.hpp; epoll if the ring cannot be opened).
  enum class Io { kEpoll, kRing };
  void start(Io io);      // runs the io_context on a new thread
  void stop_accepting();  // posted: close the listeners
  // Shutting down (on this worker's thread): idle sessions end now, busy ones at their transaction's end.
  void begin_drain();
  // The shutdown grace is over (on this worker's thread): every session left is ended now.
  void terminate_sessions();
  bool draining() const { return draining_; }
  // A reloaded configuration is in effect (on this worker's thread): pool sizes, timeouts and server
  // logins of existing pools follow it; idle connections whose login changed are closed.
  void apply_config();
  // What the admin API shows of this worker (on its thread): its pools and its clients by listener.
  void add_to_view(std::vector<admin::PoolView>& pools, std::vector<admin::ListenerView>& listeners) const;
  metrics::WorkerMetrics& metrics() { return *metrics_; }  // (set by start(): App makes its metrics after the workers)
  // routing::classify() with cluster `index`'s options (built-in volatile functions plus the
  // cluster's volatile_functions). Texts that tend to come back (extended-protocol Parse, prepared
  // statements: `repeats`) are remembered per cluster, up to a bound; a simple Query's text carries
  // its literals and is classified afresh.
  routing::Classification classify(std::size_t cluster, std::string_view sql, bool repeats);
  void stop();            // stops the io_context and joins
  // Runs `fn` on this worker's thread, later (any thread may call it; the only way in from others).
  void post(std::function<void()> fn);

  int index() const { return index_; }
  App& app() { return app_; }
  asio::io_context& io() { return io_; }
  const Config& config() const;

  // The pool of server connections for (node, database, user), created on first use.
  pg::ServerPool& pg_pool(const ClusterConfig& cluster, const NodeConfig& node, const std::string& database,
                          const UserConfig& user);
  void on_pool_signal(const std::string& key);  // another worker freed a slot or has waiters
  pg::StatementRegistry& statements() { return statements_; }
  // Numbers for the parameter states of this worker's sessions and server connections (sync_sql()).
  pg::StateTable& param_states() { return param_states_; }
  // The SCRAM verifier a client of `user` must match, derived once per user (PBKDF2 is costly).
  // For an unknown user (null), a verifier no password matches, so the exchange fails the same way.
  const protocol::pg::scram::Verifier& scram_verifier(const UserConfig* user);

  // Cancel keys: this worker's sessions by the process id baton gave them.
  std::uint32_t register_session(pg::Session* s);
  void unregister_session(std::uint32_t pid);
  void cancel(std::uint32_t pid, std::uint32_t secret);  // on this worker's thread

  std::size_t session_count() const { return sessions_.size(); }

  // Hot waits: a session whose client just had a request answered waits for the next one with its
  // coroutine (a read), instead of parking and being resumed once per transaction. The maintenance
  // tick (1 s) ends every hot wait that has lasted a whole tick: that client is idle, its session
  // parks. O(1) each, no allocation once the list has grown.
  void hot_wait_begin(pg::Session* s);
  void hot_wait_end(pg::Session* s);

  // What the control plane last told this worker about cluster `index` (config order): its
  // topology (never null once started) and whether new transactions that need the primary wait.
  const health::TopologyPtr& topology(std::size_t cluster) const { return clusters_[cluster].topology; }
  // The topology reads are routed by: the published one, with standbys this worker saw fail taken
  // out of rotation for a while (until the monitor has had time to judge them).
  const health::Topology& routing_topology(std::size_t cluster);
  void exclude_standby(std::size_t cluster, std::size_t node);
  routing::Balancer& balancer(std::size_t cluster);
  // Requests in flight per node of a cluster (this worker's view, for the balancer).
  std::span<const std::uint32_t> outstanding(std::size_t cluster) const { return clusters_[cluster].outstanding; }
  void on_attach(std::size_t cluster, std::size_t node);
  // WAL positions by node as the probes last saw them (0 = unknown), for read-your-writes.
  void set_position(std::size_t cluster, std::size_t node, health::Lsn lsn);
  std::span<const health::Lsn> positions(std::size_t cluster) const { return clusters_[cluster].positions; }
  void on_detach(std::size_t cluster, std::size_t node);
  bool writes_paused(std::size_t cluster) const { return clusters_[cluster].paused; }
  // On this worker's thread (the control plane posts them). A new topology also breaks server
  // connections of sessions attached to a node that may no longer take their traffic.
  void set_topology(std::size_t cluster, health::TopologyPtr topology);
  void set_writes_paused(std::size_t cluster, bool paused);
  // Completes when any cluster's topology or pause state changes, or at `deadline`.
  awaitable<void> wait_cluster_change(std::chrono::steady_clock::time_point deadline);
  // Sessions of cluster `index` in the middle of a transaction or a query (for pausing writes).
  int busy_sessions(std::size_t cluster) const;

 private:
  struct Listener {
    const ListenerConfig* config;
    std::unique_ptr<tcp::acceptor> acceptor;
  };
  struct PoolEntry {
    std::unique_ptr<pg::ServerTarget> target;
    std::unique_ptr<pg::ServerPool> pool;
    std::size_t cluster = 0;
    std::size_t node = 0;
  };
  struct ClusterState {
    health::TopologyPtr topology;
    bool paused = false;
    std::vector<std::uint32_t> outstanding;                      // per node
    std::vector<health::Lsn> positions;                          // per node, from probes
    std::vector<std::chrono::steady_clock::time_point> excluded;  // per node: out of rotation until
    std::shared_ptr<health::Topology> routing;                   // topology with excluded standbys down
    std::unique_ptr<routing::Balancer> balancer;
  };

  awaitable<void> accept_loop(Listener& l);
  awaitable<void> maintain_loop();
  awaitable<void> inbox_loop();
  void publish_server_counts();
  PoolSettings pool_settings(const UserConfig* user) const;

  App& app_;
  metrics::WorkerMetrics* metrics_ = nullptr;
  int index_;
  // One thread runs it, and nothing else touches it: other threads hand this worker functions
  // through post()'s inbox, never through the io_context. So it takes no locks at all (scheduler,
  // timers, reactor): per transaction, each of the two handlers it runs took and released its mutex
  // twice. Asio's resolver needs a locking io_context: server connections resolve host names on a
  // thread of their own (connect_tcp in pg/server_conn.cpp).
  // (Declared before io_: sessions and server connections still let go of their channels when
  // io_ and pools_ are destroyed.)
  std::unique_ptr<Ring> ring_;
  asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE};
  // post(): functions queued by other threads, and an eventfd the worker's reactor waits on,
  // written when the queue was empty.
  std::mutex inbox_mutex_;
  std::vector<std::function<void()>> inbox_;
  int inbox_fd_ = -1;
  std::unique_ptr<asio::posix::stream_descriptor> inbox_wait_;  // (a dup of inbox_fd_)
  std::thread thread_;
  std::vector<Listener> listeners_;
  std::unordered_map<std::string, PoolEntry> pools_;
  std::unordered_map<std::uint32_t, pg::Session*> sessions_;
  std::vector<pg::Session*> hot_;  // sessions in a hot wait (each knows its index)
  std::uint64_t hot_round_ = 1;    // maintenance ticks so far: a hot wait begun in an earlier one ends
  std::uint32_t next_session_ = 1;
  pg::StatementRegistry statements_;
  pg::StateTable param_states_;
  std::unordered_map<const UserConfig*, protocol::pg::scram::Verifier> verifiers_;
  std::unique_ptr<asio::steady_timer> maintain_timer_;
  std::vector<ClusterState> clusters_;
  std::vector<asio::steady_timer*> cluster_waiters_;
  bool draining_ = false;
  const routing::ClassifierOptions& classifier(std::size_t cluster);  // built on first use
  std::vector<routing::ClassifierOptions> classifiers_;  // per cluster, built on first use and at reload
  std::vector<routing::ClassificationCache> classified_;  // per cluster, alongside classifiers_
  // Server connections by node slot and state as last told to metrics (active, idle, opening).
  std::vector<std::array<int, 3>> server_counts_;
};

}  // namespace baton::proxy
