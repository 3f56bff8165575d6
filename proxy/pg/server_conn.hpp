// A PostgreSQL server connection: opening it, logging in, and what baton knows about its state.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "protocol/pg/be.hpp"
#include "proxy/config/config.hpp"
#include "proxy/net/byte_buffer.hpp"
#include "proxy/net/stream.hpp"
#include "proxy/pg/params.hpp"
#include "proxy/pg/prepared.hpp"
#include "proxy/pool/pool.hpp"

namespace baton::proxy::pg {

// Where and as whom to log in. Owned by the worker; outlives its connections.
struct ServerTarget {
  std::string node_name;
  std::size_t cluster_index = 0;  // in the configuration's cluster list
  std::size_t node_index = 0;     // in the cluster's node list (= the topology's node id)
  int metrics_node = -1;          // the node's slot in metrics
  std::string user_name;          // the configured user this pool serves (server_user may differ)
  std::string host;
  std::uint16_t port = 5432;
  std::string user;
  std::string password;
  std::string database;
  ServerTlsMode tls_mode = ServerTlsMode::kDisable;
  asio::ssl::context* tls_context = nullptr;  // set unless tls_mode is disable
  std::chrono::milliseconds connect_timeout{5000};
  std::uint32_t max_message_size = 64u << 20;
  std::size_t max_prepared_statements = 200;
};

struct ServerConn {
  ServerConn(Stream s, const ServerTarget& t)
      : stream(std::move(s)), target(&t), prepared(t.max_prepared_statements) {}

  bool usable() const { return usable_ && stream.is_open(); }
  bool idle_and_open() { return usable_ && stream.idle_and_open(); }
  void mark_unusable() { usable_ = false; }

  Stream stream;
  const ServerTarget* target;
  protocol::pg::be::BackendKeyData key;
  ParamSet login_params;   // ParameterStatus as reported at login: the pool's defaults
  SessionParams state;     // what the connection has now
  ServerStatementCache prepared;
  ByteBuffer in;  // bytes read from the server not yet handled
  TimePoint created_at = SteadyClock::now();
  TimePoint last_used = created_at;

 private:
  bool usable_ = true;
};

using ServerPool = Pool<ServerConn>;
}  // namespace baton::proxy::pg
namespace baton::proxy {
extern template class Pool<pg::ServerConn>;  // instantiated in server_conn.cpp (see pool.hpp)
}  // namespace baton::proxy
namespace baton::proxy::pg {

// Connects (bounded by connect_timeout), negotiates TLS as configured, logs in with whatever the
// server asks (SCRAM-SHA-256, MD5, cleartext, trust) and reads up to ReadyForQuery.
awaitable<ServerPool::Opened> connect_server(asio::any_io_executor executor, const ServerTarget& target);

// Runs a simple query whose results nobody wants (server reset, parameter sync); reads to
// ReadyForQuery. ParameterStatus messages update conn.state.reported. Fails on any ErrorResponse.
// When `first_value` is given, it receives the first column of the first row (text), if any.
awaitable<ServerError> run_internal_query(ServerConn& conn, std::string_view sql, std::string* first_value = nullptr);

// Sends a CancelRequest for `key` to host:port on a new connection.
awaitable<void> send_cancel(asio::any_io_executor executor, std::string host, std::uint16_t port,
                            protocol::pg::be::BackendKeyData key, std::chrono::milliseconds timeout);

}  // namespace baton::proxy::pg
