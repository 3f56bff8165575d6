// One libpq connection driven without blocking on the control plane: connect and query, each bounded by a deadline.
//
// libpq's non-blocking API (PQconnectStartParams/PQconnectPoll, PQsendQuery/PQconsumeInput/PQisBusy)
// with an asio::posix::stream_descriptor registered on PQsocket for each wait and released before libpq
// may close or replace the socket (Asio never closes libpq's fd). A hung server (TCP accepted, nothing
// answers) ends at the deadline; the connection is then closed, as after any failure.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "health/events.hpp"
#include "health/pg_text.hpp"
#include "health/probes/asio.hpp"
#include "health/topology.hpp"

namespace baton::health {

// How the monitor logs in (host and port come from each NodeSpec).
struct PgConnParams {
  std::string user;
  std::string password;
  std::string dbname = "postgres";
  std::string sslmode = "prefer";
  std::string sslrootcert, sslcert, sslkey;
  std::string application_name = "baton-monitor";
};

struct PgError {
  ProbeStatus status = ProbeStatus::kOther;  // kTimeout at the deadline (or after cancel())
  std::string sqlstate;                      // of a server error answering a query, else ""
  std::string message;
};

struct PgResult {
  std::optional<PgError> error;
  std::vector<TextRow> rows;  // every row of every result, as text (NULL: nullopt)
};

class PgConn {
 public:
  explicit PgConn(asio::any_io_executor executor);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  bool connected() const;
  // Connects (closing any previous connection). host: an IP address, a name (resolved without
  // blocking) or a unix socket directory.
  awaitable<std::optional<PgError>> connect(PgConnParams params, std::string host, std::uint16_t port,
                                            TimePoint deadline);
  // One query (simple protocol without params; extended with text params). On a timeout or a broken
  // connection the connection is closed; a server error leaves it open.
  awaitable<PgResult> query(std::string sql, std::vector<std::string> params, TimePoint deadline);
  void close();
  // Ends the wait under way (it reports kTimeout) and makes every later connect/query fail at once.
  void cancel();

 private:
  enum class Want { kRead, kWrite };
  awaitable<bool> wait(Want want);  // false: deadline passed or cancelled
  awaitable<std::optional<std::string>> resolve(std::string host, std::uint16_t port);
  PgError fail(ProbeStatus status, std::string message);

  asio::any_io_executor executor_;
  asio::steady_timer timer_;
  PGconn* conn_ = nullptr;
  TimePoint deadline_{};
  bool cancelled_ = false;
};

}  // namespace baton::health
