// The health monitor of one cluster on the control-plane thread: probes, the failover machine, its actions.
//
// What it does, in order of events:
//   - constructor: reads the state file (decode_state); a file that exists but does not decode throws
//     std::runtime_error naming the file, the line and the problem. Builds the FailoverMachine.
//   - start(): one probe loop per node (PgProbe, each probe bounded by probe_timeout; a slow node never
//     delays the others) and one tick loop. Interval: probe_interval, or suspect_interval while the
//     cluster is not healthy (a node suspect, a failover or switchover under way, no primary);
//     probe_soon() cuts a node's wait short.
//   - every ProbeResult, Tick, admin command and action outcome goes to the machine; the actions it
//     returns are queued and run one at a time in order (a batch arriving while another runs waits
//     behind it). RecordState writes the state file atomically (tmp + fsync + rename + fsync of the
//     directory) before the PublishTopology that follows it runs. Exceptions to "one at a time":
//     RepointStandby and FenceNode start in order but run alongside the queue (their outcomes come back
//     as events), so a hung standby or a dead old primary never delays the publication of the new
//     primary. After a failed WaitReplay, PromoteFailed is reported and that node's PromoteNode skipped.
//   - every action, every change of a node's health or role and every change of the machine's state
//     becomes a MonitorEvent (on_event callback, and the last 256 in recent_events()).
//   - failover duration: from the start of the failover (the primary's first failed probe that led to it,
//     or the switchover command) to the publication of the topology naming the new primary.
// All public functions must be called on the control-plane thread. Callbacks are never called after
// stop(); stop() cancels probes, timers and actions under way, and the object may be destroyed right
// after (coroutines still pending keep only the monitor's internal state alive, and end on their own).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "health/events.hpp"
#include "health/failover_machine.hpp"
#include "health/probes/asio.hpp"
#include "health/probes/pg_conn.hpp"
#include "health/topology.hpp"

namespace baton::health {

struct MonitorOptions {
  FailoverConfig failover;
  Duration probe_interval{1000};    // healthy
  Duration suspect_interval{200};   // while the cluster is not healthy
  Duration probe_timeout{1000};     // hard deadline of one probe
  Duration statement_timeout{5000};  // each statement of an action, and fence_command
  std::string state_file;           // "" = fencing state kept in memory only
  std::string promote_command;      // "" = pg_promote()
  std::string fence_command;        // "" = none
  PgConnParams monitor;             // user, password, database, TLS (host and port come from NodeSpec)
};

struct MonitorEvent {
  std::chrono::system_clock::time_point at;
  std::string cluster;
  // node_up, node_down, node_suspect, node_fenced, node_drained, role, state, probe_failed, probe_ok,
  // failover_started, failover_finished, pause_writes, resume_writes, record_state, publish,
  // wait_replay, promote, repoint, fence, read_only, writable, alert, error
  std::string kind;
  std::string node;  // "" when not about one node
  std::string text;
};

struct MonitorCallbacks {
  std::function<void(TopologyPtr)> publish;             // a new snapshot for the workers
  std::function<awaitable<void>()> pause_writes;        // completes when in-flight writes are done
  std::function<void()> resume_writes;
  std::function<void(const MonitorEvent&)> on_event;
  // Every probe's result as it arrives (optional): WAL positions move with every probe, while the
  // topology is published only when something else changes.
  std::function<void(const ProbeResult&)> on_probe;
};

class ClusterMonitor {
 public:
  ClusterMonitor(asio::io_context& control, std::string cluster, std::vector<NodeSpec> nodes, MonitorOptions options,
                 MonitorCallbacks callbacks);
  ~ClusterMonitor();  // stop()
  ClusterMonitor(const ClusterMonitor&) = delete;
  ClusterMonitor& operator=(const ClusterMonitor&) = delete;

  void start();
  void stop();
  // Admin commands (Switchover, DrainNode, EnableNode, ReAddNode); any Event is accepted.
  void command(Event e);
  // Someone else saw trouble with `node` (the proxy lost a server connection to it or could not
  // open one): its next probe starts now instead of at the end of its interval, once however often
  // this is asked while it waits. Its result counts as any probe's (no failure is assumed). Not
  // after a failed probe: the probes that confirm a failure keep their suspect_interval pace.
  void probe_soon(NodeId node);

  TopologyPtr topology() const;  // the latest published snapshot
  FailoverState state() const;
  std::vector<MonitorEvent> recent_events() const;  // oldest first, at most 256
  std::uint64_t failovers() const;                  // failovers and switchovers completed
  double last_failover_seconds() const;             // 0 before the first

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace baton::health
