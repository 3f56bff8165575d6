// A worker thread: accepting clients on SO_REUSEPORT listeners, spawning sessions, keeping its pools.
#include "proxy/net/worker.hpp"

#include <boost/asio/socket_base.hpp>

#include "protocol/common/crypto.hpp"
#include "proxy/app.hpp"
#include "proxy/log/log.hpp"
#include "proxy/pg/session.hpp"
#include "proxy/pool/pool_policy.hpp"

namespace baton::proxy {

namespace {
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
}

Worker::Worker(App& app, int index) : app_(app), index_(index) {}

Worker::~Worker() { stop(); }

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

void Worker::start() {
  for (Listener& l : listeners_) asio::co_spawn(io_, accept_loop(l), asio::detached);
  maintain_timer_ = std::make_unique<asio::steady_timer>(io_);
  asio::co_spawn(io_, maintain_loop(), asio::detached);
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
}

void Worker::post(std::function<void()> fn) { asio::post(io_, std::move(fn)); }

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
  io_.stop();
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
    auto* session = new pg::Session(*this, *l.config, std::move(socket));
    asio::co_spawn(io_, session->run(), [session](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::error("session", "session ended by an unexpected exception: ", ex.what());
        }
      }
      delete session;
    });
  }
}

awaitable<void> Worker::maintain_loop() {
  for (;;) {
    maintain_timer_->expires_after(std::chrono::seconds(1));
    auto [ec] = co_await maintain_timer_->async_wait(use_tuple);
    if (ec) co_return;
    auto now = SteadyClock::now();
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

  int workers = app_.worker_count();
  int pool_size = user.pool_size.value_or(cfg.pool.pool_size);
  PoolSettings settings{
      .min_size = worker_share(cfg.pool.min_pool_size, workers, index_),
      .max_logins = std::max(1, worker_share(cfg.pool.max_concurrent_logins, workers, index_)),
      .idle_timeout = cfg.pool.server_idle_timeout,
      .lifetime = cfg.pool.server_lifetime,
  };
  pg::ServerTarget* t = target.get();
  auto executor = io_.get_executor();
  auto pool = std::make_unique<pg::ServerPool>(
      executor, app_.pool_shared(key, pool_size), settings,
      [executor, t]() { return pg::connect_server(executor, *t); },
      [this, key]() { app_.signal_pool(index_, key); });
  auto& entry = pools_[key];
  entry.target = std::move(target);
  entry.pool = std::move(pool);
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
