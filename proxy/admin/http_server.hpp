// A small HTTP/1.1 server (Boost.Beast, coroutines) for the admin API, run on the control plane's io_context.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "proxy/admin/routes.hpp"
#include "proxy/net/asio.hpp"

namespace boost::asio::ssl {
class context;
}

namespace baton::proxy::admin {

struct HttpServerOptions {
  std::string host = "127.0.0.1";  // an IP address ("0.0.0.0", "::") or "localhost"
  std::uint16_t port = 9930;       // 0: any free port (see HttpServer::port)
  // The request header and the body may each be this large; more is refused
  // (431 for the header, 413 for the body) and the connection closed.
  std::size_t max_request_bytes = 64 * 1024;
  // Time to receive one whole request, from the end of the previous answer (an idle keep-alive
  // connection is closed when it passes) or from accept. Then the connection is closed.
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds write_timeout{10000};
  std::size_t max_connections = 64;  // more get 503 and are closed
  // Non-null: every connection is TLS (the context outlives the server). The handshake must end
  // within read_timeout; a connection whose handshake fails or times out is just closed.
  boost::asio::ssl::context* tls = nullptr;
};

struct HttpServerState;  // defined in http_server.cpp

// Answers one request. Runs on the server's io_context; an exception becomes a 500.
using HttpHandler = std::function<awaitable<HttpResponse>(HttpRequest)>;

class HttpServer {
 public:
  HttpServer(asio::io_context& io, HttpServerOptions options, HttpHandler handler);
  ~HttpServer();  // stop(); destroy the server before its io_context
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts accepting. Returns "" or what went wrong. Call it before the
  // io_context runs or on its thread.
  std::string start();
  // The bound port (useful with port 0); 0 before start().
  std::uint16_t port() const { return port_; }
  // Closes the listener and every connection (a request being handled gets no answer).
  // Thread-safe; runs on the io_context's thread.
  void stop();

 private:
  std::shared_ptr<HttpServerState> state_;
  std::uint16_t port_ = 0;
};

}  // namespace baton::proxy::admin
