// The failover state machine of one cluster: events in, actions out, time passed in with the events.
//
// States: starting (until every node has answered once, or down_after passed) -> healthy ->
// primary_suspect -> failing_over -> healthy (new epoch); a planned switchover goes healthy ->
// switching_over -> healthy; no_primary means no writable primary (the cluster is read-only): the
// primary is confirmed down and no failover happened (manual or follow mode, the standbys say only our
// path to it is broken, or no standby is eligible), or which node is primary is not known.
//
// Time: ProbeResult::at and Tick::now advance the machine's clock; commands and action outcomes are
// taken to happen at the latest time seen, so the caller should tick regularly (the monitor's probe
// interval is enough).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "health/actions.hpp"
#include "health/election.hpp"
#include "health/events.hpp"
#include "health/state_file.hpp"
#include "health/topology.hpp"

namespace baton::health {

// auto: fail over by itself; manual: only report, switch over on command; follow: never act, take as
// primary the node that reports itself primary on the highest timeline (Patroni and the like).
enum class FailoverMode { kAuto, kManual, kFollow };
enum class FailoverState { kStarting, kHealthy, kPrimarySuspect, kFailingOver, kSwitchingOver, kNoPrimary };

std::string_view to_string(FailoverMode m);
std::string_view to_string(FailoverState s);

struct FailoverConfig {
  FailoverMode mode = FailoverMode::kAuto;
  Duration down_after{10000};          // a suspect primary is down after this long...
  int failures_before_down = 3;        // ...or after this many consecutive failed probes
  int successes_before_up = 2;         // a standby that was down comes back after this many good probes
  std::uint64_t max_failover_lag = 16u << 20;  // bytes of WAL a candidate may miss
  Duration promote_timeout{30000};     // WaitReplay plus PromoteNode of one candidate
  Duration switchover_timeout{30000};  // a whole planned switchover
};

class FailoverMachine {
 public:
  // `recorded` is the decoded state file, when there is one: its epoch, fenced nodes and primary win
  // over what the nodes claim at start. Unknown names in it are ignored.
  FailoverMachine(FailoverConfig config, const std::vector<NodeSpec>& nodes,
                  const std::optional<StateRecord>& recorded, TimePoint now);

  std::vector<Action> on_event(const Event& event);

  FailoverState state() const { return state_; }
  // The latest published snapshot (the working copy becomes visible only through PublishTopology).
  const TopologyPtr& topology() const { return published_; }

 private:
  struct Track {
    bool probed = false;      // reported at least once
    bool reachable = false;   // the latest probe succeeded
    bool ever_up = false;     // has been up since start (the first good probe brings a node up)
    bool auth_alerted = false;
    int failures = 0;         // consecutive failed probes
    int successes = 0;        // consecutive good probes
    ProbeResult last_ok;      // the latest good probe
  };
  enum class DownReason { kNone, kManual, kFollow, kPathBroken, kNoCandidate, kNoClaimant, kAmbiguous };
  enum class SwitchPhase { kNone, kReadOnly, kPromoting };

  void on(const ProbeResult& p);
  void on(const Tick& t);
  void on(const Switchover& c);
  void on(const DrainNode& c);
  void on(const EnableNode& c);
  void on(const ReAddNode& c);
  void on(const ReadOnlyDone& e);
  void on(const ReadOnlyFailed& e);
  void on(const PromoteSucceeded& e);
  void on(const PromoteFailed& e);
  void on(const RepointDone& e);
  void on(const RepointFailed& e);
  void on(const FenceDone& e);

  void resolve_start();
  std::vector<NodeId> sort_start_nodes();
  void choose_start_primary(const std::vector<NodeId>& claimants);
  void resolve_ambiguous();
  void adopt_primary(NodeId id);
  void probe_ok(const ProbeResult& p, bool was_reachable);
  void probe_failed(const ProbeResult& p);
  void standby_ok(NodeId id);
  void follow_primary();
  void check_confirm();
  void confirm_down();
  void try_failover();
  void enter_no_primary(DownReason reason, const std::string& text);
  void start_failover(const std::vector<NodeId>& candidates);
  void attempt(NodeId candidate, Lsn lsn);
  void promotion_failed(NodeId node, const std::string& reason);
  void complete_promotion(NodeId node, std::uint32_t timeline);
  void abort_switchover(const std::string& reason);
  void fence(NodeId node, const std::string& why);
  void record_state();

  std::vector<StandbyFacts> facts() const;
  std::vector<NodeId> elect(std::span<const NodeId> exclude) const;
  void refresh_lag();
  void note_primary_position(const ProbeResult& p);
  double lag_seconds(const ProbeResult& standby) const;
  std::vector<Action> finish();

  NodeState& node(NodeId id) { return work_.nodes[id]; }
  const std::string& name(NodeId id) const { return work_.nodes[id].name; }
  void set_health(NodeId id, NodeHealth h);
  void set_role(NodeId id, NodeRole r);
  void alert(std::string text) { out_.push_back(RaiseAlert{std::move(text)}); }
  bool acting() const { return config_.mode != FailoverMode::kFollow; }

  FailoverConfig config_;
  Topology work_;
  TopologyPtr published_;
  std::vector<Track> tracks_;
  std::vector<Action> out_;
  TimePoint now_;
  TimePoint started_;
  FailoverState state_ = FailoverState::kStarting;
  std::uint32_t timeline_ = 0;  // the current primary's timeline as recorded
  std::optional<NodeId> recorded_primary_;
  // The primary's WAL position over time, from its probes: one entry per new position, oldest
  // first, at most kPositionHistory. When the primary first had WAL a standby has not replayed
  // bounds that standby's lag in time (lag_seconds()).
  static constexpr std::size_t kPositionHistory = 512;
  std::deque<std::pair<TimePoint, Lsn>> positions_;
  std::optional<NodeId> positions_of_;  // the primary the history is of

  // primary_suspect / no_primary
  TimePoint suspect_since_{};
  DownReason down_reason_ = DownReason::kNone;
  // failing_over / switching_over
  std::optional<NodeId> attempt_;       // the node being promoted
  TimePoint attempt_deadline_{};
  std::vector<NodeId> tried_;           // candidates tried in this failover
  bool operator_choice_ = false;        // promotion forced by an admin command: no other is tried
  SwitchPhase switch_phase_ = SwitchPhase::kNone;
  NodeId switch_target_ = 0;
  TimePoint switch_deadline_{};
  std::vector<NodeId> needs_repoint_;   // re-pointing failed; retried at its next good probe
};

}  // namespace baton::health
