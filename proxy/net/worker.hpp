// A worker thread: its own io_context, SO_REUSEPORT listeners, client sessions and server pools.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "protocol/pg/scram.hpp"
#include "proxy/config/config.hpp"
#include "proxy/net/asio.hpp"
#include "proxy/pg/prepared.hpp"
#include "proxy/pg/server_conn.hpp"

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
  void start();           // runs the io_context on a new thread
  void stop_accepting();  // posted: close the listeners
  void stop();            // stops the io_context and joins
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
  // The SCRAM verifier a client of `user` must match, derived once per user (PBKDF2 is costly).
  // For an unknown user (null), a verifier no password matches, so the exchange fails the same way.
  const protocol::pg::scram::Verifier& scram_verifier(const UserConfig* user);

  // Cancel keys: this worker's sessions by the process id baton gave them.
  std::uint32_t register_session(pg::Session* s);
  void unregister_session(std::uint32_t pid);
  void cancel(std::uint32_t pid, std::uint32_t secret);  // on this worker's thread

  std::size_t session_count() const { return sessions_.size(); }

 private:
  struct Listener {
    const ListenerConfig* config;
    std::unique_ptr<tcp::acceptor> acceptor;
  };
  struct PoolEntry {
    std::unique_ptr<pg::ServerTarget> target;
    std::unique_ptr<pg::ServerPool> pool;
  };

  awaitable<void> accept_loop(Listener& l);
  awaitable<void> maintain_loop();

  App& app_;
  int index_;
  asio::io_context io_{1};
  std::thread thread_;
  std::vector<Listener> listeners_;
  std::unordered_map<std::string, PoolEntry> pools_;
  std::unordered_map<std::uint32_t, pg::Session*> sessions_;
  std::uint32_t next_session_ = 1;
  pg::StatementRegistry statements_;
  std::unordered_map<const UserConfig*, protocol::pg::scram::Verifier> verifiers_;
  std::unique_ptr<asio::steady_timer> maintain_timer_;
};

}  // namespace baton::proxy
