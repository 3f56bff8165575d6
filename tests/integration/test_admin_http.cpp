// Tests for proxy/admin/http_server on loopback: keep-alive, size limits, read timeouts, stop, TLS, and the routes over curl.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include "proxy/admin/http_server.hpp"
#include "proxy/admin/routes.hpp"
#include "tests/integration/harness.hpp"

using namespace baton::proxy;
using namespace baton::proxy::admin;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// The fake handler: echoes the request; "/throw" throws.
awaitable<HttpResponse> echo(HttpRequest req, std::atomic<int>* calls) {
  calls->fetch_add(1);
  if (req.target == "/throw") throw std::runtime_error("handler failure on purpose");
  HttpResponse r;
  r.content_type = "text/plain";
  r.body = req.method + " " + req.target + " auth=" + req.authorization + " body=" + req.body;
  r.headers.emplace_back("X-Test", "yes");
  co_return r;
}

// The real route table over a fixed view; commands are answered as accepted.
awaitable<HttpResponse> routed(HttpRequest req, const AdminView* view, const AdminSettings* settings) {
  RouteResult result = route(req, *view, *settings);
  if (auto* cmd = std::get_if<Command>(&result)) {
    co_return command_response(*cmd, {CommandOutcome::Status::kAccepted, "queued"});
  }
  co_return std::get<HttpResponse>(std::move(result));
}

// The server on its own io_context thread.
class Served {
 public:
  Served(HttpServerOptions options, HttpHandler handler) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<HttpServer>(io_, options, std::move(handler));
    const std::string err = server_->start();
    if (!err.empty()) throw std::runtime_error(err);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Served() {
    server_->stop();
    work_.reset();
    std::this_thread::sleep_for(50ms);  // let the connections close on the io thread
    io_.stop();
    thread_.join();
    server_.reset();
  }
  int port() const { return server_->port(); }
  void stop() { server_->stop(); }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

// Reads whole HTTP responses from a byte source with deadlines; the clients below supply the bytes.
class ResponseReader {
 public:
  virtual ~ResponseReader() = default;

  // One whole response (headers and a Content-Length body); throws on timeout or EOF.
  std::string response(std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = Clock::now() + timeout;
    std::size_t header_end;
    while ((header_end = in_.find("\r\n\r\n")) == std::string::npos) fill(deadline);
    const std::string head = in_.substr(0, header_end + 4);
    std::size_t length = 0;
    const auto cl = lower(head).find("\r\ncontent-length:");
    if (cl != std::string::npos) length = std::stoul(head.substr(cl + 17));
    while (in_.size() < header_end + 4 + length) fill(deadline);
    std::string whole = in_.substr(0, header_end + 4 + length);
    in_.erase(0, whole.size());
    return whole;
  }

  // True when the server closes the connection (EOF or reset) within `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    try {
      while (true) fill(deadline);
    } catch (const Eof&) {
      return true;
    } catch (const std::runtime_error&) {
      return false;
    }
  }

  // What arrived and was not returned as a response.
  const std::string& unread() const { return in_; }

 protected:
  struct Eof {};
  // Appends at least one byte to in_; throws Eof at the end of the stream, std::runtime_error on
  // timeout or another error.
  virtual void fill(Clock::time_point deadline) = 0;
  static std::chrono::milliseconds left(Clock::time_point deadline) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  }
  std::string in_;

 private:
  static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
};

// A blocking loopback client with deadlines.
class Client : public ResponseReader {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() override { ::close(fd_); }
  bool connected() const { return connected_; }

  void send(const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed: " + std::string(strerror(errno)));
      off += static_cast<std::size_t>(n);
    }
  }

 private:
  void fill(Clock::time_point deadline) override {
    const auto ms = left(deadline).count();
    if (ms <= 0) throw std::runtime_error("timed out; have: " + in_);
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(ms)) <= 0) throw std::runtime_error("timed out; have: " + in_);
    char buf[8192];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) throw Eof{};
    if (n < 0) throw std::runtime_error("recv failed");
    in_.append(buf, static_cast<std::size_t>(n));
  }

  int fd_ = -1;
  bool connected_ = false;
};

namespace ssl = asio::ssl;

// The test CA and a localhost certificate (tests/fixtures/make_certs.sh), made once per run.
const std::string& cert_dir() {
  struct Dir {
    Dir() : path(baton::test::make_temp_dir("baton-admin-certs-")) {
      const auto r = baton::test::run("bash " + baton::test::shell_quote(baton::test::source_dir() +
                                                                        "/tests/fixtures/make_certs.sh") +
                                          " " + baton::test::shell_quote(path),
                                      60s);
      if (r.exit_code != 0) throw std::runtime_error("make_certs.sh failed:\n" + r.output);
    }
    ~Dir() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
    std::string path;
  };
  static const Dir dir;
  return dir.path;
}

// A server context with the test certificate, as the control plane would make it.
std::unique_ptr<ssl::context> server_tls() {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ctx->use_certificate_chain_file(cert_dir() + "/server.crt");
  ctx->use_private_key_file(cert_dir() + "/server.key", ssl::context::pem);
  return ctx;
}

// A TLS loopback client that verifies the server as "localhost" against the test CA. Asio SSL on
// its own io_context; every step runs for a bounded time, after which the socket is closed.
class TlsClient : public ResponseReader {
 public:
  explicit TlsClient(int port) : ctx_(ssl::context::tls_client), stream_(io_, ctx_) {
    ctx_.load_verify_file(cert_dir() + "/ca.crt");
    ctx_.set_verify_mode(ssl::verify_peer);
    stream_.set_verify_callback(ssl::host_name_verification("localhost"));
    error_code ec;
    stream_.next_layer().connect(tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<std::uint16_t>(port)),
                                 ec);
    connected_ = !ec;
  }
  bool connected() const { return connected_; }

  // The TLS handshake: "" or what went wrong.
  std::string handshake() {
    error_code result = asio::error::timed_out;
    stream_.async_handshake(ssl::stream_base::client, [&](error_code ec) { result = ec; });
    drive(5000ms);
    return result ? result.message() : "";
  }

  void send(const std::string& data) {
    error_code result = asio::error::timed_out;
    asio::async_write(stream_, asio::buffer(data), [&](error_code ec, std::size_t) { result = ec; });
    drive(5000ms);
    if (result) throw std::runtime_error("TLS send failed: " + result.message());
  }

  // True when the last read ended with the server's close_notify (not a bare TCP close).
  bool got_close_notify() const { return last_error_ == asio::error::eof; }

 private:
  // Runs the pending operation until it completes; when `timeout` passes first, closes the socket
  // and lets the operation complete with an error.
  bool drive(std::chrono::milliseconds timeout) {
    io_.restart();
    io_.run_for(timeout);
    if (io_.stopped()) return true;
    error_code ignored;
    stream_.next_layer().close(ignored);
    io_.restart();
    io_.run();
    return false;
  }

  void fill(Clock::time_point deadline) override {
    const auto ms = left(deadline);
    if (ms.count() <= 0) throw std::runtime_error("timed out; have: " + in_);
    char buf[8192];
    std::size_t got = 0;
    last_error_ = asio::error::timed_out;
    stream_.async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t n) {
      last_error_ = ec;
      got = n;
    });
    if (!drive(ms)) throw std::runtime_error("timed out; have: " + in_);
    in_.append(buf, got);
    if (last_error_ == asio::error::eof || last_error_ == ssl::error::stream_truncated ||
        last_error_ == asio::error::connection_reset) {
      throw Eof{};
    }
    if (last_error_) throw std::runtime_error("TLS read failed: " + last_error_.message());
  }

  asio::io_context io_;
  ssl::context ctx_;
  ssl::stream<tcp::socket> stream_;
  bool connected_ = false;
  error_code last_error_;
};

std::string body_of(const std::string& response) { return response.substr(response.find("\r\n\r\n") + 4); }
bool has_header(const std::string& response, const std::string& line) {
  return response.substr(0, response.find("\r\n\r\n")).find("\r\n" + line + "\r\n") != std::string::npos;
}

HttpHandler echo_handler(std::atomic<int>& calls) {
  return [&calls](HttpRequest r) { return echo(std::move(r), &calls); };
}

}  // namespace

TEST_CASE("admin server: keep-alive serves several requests on one connection", "[admin-http]") {
  std::atomic<int> calls{0};
  Served s({}, echo_handler(calls));
  Client c(s.port());
  REQUIRE(c.connected());
  c.send("GET /first?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
  const std::string r1 = c.response();
  CHECK(r1.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(has_header(r1, "Content-Type: text/plain"));
  CHECK(has_header(r1, "X-Test: yes"));
  CHECK(has_header(r1, "Cache-Control: no-store"));
  CHECK(body_of(r1) == "GET /first?x=1 auth= body=");
  c.send("POST /second HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer abc\r\nContent-Length: 5\r\n\r\nhello");
  const std::string r2 = c.response();
  CHECK(body_of(r2) == "POST /second auth=Bearer abc body=hello");
  // Two pipelined requests in one write: both answered, in order.
  c.send("GET /p1 HTTP/1.1\r\nHost: t\r\n\r\nGET /p2 HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(body_of(c.response()) == "GET /p1 auth= body=");
  CHECK(body_of(c.response()) == "GET /p2 auth= body=");
  c.send("GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  const std::string r3 = c.response();
  CHECK(has_header(r3, "Connection: close"));
  CHECK(c.closed_within(2000ms));
  CHECK(calls.load() == 5);
}

TEST_CASE("admin server: HTTP/1.0 without keep-alive is closed after the answer", "[admin-http]") {
  std::atomic<int> calls{0};
  Served s({}, echo_handler(calls));
  Client c(s.port());
  c.send("GET /old HTTP/1.0\r\n\r\n");
  const std::string r = c.response();
  CHECK(r.starts_with("HTTP/1.0 200 OK\r\n"));
  CHECK(c.closed_within(2000ms));
}

TEST_CASE("admin server: an oversized body gets 413, an oversized header 431, then close", "[admin-http]") {
  std::atomic<int> calls{0};
  HttpServerOptions o;
  o.max_request_bytes = 64 * 1024;
  Served s(o, echo_handler(calls));
  SECTION("Content-Length above the limit is refused before the body arrives") {
    Client c(s.port());
    c.send("POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 65537\r\n\r\n");
    const std::string r = c.response();
    CHECK(r.starts_with("HTTP/1.1 413 "));
    CHECK(has_header(r, "Connection: close"));
    CHECK(body_of(r) == "{\"error\":\"request body larger than 65536 bytes\"}\n");
    CHECK(c.closed_within(3000ms));
  }
  SECTION("a body exactly at the limit is served") {
    Client c(s.port());
    c.send("POST /ok HTTP/1.1\r\nHost: t\r\nContent-Length: 65536\r\n\r\n" + std::string(65536, 'x'));
    const std::string r = c.response();
    CHECK(r.starts_with("HTTP/1.1 200 "));
    CHECK(body_of(r).size() == std::string("POST /ok auth= body=").size() + 65536);
  }
  SECTION("a chunked body past the limit") {
    Client c(s.port());
    c.send("POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    const std::string chunk = "8000\r\n" + std::string(0x8000, 'y') + "\r\n";
    c.send(chunk + chunk + chunk);
    CHECK(c.response().starts_with("HTTP/1.1 413 "));
    CHECK(c.closed_within(3000ms));
  }
  SECTION("a header past the limit") {
    Client c(s.port());
    c.send("GET /h HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(70000, 'h') + "\r\n\r\n");
    const std::string r = c.response();
    CHECK(r.starts_with("HTTP/1.1 431 "));
    CHECK(c.closed_within(3000ms));
  }
  CHECK(calls.load() <= 1);  // only the request at the limit reaches the handler
}

TEST_CASE("admin server: slow or idle connections are closed at the read timeout", "[admin-http]") {
  std::atomic<int> calls{0};
  HttpServerOptions o;
  o.read_timeout = 300ms;
  Served s(o, echo_handler(calls));
  SECTION("a request that never finishes") {
    Client c(s.port());
    const auto start = Clock::now();
    c.send("GET /slow HTTP/1.1\r\nHost: t\r\n");  // no blank line: the header never ends
    CHECK(c.closed_within(3000ms));
    const auto took = Clock::now() - start;
    CHECK(took >= 250ms);
    CHECK(took < 2500ms);
    CHECK(calls.load() == 0);
  }
  SECTION("an idle keep-alive connection") {
    Client c(s.port());
    c.send("GET /once HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(c.response().starts_with("HTTP/1.1 200 "));
    const auto start = Clock::now();
    CHECK(c.closed_within(3000ms));
    CHECK(Clock::now() - start >= 250ms);
  }
}

TEST_CASE("admin server: malformed requests get 400; a throwing handler 500 and the connection lives", "[admin-http]") {
  std::atomic<int> calls{0};
  Served s({}, echo_handler(calls));
  {
    Client c(s.port());
    c.send("GARBAGE\r\n\r\n");
    CHECK(c.response().starts_with("HTTP/1.1 400 "));
    CHECK(c.closed_within(3000ms));
  }
  Client c(s.port());
  c.send("GET /throw HTTP/1.1\r\nHost: t\r\n\r\n");
  const std::string r = c.response();
  CHECK(r.starts_with("HTTP/1.1 500 "));
  CHECK(body_of(r) == "{\"error\":\"internal error\"}\n");
  c.send("GET /after HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(body_of(c.response()) == "GET /after auth= body=");
}

TEST_CASE("admin server: connections past max_connections get 503", "[admin-http]") {
  std::atomic<int> calls{0};
  HttpServerOptions o;
  o.max_connections = 2;
  Served s(o, echo_handler(calls));
  Client a(s.port()), b(s.port());
  for (Client* c : {&a, &b}) {
    c->send("GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(c->response().starts_with("HTTP/1.1 200 "));
  }
  Client third(s.port());
  const std::string r = third.response();
  CHECK(r.starts_with("HTTP/1.1 503 "));
  CHECK(third.closed_within(3000ms));
}

TEST_CASE("admin server: stop closes the listener and open connections", "[admin-http]") {
  std::atomic<int> calls{0};
  Served s({}, echo_handler(calls));
  Client c(s.port());
  c.send("GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(c.response().starts_with("HTTP/1.1 200 "));
  s.stop();
  CHECK(c.closed_within(2000ms));
  std::this_thread::sleep_for(50ms);
  Client late(s.port());
  CHECK_FALSE(late.connected());
}

TEST_CASE("admin server with the route table, driven by curl", "[admin-http]") {
  AdminView view;
  ClusterView cluster;
  cluster.name = "main";
  cluster.primary = "a";
  cluster.epoch = 7;
  cluster.nodes.push_back({"a", "10.0.0.1", 5432, baton::health::NodeRole::kPrimary, baton::health::NodeHealth::kUp});
  cluster.nodes.push_back({"b", "10.0.0.2", 5432, baton::health::NodeRole::kStandby, baton::health::NodeHealth::kUp});
  view.clusters.push_back(cluster);
  const AdminSettings settings{"tok"};
  Served s({}, [&](HttpRequest r) { return routed(std::move(r), &view, &settings); });
  const std::string base = "http://127.0.0.1:" + std::to_string(s.port());

  const auto clusters = baton::test::run("curl -sS --max-time 5 " + base + "/api/v1/clusters", 10s);
  REQUIRE(clusters.exit_code == 0);
  const boost::json::value v = boost::json::parse(clusters.output);
  CHECK(v.at("clusters").at(0).at("name").as_string() == "main");
  CHECK(v.at("clusters").at(0).at("epoch").to_number<int>() == 7);
  CHECK(v.at("clusters").at(0).at("nodes").at(1).at("role").as_string() == "standby");

  const auto unauth = baton::test::run(
      "curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -X POST " + base + "/api/v1/reload", 10s);
  CHECK(unauth.output == "401");
  const auto sw = baton::test::run("curl -sS --max-time 5 -w ' %{http_code}' -X POST -H 'Authorization: Bearer tok' "
                                   "-d '{\"target\":\"b\"}' " + base + "/api/v1/clusters/main/switchover", 10s);
  CHECK(sw.output ==
        "{\"command\":\"switchover\",\"result\":\"accepted\",\"message\":\"queued\",\"cluster\":\"main\",\"node\":\"b\"}\n"
        " 202");
  const auto page = baton::test::run("curl -sS --max-time 5 -i " + base + "/", 10s);
  CHECK(page.output.find("Content-Type: text/html; charset=utf-8") != std::string::npos);
  CHECK(page.output.find("<title>baton status</title>") != std::string::npos);
}

TEST_CASE("admin server over TLS: curl and a TLS client get the answers, keep-alive included", "[admin-http]") {
  std::atomic<int> calls{0};
  const auto tls = server_tls();
  HttpServerOptions o;
  o.tls = tls.get();
  Served s(o, echo_handler(calls));
  const std::string port = std::to_string(s.port());

  // curl verifies the chain against the test CA and the name "localhost".
  const auto r = baton::test::run("curl -sS --max-time 5 --cacert " + baton::test::shell_quote(cert_dir() + "/ca.crt") +
                                      " --resolve localhost:" + port + ":127.0.0.1 -w ' %{http_code} %{ssl_verify_result}'" +
                                      " -H 'Authorization: Bearer t' -d 'over tls' https://localhost:" + port + "/secure",
                                  15s);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output == "POST /secure auth=Bearer t body=over tls 200 0");
  // Plain HTTP to the TLS port is no HTTP exchange for curl.
  const auto plain = baton::test::run("curl -sS --max-time 5 http://127.0.0.1:" + port + "/plain", 15s);
  CHECK(plain.exit_code != 0);

  TlsClient c(s.port());
  REQUIRE(c.connected());
  REQUIRE(c.handshake() == "");
  c.send("GET /one HTTP/1.1\r\nHost: t\r\n\r\n");
  const std::string r1 = c.response();
  CHECK(r1.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(has_header(r1, "X-Test: yes"));
  CHECK(body_of(r1) == "GET /one auth= body=");
  c.send("GET /p1 HTTP/1.1\r\nHost: t\r\n\r\nGET /p2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  CHECK(body_of(c.response()) == "GET /p1 auth= body=");
  const std::string last = c.response();
  CHECK(body_of(last) == "GET /p2 auth= body=");
  CHECK(has_header(last, "Connection: close"));
  CHECK(c.closed_within(3000ms));
  CHECK(c.got_close_notify());  // the server shut TLS down, not just the socket
  CHECK(calls.load() == 4);
}

TEST_CASE("admin server over TLS: plain HTTP or a stalled handshake is closed; the next TLS client is served",
          "[admin-http]") {
  std::atomic<int> calls{0};
  const auto tls = server_tls();
  HttpServerOptions o;
  o.tls = tls.get();
  o.read_timeout = 300ms;
  Served s(o, echo_handler(calls));
  {
    Client plain(s.port());
    REQUIRE(plain.connected());
    plain.send("GET /plain HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(plain.closed_within(3000ms));
    CHECK(plain.unread().find("HTTP/") == std::string::npos);  // no HTTP answer in clear text
  }
  {
    Client silent(s.port());  // connects and never starts the handshake
    const auto start = Clock::now();
    CHECK(silent.closed_within(3000ms));
    CHECK(Clock::now() - start >= 250ms);
  }
  CHECK(calls.load() == 0);
  TlsClient c(s.port());
  REQUIRE(c.handshake() == "");
  c.send("GET /after HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(body_of(c.response()) == "GET /after auth= body=");
  CHECK(calls.load() == 1);
}

TEST_CASE("admin server over TLS: limits hold (413, 503 past max_connections)", "[admin-http]") {
  std::atomic<int> calls{0};
  const auto tls = server_tls();
  HttpServerOptions o;
  o.tls = tls.get();
  o.max_connections = 1;
  Served s(o, echo_handler(calls));
  SECTION("a body past the limit gets 413, then the connection is closed") {
    TlsClient a(s.port());
    REQUIRE(a.handshake() == "");
    a.send("POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 65537\r\n\r\n");
    const std::string big = a.response();
    CHECK(big.starts_with("HTTP/1.1 413 "));
    CHECK(body_of(big) == "{\"error\":\"request body larger than 65536 bytes\"}\n");
    CHECK(a.closed_within(3000ms));
    CHECK(calls.load() == 0);
  }
  SECTION("a connection past max_connections gets 503 over TLS") {
    TlsClient b(s.port());
    REQUIRE(b.handshake() == "");
    b.send("GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(b.response().starts_with("HTTP/1.1 200 "));
    TlsClient third(s.port());
    REQUIRE(third.handshake() == "");
    CHECK(third.response().starts_with("HTTP/1.1 503 "));
    CHECK(third.closed_within(3000ms));
    CHECK(calls.load() == 1);
  }
}

TEST_CASE("admin server over TLS: stop closes open TLS connections and the listener", "[admin-http]") {
  std::atomic<int> calls{0};
  const auto tls = server_tls();
  HttpServerOptions o;
  o.tls = tls.get();
  Served s(o, echo_handler(calls));
  TlsClient c(s.port());
  REQUIRE(c.handshake() == "");
  c.send("GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(c.response().starts_with("HTTP/1.1 200 "));
  Client handshaking(s.port());  // connected, handshake not begun
  REQUIRE(handshaking.connected());
  std::this_thread::sleep_for(50ms);
  const auto start = Clock::now();
  s.stop();
  CHECK(c.closed_within(2000ms));
  CHECK(handshaking.closed_within(2000ms));
  CHECK(Clock::now() - start < 1500ms);
  std::this_thread::sleep_for(50ms);
  Client late(s.port());
  CHECK_FALSE(late.connected());
}
