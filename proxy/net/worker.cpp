// A worker thread: accepting clients on SO_REUSEPORT listeners, spawning sessions, keeping its pools.
#include "proxy/net/worker.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <boost/asio/socket_base.hpp>

#include <cerrno>
#include <system_error>

#include "protocol/common/crypto.hpp"
#include "proxy/app.hpp"
#include "proxy/log/log.hpp"
#include "proxy/net/syscalls.hpp"
#include "proxy/pg/session.hpp"
#include "proxy/pool/pool_policy.hpp"

namespace baton::proxy {

namespace {
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// Statement texts whose classification a worker keeps per cluster, and the longest one it keeps:
// at most 512 x 2 KiB of text, and an application's repeated statements fit many times over.
constexpr std::size_t kClassifiedTexts = 512;
constexpr std::size_t kClassifiedTextMax = 2048;

std::size_t cluster_index(const Config& cfg, const std::string& name) {
  for (std::size_t i = 0; i < cfg.clusters.size(); ++i) {
    if (cfg.clusters[i].name == name) return i;
  }
  return 0;
}

std::size_t node_index(const ClusterConfig& cluster, const std::string& name) {
  for (std::size_t i = 0; i < cluster.nodes.size(); ++i) {
    if (cluster.nodes[i].name == name) return i;
  }
  return 0;
}
}

Worker::Worker(App& app, int index) : app_(app), index_(index), clusters_(app.config().clusters.size()) {
  for (std::size_t i = 0; i < clusters_.size(); ++i) clusters_[i].topology = app.topology(i);
  inbox_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (inbox_fd_ < 0) throw std::system_error(errno, std::system_category(), "worker: eventfd");
}

Worker::~Worker() {
  stop();
  inbox_wait_.reset();
  ::close(inbox_fd_);
}

const Config& Worker::config() const { return app_.config(); }

std::string Worker::listen() {
  for (const ListenerConfig& l : config().listeners) {
    if (l.protocol != Protocol::kPostgres) continue;
    error_code ec;
    auto address = asio::ip::make_address(l.host, ec);
    if (ec) return "listeners \"" + l.name + "\": bad address " + l.host;
    tcp::endpoint ep(address, l.port);
    auto acceptor = std::make_unique<tcp::acceptor>(io_);
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor->set_option(reuse_port(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return "listeners \"" + l.name + "\": cannot listen on " + l.host + ":" + std::to_string(l.port) + ": " + ec.message();
    listeners_.push_back(Listener{&l, std::move(acceptor)});
  }
  return {};
}

void Worker::start(Io io) {
  metrics_ = &app_.metrics().for_worker(index_);
  for (Listener& l : listeners_) asio::co_spawn(io_, accept_loop(l), asio::detached);
  maintain_timer_ = std::make_unique<asio::steady_timer>(io_);
  asio::co_spawn(io_, maintain_loop(), asio::detached);
  const int wait_fd = ::dup(inbox_fd_);
  if (wait_fd < 0) throw std::system_error(errno, std::system_category(), "worker: dup");
  inbox_wait_ = std::make_unique<asio::posix::stream_descriptor>(io_, wait_fd);
  asio::co_spawn(io_, inbox_loop(), asio::detached);
  thread_ = std::thread([this, io] {
    auto guard = asio::make_work_guard(io_);
    if (io == Io::kRing) {
      std::string why;
      ring_ = Ring::open(why);  // (on this thread: the ring takes submissions from it alone)
      if (!ring_) log::warn("worker", "no io_uring ring (", why, "): worker ", std::to_string(index_), " uses epoll");
    }
    if (ring_) ring_->run(io_);
    else io_.run();
  });
}

void Worker::post(std::function<void()> fn) {
  bool wake = false;
  {
    std::lock_guard lock(inbox_mutex_);
    wake = inbox_.empty();
    inbox_.push_back(std::move(fn));
  }
  // Only the first function of a batch writes: the worker reads the eventfd before it takes the
  // queue (inbox_loop), so a function queued after that read finds the queue empty and writes.
  if (wake) sys::signal_eventfd(inbox_fd_);
}

awaitable<void> Worker::inbox_loop() {
  std::vector<std::function<void()>> batch;
  for (;;) {
    auto [ec] = co_await inbox_wait_->async_wait(asio::posix::descriptor_base::wait_read, use_tuple);
    if (ec) co_return;  // the worker is going away
    std::uint64_t count = 0;
    while (::read(inbox_fd_, &count, sizeof count) < 0 && errno == EINTR) {
    }
    {
      std::lock_guard lock(inbox_mutex_);
      batch.swap(inbox_);
    }
    for (std::function<void()>& fn : batch) fn();
    batch.clear();
  }
}

void Worker::stop_accepting() {
  post([this] {
    for (Listener& l : listeners_) {
      error_code ignored;
      l.acceptor->close(ignored);
    }
  });
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  post([this] { io_.stop(); });  // (the io_context is not to be touched from this thread)
  thread_.join();
}

awaitable<void> Worker::accept_loop(Listener& l) {
  for (;;) {
    auto [ec, socket] = co_await l.acceptor->async_accept(use_tuple);
    if (ec == asio::error::operation_aborted || !l.acceptor->is_open()) co_return;
    if (ec) {
      log::warn("worker", "accept failed: ", ec.message());
      // Out of file descriptors and the like: back off briefly instead of spinning.
      asio::steady_timer t(io_, std::chrono::milliseconds(50));
      co_await t.async_wait(use_tuple);
      continue;
    }
    (new pg::Session(*this, *l.config, std::move(socket)))->launch();  // deletes itself at its end
  }
}

void Worker::hot_wait_begin(pg::Session* s) {
  s->set_hot(hot_.size(), hot_round_, true);
  hot_.push_back(s);
}

void Worker::hot_wait_end(pg::Session* s) {
  if (!s->in_hot_wait()) return;
  const std::size_t i = s->hot_index();
  s->set_hot(0, 0, false);
  if (i + 1 < hot_.size()) {  // the last one takes its place
    hot_[i] = hot_.back();
    hot_[i]->set_hot(i, hot_[i]->hot_round(), true);
  }
  hot_.pop_back();
}

awaitable<void> Worker::maintain_loop() {
  for (;;) {
    maintain_timer_->expires_after(std::chrono::seconds(1));
    auto [ec] = co_await maintain_timer_->async_wait(use_tuple);
    if (ec) co_return;
    auto now = SteadyClock::now();
    publish_server_counts();
    // Hot waits begun before this tick: those clients sent nothing for a second. Ending a wait only
    // cancels its read (the completion runs later), so the list does not change in this loop.
    for (pg::Session* s : hot_) {
      if (s->hot_round() < hot_round_) s->end_hot_wait();
    }
    ++hot_round_;
    for (auto& [key, entry] : pools_) {
      entry.pool->maintain(now);
      if (log::enabled(log::Level::kDebug)) {
        auto& p = *entry.pool;
        log::debug("pool", "worker ", std::to_string(index_), " pool ", entry.target->node_name, "/",
                   entry.target->database, "/", entry.target->user, ": idle=", std::to_string(p.idle_count()),
                   " active=", std::to_string(p.active_count()), " waiting=", std::to_string(p.waiting_count()),
                   " logins=", std::to_string(p.logins_in_progress()),
                   " total(all workers)=", std::to_string(p.shared().total.load()));
      }
    }
  }
}

pg::ServerPool& Worker::pg_pool(const ClusterConfig& cluster, const NodeConfig& node, const std::string& database,
                                const UserConfig& user) {
  std::string key = cluster.name;
  key.append(1, '\0').append(node.name).append(1, '\0').append(database).append(1, '\0').append(user.name);
  auto it = pools_.find(key);
  if (it != pools_.end()) return *it->second.pool;

  const Config& cfg = config();
  auto target = std::make_unique<pg::ServerTarget>();
  target->node_name = node.name;
  target->cluster_index = cluster_index(cfg, cluster.name);
  target->node_index = node_index(cluster, node.name);
  target->host = node.host;
  target->port = node.port;
  target->user = user.server_user.empty() ? user.name : user.server_user;
  target->password = user.server_password.empty() ? user.password : user.server_password;
  target->database = database;
  target->tls_mode = cluster.server_tls_mode;
  target->tls_context = app_.server_tls(cluster);
  target->connect_timeout = cfg.pool.server_connect_timeout;
  target->max_message_size = cfg.general.max_message_size;
  target->max_prepared_statements = static_cast<std::size_t>(cfg.pool.max_prepared_statements);

  target->metrics_node = app_.metrics().node_slot(cluster.name, node.name);
  target->user_name = user.name;
  int pool_size = user.pool_size.value_or(cfg.pool.pool_size);
  PoolSettings settings = pool_settings(&user);
  pg::ServerTarget* t = target.get();
  auto executor = io_.get_executor();
  auto pool = std::make_unique<pg::ServerPool>(
      executor, app_.pool_shared(key, pool_size), settings,
      [executor, t]() { return pg::connect_server(executor, *t); },
      [this, key]() { app_.signal_pool(index_, key); });
  auto& entry = pools_[key];
  entry.target = std::move(target);
  entry.pool = std::move(pool);
  entry.cluster = t->cluster_index;
  entry.node = t->node_index;
  return *entry.pool;
}

const protocol::pg::scram::Verifier& Worker::scram_verifier(const UserConfig* user) {
  auto it = verifiers_.find(user);
  if (it != verifiers_.end()) return it->second;
  namespace scram = protocol::pg::scram;
  std::optional<scram::Verifier> v;
  if (user != nullptr && !user->scram_verifier.empty()) v = scram::parse_verifier(user->scram_verifier);
  if (!v) {
    std::vector<std::uint8_t> salt(16);
    protocol::crypto::random_bytes(salt);
    std::string secret = user != nullptr ? user->password : scram::make_nonce();
    v = scram::make_verifier(secret, salt, scram::kDefaultIterations);
  }
  return verifiers_.emplace(user, std::move(*v)).first->second;
}

PoolSettings Worker::pool_settings(const UserConfig* user) const {
  const Config& cfg = config();
  const int workers = app_.worker_count();
  (void)user;
  const int pool_size = user != nullptr && user->pool_size ? *user->pool_size : cfg.pool.pool_size;
  return PoolSettings{
      .min_size = worker_share(cfg.pool.min_pool_size, workers, index_),
      .fair_share = worker_share(pool_size, workers, index_),
      .max_logins = std::max(1, worker_share(cfg.pool.max_concurrent_logins, workers, index_)),
      .idle_timeout = cfg.pool.server_idle_timeout,
      .lifetime = cfg.pool.server_lifetime,
  };
}

void Worker::begin_drain() {
  draining_ = true;
  for (Listener& l : listeners_) {
    error_code ignored;
    l.acceptor->close(ignored);
  }
  for (auto& [pid, session] : sessions_) session->drain();
}

void Worker::terminate_sessions() {
  for (auto& [pid, session] : sessions_) session->terminate();
}

void Worker::apply_config() {
  const Config& cfg = config();
  for (auto& [key, entry] : pools_) {
    pg::ServerTarget& t = *entry.target;
    const UserConfig* user = cfg.find_user(t.user_name);
    if (user == nullptr) {
      entry.pool->close_idle();  // a removed user: its pool empties as its clients leave
      continue;
    }
    std::string server_user = user->server_user.empty() ? user->name : user->server_user;
    std::string password = user->server_password.empty() ? user->password : user->server_password;
    if (server_user != t.user || password != t.password) {
      t.user = std::move(server_user);
      t.password = std::move(password);
      entry.pool->close_idle();
    }
    t.connect_timeout = cfg.pool.server_connect_timeout;
    t.max_prepared_statements = static_cast<std::size_t>(cfg.pool.max_prepared_statements);
    entry.pool->shared().max_size.store(user->pool_size.value_or(cfg.pool.pool_size), std::memory_order_relaxed);
    entry.pool->update_settings(pool_settings(user));
  }
  verifiers_.clear();    // passwords may have changed
  classifiers_.clear();  // volatile_functions may have changed
  classified_.clear();
}

const routing::ClassifierOptions& Worker::classifier(std::size_t cluster) {
  const Config& cfg = config();
  if (classifiers_.size() != cfg.clusters.size()) {
    classifiers_.clear();
    classified_.clear();
    for (const ClusterConfig& c : cfg.clusters) {
      routing::ClassifierOptions o;
      o.dialect = protocol::sql::Dialect::kPostgres;
      o.volatile_functions = routing::default_volatile_functions(o.dialect);
      o.volatile_functions.insert(o.volatile_functions.end(), c.volatile_functions.begin(), c.volatile_functions.end());
      classifiers_.push_back(std::move(o));
      classified_.emplace_back(kClassifiedTexts, kClassifiedTextMax);
    }
  }
  return classifiers_[std::min(cluster, classifiers_.size() - 1)];
}

routing::Classification Worker::classify(std::size_t cluster, std::string_view sql, bool repeats) {
  const routing::ClassifierOptions& options = classifier(cluster);
  if (!repeats) return routing::classify(sql, options);
  return classified_[std::min(cluster, classified_.size() - 1)].classify(sql, options);
}

void Worker::add_to_view(std::vector<admin::PoolView>& pools, std::vector<admin::ListenerView>& listeners) const {
  const Config& cfg = config();
  for (const auto& [key, entry] : pools_) {
    const pg::ServerTarget& t = *entry.target;
    const ClusterConfig& cluster = cfg.clusters[entry.cluster];
    admin::PoolView* v = nullptr;
    for (admin::PoolView& p : pools) {
      if (p.cluster == cluster.name && p.node == t.node_name && p.database == t.database && p.user == t.user_name) v = &p;
    }
    if (v == nullptr) {
      const UserConfig* user = cfg.find_user(t.user_name);
      pools.push_back(admin::PoolView{.cluster = cluster.name, .node = t.node_name, .database = t.database,
                                      .user = t.user_name,
                                      .mode = std::string(to_string(user && user->pool_mode ? *user->pool_mode : cfg.pool.mode)),
                                      .size = entry.pool->shared().max_size.load(std::memory_order_relaxed)});
      v = &pools.back();
    }
    v->active += entry.pool->active_count();
    v->idle += static_cast<int>(entry.pool->idle_count());
    v->opening += entry.pool->logins_in_progress();
    v->waiting += static_cast<int>(entry.pool->waiting_count());
  }
  for (const auto& [pid, session] : sessions_) {
    const std::string& name = session->listener_name();
    for (admin::ListenerView& l : listeners) {
      if (l.name != name) continue;
      switch (session->client_state()) {
        case metrics::ClientState::kActive: ++l.active; break;
        case metrics::ClientState::kWaiting: ++l.waiting; break;
        case metrics::ClientState::kIdle: ++l.idle; break;
      }
      if (session->in_hot_wait()) ++l.idle_hot;
    }
  }
}

void Worker::publish_server_counts() {
  metrics::WorkerMetrics& m = metrics();
  std::vector<std::array<int, 3>> now(server_counts_.size());
  for (const auto& [key, entry] : pools_) {
    int slot = entry.target->metrics_node;
    if (slot < 0) continue;
    if (static_cast<std::size_t>(slot) >= now.size()) {
      now.resize(static_cast<std::size_t>(slot) + 1, {0, 0, 0});
      server_counts_.resize(now.size(), {0, 0, 0});
    }
    auto& c = now[static_cast<std::size_t>(slot)];
    c[0] += entry.pool->active_count();
    c[1] += static_cast<int>(entry.pool->idle_count());
    c[2] += entry.pool->logins_in_progress();
  }
  constexpr metrics::ServerState kStates[3] = {metrics::ServerState::kActive, metrics::ServerState::kIdle,
                                               metrics::ServerState::kOpening};
  for (std::size_t slot = 0; slot < now.size(); ++slot) {
    for (int k = 0; k < 3; ++k) {
      int delta = now[slot][k] - server_counts_[slot][k];
      for (; delta > 0; --delta) m.server_opened(static_cast<int>(slot), kStates[k]);
      for (; delta < 0; ++delta) m.server_closed(static_cast<int>(slot), kStates[k]);
    }
  }
  server_counts_ = std::move(now);
}

const health::Topology& Worker::routing_topology(std::size_t cluster) {
  ClusterState& c = clusters_[cluster];
  if (!c.routing) return *c.topology;
  const auto now = SteadyClock::now();
  bool any = false;
  for (std::size_t n = 0; n < c.excluded.size() && n < c.routing->nodes.size(); ++n) {
    if (c.excluded[n] > now) {
      any = true;
    } else if (c.excluded[n] != SteadyClock::time_point{}) {
      c.excluded[n] = {};
      c.routing->nodes[n].health = c.topology->nodes[n].health;
    }
  }
  if (!any) c.routing.reset();
  return c.routing ? *c.routing : *c.topology;
}

void Worker::exclude_standby(std::size_t cluster, std::size_t node) {
  ClusterState& c = clusters_[cluster];
  if (node >= c.topology->nodes.size()) return;
  const auto& f = config().clusters[cluster].failover;
  // Long enough for the monitor to confirm it down (then the topology says so) or to see it well.
  auto hold = std::max<std::chrono::milliseconds>(f.probe_interval * 3, std::chrono::seconds(3));
  if (c.excluded.size() < c.topology->nodes.size()) c.excluded.resize(c.topology->nodes.size());
  c.excluded[node] = SteadyClock::now() + hold;
  if (!c.routing) c.routing = std::make_shared<health::Topology>(*c.topology);
  c.routing->nodes[node].health = health::NodeHealth::kDown;
  log::warn("routing", "standby \"", c.topology->nodes[node].name, "\" failed; out of rotation for ",
            std::to_string(hold.count()), " ms");
}

routing::Balancer& Worker::balancer(std::size_t cluster) {
  ClusterState& c = clusters_[cluster];
  routing::Strategy strategy = routing::Strategy::kPowerOfTwo;
  switch (config().clusters[cluster].balancer) {
    case BalancerKind::kP2c: strategy = routing::Strategy::kPowerOfTwo; break;
    case BalancerKind::kRoundRobin: strategy = routing::Strategy::kRoundRobin; break;
    case BalancerKind::kWeighted: strategy = routing::Strategy::kWeighted; break;
  }
  if (!c.balancer) {
    std::uint64_t seed = static_cast<std::uint64_t>(SteadyClock::now().time_since_epoch().count()) ^
                         (static_cast<std::uint64_t>(index_) << 32);
    c.balancer = std::make_unique<routing::Balancer>(strategy, seed);
  } else if (c.balancer->strategy() != strategy) {
    c.balancer->set_strategy(strategy);  // changed by a reload
  }
  return *c.balancer;
}

void Worker::on_attach(std::size_t cluster, std::size_t node) {
  auto& o = clusters_[cluster].outstanding;
  if (o.size() <= node) o.resize(node + 1, 0);
  ++o[node];
}

void Worker::set_position(std::size_t cluster, std::size_t node, health::Lsn lsn) {
  if (cluster >= clusters_.size()) return;
  auto& p = clusters_[cluster].positions;
  if (p.size() <= node) p.resize(node + 1, 0);
  p[node] = lsn;
}

void Worker::on_detach(std::size_t cluster, std::size_t node) {
  auto& o = clusters_[cluster].outstanding;
  if (node < o.size() && o[node] > 0) --o[node];
}

void Worker::set_topology(std::size_t cluster, health::TopologyPtr topology) {
  if (cluster >= clusters_.size() || !topology) return;
  clusters_[cluster].topology = std::move(topology);
  if (clusters_[cluster].routing) {
    // Keep this worker's exclusions on top of the new snapshot.
    auto& c = clusters_[cluster];
    c.routing = std::make_shared<health::Topology>(*c.topology);
    const auto now = SteadyClock::now();
    for (std::size_t n = 0; n < c.excluded.size() && n < c.routing->nodes.size(); ++n) {
      if (c.excluded[n] > now) c.routing->nodes[n].health = health::NodeHealth::kDown;
    }
  }
  const health::Topology& t = *clusters_[cluster].topology;
  // Idle connections to a node that must get no traffic are closed now, not found broken later.
  for (auto& [key, entry] : pools_) {
    if (entry.cluster != cluster || entry.node >= t.nodes.size()) continue;
    const health::NodeState& n = t.nodes[entry.node];
    if (n.health == health::NodeHealth::kDown || n.health == health::NodeHealth::kFenced) entry.pool->close_idle();
  }
  for (auto& [pid, session] : sessions_) session->on_topology(cluster, t);
  for (asio::steady_timer* w : cluster_waiters_) w->cancel();
}

void Worker::set_writes_paused(std::size_t cluster, bool paused) {
  if (cluster >= clusters_.size()) return;
  clusters_[cluster].paused = paused;
  for (asio::steady_timer* w : cluster_waiters_) w->cancel();
}

awaitable<void> Worker::wait_cluster_change(std::chrono::steady_clock::time_point deadline) {
  asio::steady_timer timer(io_, deadline);
  cluster_waiters_.push_back(&timer);
  co_await timer.async_wait(use_tuple);
  std::erase(cluster_waiters_, &timer);
}

int Worker::busy_sessions(std::size_t cluster) const {
  int n = 0;
  for (const auto& [pid, session] : sessions_) {
    if (session->busy_in(cluster)) ++n;
  }
  return n;
}

void Worker::on_pool_signal(const std::string& key) {
  auto it = pools_.find(key);
  if (it != pools_.end()) it->second.pool->on_signal();
}

std::uint32_t Worker::register_session(pg::Session* s) {
  // The top byte names the worker, so a CancelRequest arriving anywhere finds its session.
  for (;;) {
    std::uint32_t pid = (static_cast<std::uint32_t>(index_) << 24) | (next_session_ & 0xffffff);
    next_session_ = (next_session_ + 1) & 0xffffff;
    if (next_session_ == 0) next_session_ = 1;
    if ((pid & 0xffffff) != 0 && sessions_.emplace(pid, s).second) return pid;
  }
}

void Worker::unregister_session(std::uint32_t pid) { sessions_.erase(pid); }

void Worker::cancel(std::uint32_t pid, std::uint32_t secret) {
  auto it = sessions_.find(pid);
  if (it != sessions_.end()) it->second->cancel(secret);
}

}  // namespace baton::proxy
