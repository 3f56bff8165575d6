// libpq's non-blocking connect and query, each wait a race between PQsocket readiness and the deadline.
#include "health/probes/pg_conn.hpp"

#include <openssl/ssl.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <memory>

namespace baton::health {

using namespace asio::experimental::awaitable_operators;

namespace {

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultFree>;

// Gives the fd back to libpq (never closed by Asio), however the wait ends.
struct Release {
  asio::posix::stream_descriptor& d;
  ~Release() {
    if (d.is_open()) d.release();
  }
};

std::string trimmed(const char* message) {
  std::string s = message != nullptr ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// OpenSSL may hold decrypted bytes libpq has not read yet; the socket will not signal them.
bool tls_bytes_pending(PGconn* conn) {
  if (PQsslInUse(conn) == 0) return false;
  auto* ssl = static_cast<SSL*>(PQsslStruct(conn, "OpenSSL"));
  return ssl != nullptr && SSL_pending(ssl) > 0;
}

}  // namespace

PgConn::PgConn(asio::any_io_executor executor) : executor_(executor), timer_(executor) {}

PgConn::~PgConn() { close(); }

bool PgConn::connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

void PgConn::close() {
  if (conn_ != nullptr) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
}

void PgConn::cancel() {
  cancelled_ = true;
  timer_.cancel();
}

PgError PgConn::fail(ProbeStatus status, std::string message) {
  PgError e;
  e.status = status;
  e.message = std::move(message);
  return e;
}

awaitable<bool> PgConn::wait(Want want) {
  if (cancelled_ || conn_ == nullptr || Clock::now() >= deadline_) co_return false;
  if (want == Want::kRead && tls_bytes_pending(conn_)) co_return true;
  const int fd = PQsocket(conn_);
  if (fd < 0) co_return false;
  // A fresh registration for every wait: libpq may have replaced the socket (PQconnectPoll moves to the
  // next address or retries without TLS), and a new epoll registration reports readiness that is
  // already there.
  asio::posix::stream_descriptor d(executor_);
  error_code ec;
  d.assign(fd, ec);
  if (ec) co_return false;
  Release guard{d};
  const auto type = want == Want::kRead ? asio::posix::descriptor_base::wait_read
                                        : asio::posix::descriptor_base::wait_write;
  timer_.expires_at(deadline_);
  auto which = co_await (d.async_wait(type, use_tuple) || timer_.async_wait(use_tuple));
  co_return which.index() == 0 && !cancelled_;
}

awaitable<std::optional<std::string>> PgConn::resolve(std::string host, std::uint16_t port) {
  asio::ip::tcp::resolver resolver(executor_);
  timer_.expires_at(deadline_);
  auto which = co_await (resolver.async_resolve(host, std::to_string(port), use_tuple) || timer_.async_wait(use_tuple));
  if (which.index() != 0 || cancelled_) co_return std::nullopt;
  auto& [ec, results] = std::get<0>(which);
  if (ec || results.empty()) co_return std::nullopt;
  co_return results.begin()->endpoint().address().to_string();
}

awaitable<std::optional<PgError>> PgConn::connect(PgConnParams p, std::string host, std::uint16_t port,
                                                  TimePoint deadline) {
  close();
  deadline_ = deadline;
  if (cancelled_) co_return fail(ProbeStatus::kTimeout, "cancelled");

  // libpq resolves a host name inside PQconnectStart (blocking): hand it the address instead.
  std::string hostaddr;
  if (!host.empty() && host.front() != '/') {
    error_code ec;
    asio::ip::make_address(host, ec);
    if (!ec) {
      hostaddr = host;
    } else {
      auto address = co_await resolve(host, port);
      if (!address) co_return fail(ProbeStatus::kOther, "could not resolve host " + host);
      hostaddr = *address;
    }
  }

  const std::string port_text = std::to_string(port);
  const std::string gss = "disable";
  std::vector<const char*> keys, values;
  auto add = [&](const char* key, const std::string& value) {
    if (value.empty()) return;
    keys.push_back(key);
    values.push_back(value.c_str());
  };
  add("host", host);
  add("hostaddr", hostaddr);
  add("port", port_text);
  add("user", p.user);
  add("password", p.password);
  add("dbname", p.dbname);
  add("sslmode", p.sslmode);
  add("sslrootcert", p.sslrootcert);
  add("sslcert", p.sslcert);
  add("sslkey", p.sslkey);
  add("application_name", p.application_name);
  add("gssencmode", gss);
  keys.push_back(nullptr);
  values.push_back(nullptr);

  conn_ = PQconnectStartParams(keys.data(), values.data(), 0);
  if (conn_ == nullptr) co_return fail(ProbeStatus::kOther, "libpq: out of memory");
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;  // as libpq's docs say, right after the start
  if (PQstatus(conn_) == CONNECTION_BAD) st = PGRES_POLLING_FAILED;
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) {
      std::string message = trimmed(PQerrorMessage(conn_));
      close();
      co_return fail(classify_connect_failure(message), message);
    }
    const Want want = st == PGRES_POLLING_READING ? Want::kRead : Want::kWrite;
    const bool ready = co_await wait(want);
    if (!ready) {
      close();
      co_return fail(ProbeStatus::kTimeout, cancelled_ ? "cancelled" : "connect did not finish by the deadline");
    }
    st = PQconnectPoll(conn_);
  }
  if (PQsetnonblocking(conn_, 1) != 0) {
    std::string message = trimmed(PQerrorMessage(conn_));
    close();
    co_return fail(ProbeStatus::kOther, message);
  }
  co_return std::nullopt;
}

awaitable<PgResult> PgConn::query(std::string sql, std::vector<std::string> params, TimePoint deadline) {
  PgResult out;
  deadline_ = deadline;
  if (cancelled_) {
    out.error = fail(ProbeStatus::kTimeout, "cancelled");
    co_return out;
  }
  if (!connected()) {
    out.error = fail(ProbeStatus::kOther, "not connected");
    co_return out;
  }
  int sent = 0;
  if (params.empty()) {
    sent = PQsendQuery(conn_, sql.c_str());
  } else {
    std::vector<const char*> values;
    for (const std::string& v : params) values.push_back(v.c_str());
    sent = PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                             nullptr, 0);
  }
  auto broken = [&] {
    out.error = fail(ProbeStatus::kOther, trimmed(PQerrorMessage(conn_)));
    close();
  };
  auto timed_out = [&] {
    out.error = fail(ProbeStatus::kTimeout, cancelled_ ? "cancelled" : "no answer by the deadline");
    close();
  };
  if (sent == 0) {
    broken();
    co_return out;
  }
  for (int f = PQflush(conn_); f != 0; f = PQflush(conn_)) {
    if (f < 0) {
      broken();
      co_return out;
    }
    if (!co_await wait(Want::kWrite)) {
      timed_out();
      co_return out;
    }
  }
  while (true) {
    while (PQisBusy(conn_) != 0) {
      if (!co_await wait(Want::kRead)) {
        timed_out();
        co_return out;
      }
      if (PQconsumeInput(conn_) == 0) {
        broken();
        co_return out;
      }
    }
    ResultPtr r(PQgetResult(conn_));
    if (!r) break;
    switch (PQresultStatus(r.get())) {
      case PGRES_TUPLES_OK:
      case PGRES_SINGLE_TUPLE:
        for (int row = 0; row < PQntuples(r.get()); ++row) {
          TextRow values;
          for (int col = 0; col < PQnfields(r.get()); ++col) {
            if (PQgetisnull(r.get(), row, col) != 0) {
              values.emplace_back(std::nullopt);
            } else {
              values.emplace_back(std::string(PQgetvalue(r.get(), row, col),
                                              static_cast<std::size_t>(PQgetlength(r.get(), row, col))));
            }
          }
          out.rows.push_back(std::move(values));
        }
        break;
      case PGRES_COMMAND_OK:
      case PGRES_EMPTY_QUERY:
        break;
      default:
        if (!out.error) {
          const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
          out.error = PgError{ProbeStatus::kOther, state != nullptr ? state : "", trimmed(PQresultErrorMessage(r.get()))};
        }
        break;
    }
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    if (!out.error) out.error = fail(ProbeStatus::kOther, trimmed(PQerrorMessage(conn_)));
    close();
  }
  co_return out;
}

}  // namespace baton::health
