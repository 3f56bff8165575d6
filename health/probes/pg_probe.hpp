// The health probe of one PostgreSQL node: one query, one round trip, on a connection kept between probes.
#pragma once

#include <string>

#include "health/events.hpp"
#include "health/probes/asio.hpp"
#include "health/probes/pg_conn.hpp"
#include "health/topology.hpp"

namespace baton::health {

class PgProbe {
 public:
  PgProbe(asio::any_io_executor executor, NodeId node, NodeSpec spec, PgConnParams params);

  // Probes the node; completes by `deadline` whatever the node does. Reuses the open connection and
  // reconnects after any failure. The result's `at` is the time the probe ended.
  awaitable<ProbeResult> probe(TimePoint deadline);

  // Why the latest probe failed ("" after a good one).
  const std::string& last_error() const { return last_error_; }
  // Ends a probe under way (it reports kTimeout) and every later one at once.
  void cancel() { conn_.cancel(); }

 private:
  NodeId node_;
  NodeSpec spec_;
  PgConnParams params_;
  PgConn conn_;
  std::string last_error_;
};

}  // namespace baton::health
