// Carrying out the failover machine's actions on PostgreSQL nodes; each returns the outcome events for the machine.
//
// Every statement runs on a fresh monitor connection with its own deadline (statement_timeout), except
// where a longer bound is named. What each does:
//   wait_replay   poll pg_last_wal_replay_lsn() until it reaches `lsn`, until `deadline`
//                 -> nothing, or PromoteFailed{node} (the caller then skips that node's PromoteNode)
//   promote       promote_command (env BATON_NODE_NAME/HOST/PORT, bounded by the deadline) or
//                 pg_promote(wait => true); then pg_is_in_recovery() must be false; the new timeline
//                 from the WAL file name -> PromoteSucceeded{node, timeline} / PromoteFailed
//   repoint       primary_conninfo and primary_slot_name of the standby; host/port replaced by the new
//                 primary's (everything else kept); the slot created on the new primary when missing;
//                 ALTER SYSTEM SET primary_conninfo + pg_reload_conf() -> RepointDone / RepointFailed
//   make_read_only  ALTER SYSTEM SET default_transaction_read_only = on + reload; then terminates the
//                 client backends that have written in their open transaction or sit idle in one;
//                 CHECKPOINT; pg_current_wal_flush_lsn() -> ReadOnlyDone{node, final_lsn} / ReadOnlyFailed
//   make_writable ALTER SYSTEM RESET default_transaction_read_only + reload -> (no event)
//   fence         fence_command if configured, and read-only as above if the node answers -> FenceDone
#pragma once

#include <string>
#include <vector>

#include "health/actions.hpp"
#include "health/command_env.hpp"
#include "health/events.hpp"
#include "health/probes/asio.hpp"
#include "health/probes/pg_conn.hpp"
#include "health/topology.hpp"

namespace baton::health {

struct ActuatorOptions {
  PgConnParams conn;
  Duration statement_timeout{5000};  // one statement (connect included), and the fence command
  std::string promote_command;       // "" = pg_promote()
  std::string fence_command;         // "" = none
};

struct ActionOutcome {
  std::vector<Event> events;  // for the failover machine
  bool ok = true;
  std::string detail;  // what happened, for the monitor's event log
};

class PgActuator {
 public:
  PgActuator(asio::any_io_executor executor, std::vector<NodeSpec> nodes, ActuatorOptions options);

  awaitable<ActionOutcome> wait_replay(NodeId node, Lsn lsn, TimePoint deadline);
  awaitable<ActionOutcome> promote(NodeId node, TimePoint deadline);
  awaitable<ActionOutcome> repoint(NodeId standby, NodeId new_primary);
  awaitable<ActionOutcome> make_read_only(NodeId node);
  awaitable<ActionOutcome> make_writable(NodeId node);
  awaitable<ActionOutcome> fence(NodeId node);

  // Ends every action under way (they fail at once) and every later one.
  void cancel();

 private:
  class Session;  // a connection to one node, registered so that cancel() reaches it
  awaitable<std::optional<std::uint32_t>> primary_timeline(Session& s, TimePoint deadline, std::string& error);
  TimePoint statement_deadline() const;
  std::vector<EnvVar> hook_env(NodeId node, const char* action) const;

  asio::any_io_executor executor_;
  std::vector<NodeSpec> nodes_;
  ActuatorOptions options_;
  std::vector<PgConn*> live_;  // connections of actions under way
  bool cancelled_ = false;
};

}  // namespace baton::health
