// The admin HTTP/1.1 server (plain or TLS): accept loop, one coroutine per connection, size limits, deadlines, stop.
#include "proxy/admin/http_server.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <optional>
#include <type_traits>
#include <unordered_map>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "proxy/log/log.hpp"

namespace baton::proxy::admin {

namespace beast = boost::beast;
namespace http = beast::http;

struct HttpServerState {
  HttpServerState(asio::io_context& io, HttpServerOptions o, HttpHandler h)
      : io(io), options(std::move(o)), handler(std::move(h)), acceptor(io) {}

  void close_all() {
    stopped = true;
    error_code ignored;
    acceptor.close(ignored);
    for (auto& [id, stream] : connections) stream->socket().close(ignored);
  }

  asio::io_context& io;
  HttpServerOptions options;
  HttpHandler handler;
  tcp::acceptor acceptor;
  bool stopped = false;
  std::uint64_t next_id = 0;
  std::unordered_map<std::uint64_t, beast::tcp_stream*> connections;  // touched on the io thread only
};

namespace {

using State = HttpServerState;

// Registers a connection's stream for stop() while its coroutine lives.
class Registration {
 public:
  Registration(State& s, beast::tcp_stream& stream) : state_(s), id_(s.next_id++) {
    state_.connections.emplace(id_, &stream);
  }
  ~Registration() { state_.connections.erase(id_); }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

 private:
  State& state_;
  std::uint64_t id_;
};

http::response<http::string_body> to_beast(HttpResponse r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res;
  res.version(version);
  res.result(static_cast<unsigned>(r.status));
  res.set(http::field::server, "baton");
  res.set(http::field::cache_control, "no-store");
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  for (const auto& [name, value] : r.headers) res.set(name, value);
  res.body() = std::move(r.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

HttpRequest from_beast(http::request<http::string_body> req) {
  HttpRequest r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  r.authorization = std::string(req[http::field::authorization]);
  r.body = std::move(req.body());
  return r;
}

// TLS is Beast's ssl_stream over a tcp_stream, so the tcp_stream's deadline bounds the handshake,
// every read and write, and the shutdown, and closing its socket (stop()) ends them all.
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
template <typename S>
inline constexpr bool kIsTls = std::is_same_v<S, TlsStream>;

// A closing TLS connection sends close_notify and then waits at most this long (or write_timeout,
// if shorter) for the peer's close_notify before closing the socket.
constexpr std::chrono::milliseconds kTlsShutdownLimit{1000};

// Sends close_notify and waits (bounded) for the peer's; then closes. Nothing to do once the socket
// is closed (a deadline passed, or stop()).
awaitable<void> tls_shutdown(TlsStream& stream, std::chrono::milliseconds limit) {
  beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
  if (!tcp.socket().is_open()) co_return;
  tcp.expires_after(limit);
  co_await stream.async_shutdown(use_tuple);
  tcp.close();
}

// After refusing a request whose rest is still arriving: stop sending, read and drop what comes
// (bounded), so that closing does not reset the connection before the client reads the answer.
awaitable<void> lingering_close(beast::tcp_stream& stream) {
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(std::chrono::seconds(1));
  std::array<char, 4096> sink;
  std::size_t drained = 0;
  while (drained < (1u << 20)) {
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(sink), use_tuple);
    if (rec) break;
    drained += n;
  }
  stream.close();
}

// With TLS the bounded shutdown stands in for it (close_notify, then up to 1 s for the peer's). A
// client still sending its refused body may then see a reset before it reads the answer.
awaitable<void> lingering_close(TlsStream& stream) { co_await tls_shutdown(stream, std::chrono::seconds(1)); }

void close_after_answer(beast::tcp_stream& stream) {
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
}

// The answer to a request Beast refused to read, or none (just close) for I/O errors and timeouts.
std::optional<HttpResponse> refusal(const error_code& ec, std::size_t limit) {
  if (ec == http::error::body_limit) {
    return json_error(413, "request body larger than " + std::to_string(limit) + " bytes");
  }
  if (ec == http::error::header_limit) {
    return json_error(431, "request header larger than " + std::to_string(limit) + " bytes");
  }
  if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    return json_error(400, "malformed HTTP request: " + ec.message());
  }
  return std::nullopt;
}

// The request/response loop over a plain or an established TLS stream (registered for stop()).
template <typename S>
awaitable<void> serve_requests(std::shared_ptr<State> s, S& stream) {
  beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
  const HttpServerOptions& o = s->options;
  const std::chrono::milliseconds shutdown_limit = std::min(o.write_timeout, kTlsShutdownLimit);

  if (s->connections.size() > o.max_connections) {
    auto res = to_beast(json_error(503, "too many admin connections"), 11, false);
    tcp.expires_after(o.write_timeout);
    co_await http::async_write(stream, res, use_tuple);
    co_await lingering_close(stream);
    co_return;
  }

  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(o.max_request_bytes, UINT32_MAX)));
    parser.body_limit(o.max_request_bytes);
    tcp.expires_after(o.read_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (ec) {
      std::optional<HttpResponse> answer = refusal(ec, o.max_request_bytes);
      if (answer && !s->stopped) {
        auto res = to_beast(std::move(*answer), 11, false);
        tcp.expires_after(o.write_timeout);
        co_await http::async_write(stream, res, use_tuple);
        co_await lingering_close(stream);
        co_return;
      }
      // Timeout (the stream is closed already), EOF, reset or stop(); a TLS peer that sent
      // close_notify gets ours.
      if constexpr (kIsTls<S>) co_await tls_shutdown(stream, shutdown_limit);
      co_return;
    }

    http::request<http::string_body> req = parser.release();
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    HttpResponse answer;
    bool failed = false;
    try {
      answer = co_await s->handler(from_beast(std::move(req)));
    } catch (const std::exception& e) {
      log::error("admin", "request handler failed: ", e.what());
      failed = true;
    }
    if (failed) answer = json_error(500, "internal error");
    if (s->stopped) co_return;

    const bool again = keep_alive && !s->stopped;
    auto res = to_beast(std::move(answer), version, again);
    tcp.expires_after(o.write_timeout);
    auto [wec, written] = co_await http::async_write(stream, res, use_tuple);
    if (wec || !again) break;
  }
  if constexpr (kIsTls<S>) {
    co_await tls_shutdown(stream, shutdown_limit);
  } else {
    close_after_answer(stream);
  }
}

awaitable<void> serve_connection(std::shared_ptr<State> s, tcp::socket socket) {
  if (s->options.tls == nullptr) {
    beast::tcp_stream stream(std::move(socket));
    Registration registration(*s, stream);
    co_await serve_requests(s, stream);
    co_return;
  }
  TlsStream stream(std::move(socket), *s->options.tls);
  beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
  Registration registration(*s, tcp);
  tcp.expires_after(s->options.read_timeout);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
  if (ec) {  // a plain-HTTP client, a scanner, a timeout, stop(): the client's problem, not ours
    log::debug("admin", "TLS handshake failed: ", ec.message());
    tcp.close();
    co_return;
  }
  co_await serve_requests(s, stream);
}

void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::error("admin", "connection ended with an exception: ", ex.what());
  }
}

awaitable<void> accept_loop(std::shared_ptr<State> s) {
  asio::steady_timer backoff(s->io);
  while (!s->stopped) {
    auto [ec, socket] = co_await s->acceptor.async_accept(use_tuple);
    if (s->stopped || ec == asio::error::operation_aborted) break;
    if (ec) {  // e.g. out of file descriptors: try again shortly
      log::warn("admin", "accept failed: ", ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    asio::co_spawn(s->io, serve_connection(s, std::move(socket)), log_exception);
  }
}

}  // namespace

HttpServer::HttpServer(asio::io_context& io, HttpServerOptions options, HttpHandler handler)
    : state_(std::make_shared<HttpServerState>(io, std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { stop(); }

std::string HttpServer::start() {
  State& s = *state_;
  const std::string& host = s.options.host;
  error_code ec;
  const auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return "admin host " + host + " is not an IP address";
  const tcp::endpoint endpoint(address, s.options.port);
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    s.acceptor.close(ignored);
    return "cannot listen on " + host + ":" + std::to_string(s.options.port) + ": " + ec.message();
  }
  port_ = s.acceptor.local_endpoint(ec).port();
  asio::co_spawn(s.io, accept_loop(state_), log_exception);
  return "";
}

void HttpServer::stop() {
  asio::dispatch(state_->io, [s = state_] { s->close_all(); });
}

}  // namespace baton::proxy::admin
