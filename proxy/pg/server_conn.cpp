// Opening PostgreSQL server connections: connect, TLS, login in whatever way the server asks; internal queries; cancel.
#include "proxy/pg/server_conn.hpp"

#include <netdb.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/write.hpp>

#include "protocol/pg/fe.hpp"
#include "protocol/pg/md5.hpp"
#include "protocol/pg/scram.hpp"
#include "protocol/pg/sqlstate.hpp"
#include "proxy/log/log.hpp"
#include "proxy/net/syscalls.hpp"
#include "proxy/pg/io.hpp"

namespace baton::proxy {
template class Pool<pg::ServerConn>;  // the one instantiation (server_conn.hpp, pool.hpp)
}  // namespace baton::proxy

namespace baton::proxy::pg {

namespace pgp = protocol::pg;
namespace be = protocol::pg::be;
namespace fe = protocol::pg::fe;
using namespace asio::experimental::awaitable_operators;

namespace {

ServerError baton_error(std::string_view sqlstate, std::string message) {
  return ServerError{std::string(sqlstate), std::move(message), false};
}

// The server's own SQLSTATE and message from an ErrorResponse body (or `fallback` if it is malformed).
ServerError server_error(protocol::Bytes body, std::string_view fallback) {
  ServerError e{std::string(pgp::sqlstate::kConnectionFailure), std::string(fallback), true};
  auto r = be::decode_error_fields(body);
  if (auto* ok = std::get_if<protocol::Decoded<be::ErrorFields>>(&r)) {
    e.sqlstate = ok->value.sqlstate();
    e.message = ok->value.message();
  }
  return e;
}

std::string where(const ServerTarget& t) {
  return "\"" + t.node_name + "\" (" + t.host + ":" + std::to_string(t.port) + ")";
}

// A login the server ended because the node itself is going or not there yet (shutting down,
// starting up, in recovery, its postmaster killed: 57P01-57P03), not because of who logs in or
// to what: as unreachable as a refused TCP connection, so the client waits for the node or for a
// failover instead of being ended as for a refused password.
void reclassify_node_unavailable(ServerError& e, const ServerTarget& t) {
  namespace ss = pgp::sqlstate;
  if (e.sqlstate != ss::kAdminShutdown && e.sqlstate != ss::kCrashShutdown && e.sqlstate != ss::kCannotConnectNow) return;
  e.message = "server " + where(t) + " is not accepting connections: " + e.message;
  e.sqlstate = std::string(ss::kCannotConnectNow);
  e.from_server = false;
}

// A host name's addresses (getaddrinfo) without blocking the worker: a worker's io_context takes
// no locks (net/worker.hpp), so Asio's resolver, which completes from a thread of its own, cannot
// be used on it. getaddrinfo runs on a new thread; an eventfd that the worker's reactor waits on
// says it is done. Gives up at `deadline` (the thread then finishes alone).
awaitable<std::pair<error_code, std::vector<tcp::endpoint>>> resolve_host(asio::any_io_executor ex, std::string host,
                                                                          std::uint16_t port,
                                                                          asio::steady_timer& deadline) {
  struct Lookup {
    int fd = -1;
    std::mutex mutex;
    int rc = 0;
    std::vector<tcp::endpoint> endpoints;
    ~Lookup() {
      if (fd >= 0) ::close(fd);
    }
  };
  auto lookup = std::make_shared<Lookup>();
  lookup->fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  const int wait_fd = lookup->fd < 0 ? -1 : ::dup(lookup->fd);
  if (wait_fd < 0) co_return std::pair{error_code(errno, boost::system::system_category()), std::vector<tcp::endpoint>{}};
  asio::posix::stream_descriptor done(ex, wait_fd);
  auto look_up = [lookup, host = std::move(host), port] {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
    {
      std::lock_guard lock(lookup->mutex);
      lookup->rc = rc;
      for (const addrinfo* a = found; rc == 0 && a != nullptr; a = a->ai_next) {
        tcp::endpoint ep;
        if (a->ai_addrlen > ep.capacity()) continue;
        std::memcpy(ep.data(), a->ai_addr, a->ai_addrlen);
        ep.resize(a->ai_addrlen);
        lookup->endpoints.push_back(ep);
      }
    }
    if (found != nullptr) ::freeaddrinfo(found);
    sys::signal_eventfd(lookup->fd);
  };
  error_code started;
  try {
    std::thread(std::move(look_up)).detach();
  } catch (const std::system_error& e) {  // no thread to be had (a process or memory limit)
    started = error_code(e.code().value(), boost::system::system_category());
  }
  if (started) co_return std::pair{started, std::vector<tcp::endpoint>{}};
  auto which = co_await (done.async_wait(asio::posix::descriptor_base::wait_read, use_tuple) ||
                         deadline.async_wait(use_tuple));
  if (which.index() == 1) co_return std::pair{error_code(asio::error::timed_out), std::vector<tcp::endpoint>{}};
  std::lock_guard lock(lookup->mutex);
  switch (lookup->rc) {
    case 0:
      if (lookup->endpoints.empty()) break;
      co_return std::pair{error_code{}, std::move(lookup->endpoints)};
    case EAI_AGAIN:
      co_return std::pair{error_code(asio::error::host_not_found_try_again), std::vector<tcp::endpoint>{}};
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
      break;
    default:
      co_return std::pair{error_code(asio::error::no_recovery), std::vector<tcp::endpoint>{}};
  }
  co_return std::pair{error_code(asio::error::host_not_found), std::vector<tcp::endpoint>{}};
}

// Connects a TCP socket to host:port within `timeout` (name lookup included).
awaitable<std::pair<error_code, tcp::socket>> connect_tcp(asio::any_io_executor ex, const std::string& host,
                                                           std::uint16_t port, std::chrono::milliseconds timeout) {
  tcp::socket socket(ex);
  asio::steady_timer timer(ex, timeout);
  std::vector<tcp::endpoint> endpoints;
  error_code literal_ec;
  const asio::ip::address literal = asio::ip::make_address(host, literal_ec);
  if (!literal_ec) {
    endpoints.emplace_back(literal, port);
  } else {
    auto [rec, found] = co_await resolve_host(ex, host, port, timer);
    if (rec) co_return std::pair{rec, std::move(socket)};
    endpoints = std::move(found);
  }
  auto result = co_await (asio::async_connect(socket, endpoints, use_tuple) || timer.async_wait(use_tuple));
  if (result.index() == 1) {
    socket.close();
    co_return std::pair{error_code(asio::error::timed_out), std::move(socket)};
  }
  auto [ec, ep] = std::get<0>(result);
  co_return std::pair{ec, std::move(socket)};
}

// Answers the server's authentication requests until AuthenticationOk.
awaitable<ServerError> authenticate(ServerConn& conn, ByteBuffer& in) {
  const ServerTarget& t = *conn.target;
  std::unique_ptr<pgp::scram::ClientExchange> scram;
  std::vector<std::uint8_t> out;
  for (;;) {
    FrameRead fr = co_await read_frame(conn.stream, in, t.max_message_size);
    if (fr.status != ReadStatus::kOk) co_return baton_error(pgp::sqlstate::kConnectionFailure,
                                                            "server " + where(t) + " closed the connection during login");
    if (fr.frame.type == be::kErrorResponse) co_return server_error(fr.frame.body, "server refused login");
    if (fr.frame.type != be::kAuthentication) {
      co_return baton_error(pgp::sqlstate::kProtocolViolation, "unexpected message during login from " + where(t));
    }
    auto r = be::decode_authentication(fr.frame.body);
    auto* ok = std::get_if<protocol::Decoded<be::Authentication>>(&r);
    if (ok == nullptr) co_return baton_error(pgp::sqlstate::kProtocolViolation, "malformed authentication request");
    const be::Authentication& auth = ok->value;
    out.clear();
    protocol::Writer w(out);
    switch (auth.code) {
      case be::AuthCode::kOk:
        in.consume(fr.size);
        co_return ServerError{};
      case be::AuthCode::kCleartextPassword:
        fe::encode_password(w, t.password);
        break;
      case be::AuthCode::kMd5Password:
        fe::encode_password(w, pgp::md5::client_response(t.password, t.user, auth.md5_salt));
        break;
      case be::AuthCode::kSasl: {
        bool offered = false;
        for (auto m : auth.mechanisms) offered = offered || m == "SCRAM-SHA-256";
        if (!offered) co_return baton_error(pgp::sqlstate::kFeatureNotSupported, "server offers no supported SASL mechanism");
        scram = std::make_unique<pgp::scram::ClientExchange>(t.password, pgp::scram::make_nonce());
        fe::encode_sasl_initial(w, "SCRAM-SHA-256", protocol::as_bytes(scram->client_first()));
        break;
      }
      case be::AuthCode::kSaslContinue: {
        if (!scram) co_return baton_error(pgp::sqlstate::kProtocolViolation, "SASL continue without SASL start");
        auto step = scram->on_server_first(auth.data);
        if (step.kind != pgp::scram::Step::Kind::kSend) {
          co_return baton_error(pgp::sqlstate::kInvalidAuthorizationSpecification, "SCRAM with server failed: " + step.error);
        }
        fe::encode_sasl_response(w, protocol::as_bytes(step.bytes));
        break;
      }
      case be::AuthCode::kSaslFinal: {
        if (!scram) co_return baton_error(pgp::sqlstate::kProtocolViolation, "SASL final without SASL start");
        auto step = scram->on_server_final(auth.data);
        if (step.kind != pgp::scram::Step::Kind::kDone) {
          co_return baton_error(pgp::sqlstate::kInvalidAuthorizationSpecification,
                                "server " + where(t) + " failed SCRAM verification: " + step.error);
        }
        in.consume(fr.size);
        continue;  // AuthenticationOk follows
      }
    }
    in.consume(fr.size);
    if (auto ec = co_await write_all(conn.stream, out)) {
      co_return baton_error(pgp::sqlstate::kConnectionFailure, "lost server " + where(t) + " during login");
    }
  }
}

// Reads ParameterStatus and BackendKeyData up to ReadyForQuery after AuthenticationOk.
awaitable<ServerError> read_login_tail(ServerConn& conn, ByteBuffer& in) {
  const ServerTarget& t = *conn.target;
  for (;;) {
    FrameRead fr = co_await read_frame(conn.stream, in, t.max_message_size);
    if (fr.status != ReadStatus::kOk) co_return baton_error(pgp::sqlstate::kConnectionFailure,
                                                            "server " + where(t) + " closed the connection during login");
    switch (fr.frame.type) {
      case be::kParameterStatus: {
        auto r = be::decode_parameter_status(fr.frame.body);
        if (auto* ok = std::get_if<protocol::Decoded<be::ParameterStatus>>(&r)) {
          conn.login_params.set(ok->value.name, ok->value.value);
          conn.state.reported.set(ok->value.name, ok->value.value);
        }
        break;
      }
      case be::kBackendKeyData: {
        auto r = be::decode_backend_key_data(fr.frame.body);
        if (auto* ok = std::get_if<protocol::Decoded<be::BackendKeyData>>(&r)) conn.key = ok->value;
        break;
      }
      case be::kReadyForQuery:
        in.consume(fr.size);
        co_return ServerError{};
      case be::kErrorResponse:
        co_return server_error(fr.frame.body, "server refused login");
      default:
        break;  // NoticeResponse, NegotiateProtocolVersion: nothing to do
    }
    in.consume(fr.size);
  }
}

// Sends SSLRequest and upgrades when the server agrees. Returns an error for require/verify modes
// the server cannot meet.
awaitable<ServerError> negotiate_tls(ServerConn& conn) {
  const ServerTarget& t = *conn.target;
  std::vector<std::uint8_t> out;
  protocol::Writer w(out);
  fe::encode_ssl_request(w);
  if (co_await write_all(conn.stream, out)) co_return baton_error(pgp::sqlstate::kConnectionFailure, "lost server during SSLRequest");
  std::uint8_t answer = 0;
  auto [ec, n] = co_await conn.stream.read_some(asio::buffer(&answer, 1));
  if (ec || n != 1) co_return baton_error(pgp::sqlstate::kConnectionFailure, "lost server during SSLRequest");
  if (answer != 'S') {
    if (t.tls_mode == ServerTlsMode::kPrefer) co_return ServerError{};
    co_return baton_error(pgp::sqlstate::kConnectionFailure, "server " + where(t) + " does not support SSL, but server_tls.mode requires it");
  }
  bool verify_name = t.tls_mode == ServerTlsMode::kVerifyFull;
  if (auto hec = co_await conn.stream.tls_connect(*t.tls_context, t.host, verify_name)) {
    co_return baton_error(pgp::sqlstate::kConnectionFailure, "TLS handshake with server " + where(t) + " failed: " + hec.message());
  }
  co_return ServerError{};
}

}  // namespace

awaitable<ServerPool::Opened> connect_server(asio::any_io_executor executor, const ServerTarget& t) {
  auto [ec, socket] = co_await connect_tcp(executor, t.host, t.port, t.connect_timeout);
  if (ec) {
    log::warn("pool", "cannot connect to server ", where(t), ": ", ec.message());
    co_return ServerPool::Opened{nullptr, baton_error(pgp::sqlstate::kSqlclientUnableToEstablishSqlconnection,
                                                      "baton could not connect to server " + where(t) + ": " + ec.message())};
  }
  auto conn = std::make_unique<ServerConn>(Stream(std::move(socket)), t);
  if (t.tls_mode != ServerTlsMode::kDisable) {
    if (ServerError e = co_await negotiate_tls(*conn); !e.empty()) co_return ServerPool::Opened{nullptr, e};
  }
  std::vector<std::uint8_t> out;
  protocol::Writer w(out);
  fe::encode_startup(w, {{"user", t.user}, {"database", t.database}});
  if (co_await write_all(conn->stream, out)) {
    co_return ServerPool::Opened{nullptr, baton_error(pgp::sqlstate::kConnectionFailure, "lost server " + where(t))};
  }
  if (ServerError e = co_await authenticate(*conn, conn->in); !e.empty()) {
    reclassify_node_unavailable(e, t);
    log::warn("pool", "login to server ", where(t), " as \"", t.user, "\" failed: ", e.message);
    co_return ServerPool::Opened{nullptr, e};
  }
  if (ServerError e = co_await read_login_tail(*conn, conn->in); !e.empty()) {
    reclassify_node_unavailable(e, t);
    co_return ServerPool::Opened{nullptr, e};
  }
  log::debug("pool", "new server connection to ", where(t), " db=", t.database, " user=", t.user);
  co_return ServerPool::Opened{std::move(conn), {}};
}

awaitable<ServerError> run_internal_query(ServerConn& conn, std::string_view sql, std::string* first_value) {
  std::vector<std::uint8_t> out;
  protocol::Writer w(out);
  fe::encode_query(w, sql);
  if (co_await write_all(conn.stream, out)) {
    conn.mark_unusable();
    co_return baton_error(pgp::sqlstate::kConnectionFailure, "lost server connection");
  }
  ByteBuffer& in = conn.in;
  ServerError failure;
  for (;;) {
    FrameRead fr = co_await read_frame(conn.stream, in, conn.target->max_message_size);
    if (fr.status != ReadStatus::kOk) {
      conn.mark_unusable();
      co_return baton_error(pgp::sqlstate::kConnectionFailure, "lost server connection");
    }
    if (fr.frame.type == be::kParameterStatus) {
      auto r = be::decode_parameter_status(fr.frame.body);
      if (auto* ok = std::get_if<protocol::Decoded<be::ParameterStatus>>(&r)) {
        conn.state.reported.set(ok->value.name, ok->value.value);
      }
    } else if (fr.frame.type == be::kDataRow && first_value != nullptr && first_value->empty()) {
      // DataRow: Int16 column count, then per column Int32 length (-1 = NULL) and the bytes.
      protocol::Reader r(fr.frame.body);
      const std::uint16_t columns = r.u16();
      const std::uint32_t length = r.u32();
      if (!r.failed() && columns > 0 && length != 0xffffffffu) {
        protocol::Bytes value = r.bytes(length);
        if (!r.failed()) first_value->assign(reinterpret_cast<const char*>(value.data()), value.size());
      }
    } else if (fr.frame.type == be::kErrorResponse) {
      failure = server_error(fr.frame.body, "internal query failed");
    } else if (fr.frame.type == be::kReadyForQuery) {
      auto r = be::decode_ready_for_query(fr.frame.body);
      auto* ok = std::get_if<protocol::Decoded<be::ReadyForQuery>>(&r);
      if (ok == nullptr || ok->value.status != be::TxStatus::kIdle) conn.mark_unusable();
      in.consume(fr.size);
      break;
    }
    in.consume(fr.size);
  }
  if (!in.empty()) conn.mark_unusable();  // the server sent more than one answer: do not trust it
  co_return failure;
}

awaitable<void> send_cancel(asio::any_io_executor executor, std::string host, std::uint16_t port,
                            be::BackendKeyData key, std::chrono::milliseconds timeout) {
  auto [ec, socket] = co_await connect_tcp(executor, host, port, timeout);
  if (ec) {
    log::warn("cancel", "cannot reach ", host, ":", std::to_string(port), " to cancel: ", ec.message());
    co_return;
  }
  std::vector<std::uint8_t> out;
  protocol::Writer w(out);
  fe::encode_cancel(w, fe::CancelRequest{key.process_id, key.secret_key});
  co_await asio::async_write(socket, asio::buffer(out), use_tuple);
  // PostgreSQL closes the connection after a CancelRequest; wait for that (bounded) before closing.
  std::uint8_t byte;
  asio::steady_timer timer(executor, timeout);
  co_await (socket.async_read_some(asio::buffer(&byte, 1), use_tuple) || timer.async_wait(use_tuple));
}

}  // namespace baton::proxy::pg
