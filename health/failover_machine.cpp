// The failover state machine: suspect, confirm with the standbys as witnesses, elect, promote, fence.
#include "health/failover_machine.hpp"

#include <algorithm>

namespace baton::health {

namespace {

bool contains(const std::vector<NodeId>& v, NodeId id) { return std::find(v.begin(), v.end(), id) != v.end(); }

}  // namespace

std::string_view to_string(FailoverMode m) {
  switch (m) {
    case FailoverMode::kAuto: return "auto";
    case FailoverMode::kManual: return "manual";
    case FailoverMode::kFollow: return "follow";
  }
  return "?";
}

std::string_view to_string(FailoverState s) {
  switch (s) {
    case FailoverState::kStarting: return "starting";
    case FailoverState::kHealthy: return "healthy";
    case FailoverState::kPrimarySuspect: return "primary_suspect";
    case FailoverState::kFailingOver: return "failing_over";
    case FailoverState::kSwitchingOver: return "switching_over";
    case FailoverState::kNoPrimary: return "no_primary";
  }
  return "?";
}

FailoverMachine::FailoverMachine(FailoverConfig config, const std::vector<NodeSpec>& nodes,
                                 const std::optional<StateRecord>& recorded, TimePoint now)
    : config_(config),
      work_(make_topology(nodes, recorded ? recorded->epoch : 0)),
      tracks_(nodes.size()),
      now_(now),
      started_(now) {
  if (recorded) {
    timeline_ = recorded->timeline;
    if (!recorded->primary.empty()) recorded_primary_ = work_.find(recorded->primary);
    for (const std::string& f : recorded->fenced) {
      if (auto id = work_.find(f)) set_health(*id, NodeHealth::kFenced);
    }
    if (recorded_primary_ && node(*recorded_primary_).health == NodeHealth::kFenced) recorded_primary_.reset();
  }
  published_ = std::make_shared<const Topology>(work_);
}

std::vector<Action> FailoverMachine::on_event(const Event& event) {
  out_.clear();
  std::visit([this](const auto& e) { on(e); }, event);
  return finish();
}

// ---- probes ----

void FailoverMachine::on(const ProbeResult& p) {
  if (p.node >= tracks_.size()) return;
  now_ = std::max(now_, p.at);
  Track& t = tracks_[p.node];
  t.probed = true;
  if (p.status == ProbeStatus::kAuthError) {
    if (!t.auth_alerted) alert("probe of " + name(p.node) + " failed: authentication error (not counted as down)");
    t.auth_alerted = true;
    if (state_ == FailoverState::kStarting) resolve_start();
    return;
  }
  t.auth_alerted = false;
  const bool was_reachable = t.reachable;
  if (p.status == ProbeStatus::kOk) {
    t.reachable = true;
    t.failures = 0;
    ++t.successes;
    t.last_ok = p;
    node(p.node).timeline = p.timeline;
    if (!p.in_recovery && work_.primary == p.node) note_primary_position(p);
  } else {
    t.reachable = false;
    t.successes = 0;
    ++t.failures;
  }
  if (state_ == FailoverState::kStarting) {
    resolve_start();
  } else if (p.status == ProbeStatus::kOk) {
    probe_ok(p, was_reachable);
  } else {
    probe_failed(p);
  }
}

// Once every node has answered (or failed to, or the start deadline passed), decide who is primary.
void FailoverMachine::resolve_start() {
  for (const Track& t : tracks_) {
    if (!t.probed) return;
  }
  state_ = FailoverState::kHealthy;  // refined below
  const std::vector<NodeId> claimants = sort_start_nodes();
  if (config_.mode == FailoverMode::kFollow) {
    follow_primary();
    if (!work_.primary) enter_no_primary(DownReason::kNoClaimant, "no node claims primary");
    return;
  }
  choose_start_primary(claimants);
}

// Standbys up, fenced nodes (from the state file) kept fenced; returns the nodes claiming primary.
std::vector<NodeId> FailoverMachine::sort_start_nodes() {
  std::vector<NodeId> claimants;
  for (NodeId i = 0; i < tracks_.size(); ++i) {
    Track& t = tracks_[i];
    if (node(i).health == NodeHealth::kFenced) {
      if (t.reachable && !t.last_ok.in_recovery && acting()) {
        out_.push_back(FenceNode{i});
        alert(name(i) + " is fenced by the state file and claims primary; it stays fenced until re-added");
      }
      continue;
    }
    if (!t.reachable) continue;
    t.ever_up = true;
    if (t.last_ok.in_recovery) {
      set_role(i, NodeRole::kStandby);
      set_health(i, NodeHealth::kUp);
    } else {
      claimants.push_back(i);
    }
  }
  return claimants;
}

// The recorded primary wins; else the highest timeline not behind the recorded one. Losers are fenced.
void FailoverMachine::choose_start_primary(const std::vector<NodeId>& claimants) {
  std::optional<NodeId> chosen;
  bool tie = false;
  if (recorded_primary_ && contains(claimants, *recorded_primary_) &&
      node(*recorded_primary_).timeline >= timeline_) {
    chosen = recorded_primary_;
  } else {
    for (NodeId c : claimants) {
      const std::uint32_t tl = node(c).timeline;
      if (tl < timeline_) continue;
      if (!chosen || tl > node(*chosen).timeline) {
        chosen = c;
        tie = false;
      } else if (tl == node(*chosen).timeline) {
        tie = true;
      }
    }
  }
  if (tie) {
    std::string names;
    for (NodeId c : claimants) {
      if (node(c).timeline != node(*chosen).timeline) continue;
      names += (names.empty() ? "" : ", ") + name(c);
      set_role(c, NodeRole::kPrimary);
      set_health(c, NodeHealth::kDown);
    }
    enter_no_primary(DownReason::kAmbiguous, "several nodes claim primary on timeline " +
                                                 std::to_string(node(*chosen).timeline) + " (" + names +
                                                 "): no primary chosen until only one of them answers");
    return;
  }
  bool fenced_any = false;
  for (NodeId c : claimants) {
    if (c == chosen) continue;
    std::string why = "two primaries at start: " + name(c) + " (timeline " + std::to_string(node(c).timeline) + ")";
    why += chosen ? " loses to " + name(*chosen) + " (timeline " + std::to_string(node(*chosen).timeline) + ")"
                  : " is behind the recorded timeline " + std::to_string(timeline_);
    fence(c, why + "; fencing " + name(c));
    fenced_any = true;
  }
  if (chosen) {
    adopt_primary(*chosen);
  } else if (recorded_primary_ && !tracks_[*recorded_primary_].reachable) {
    // The recorded primary did not answer: treat it as a suspect primary.
    work_.primary = recorded_primary_;
    set_role(*recorded_primary_, NodeRole::kPrimary);
    set_health(*recorded_primary_, NodeHealth::kSuspect);
    state_ = FailoverState::kPrimarySuspect;
    suspect_since_ = now_;
  } else {
    enter_no_primary(DownReason::kNoClaimant, "no node claims primary");
  }
  if (fenced_any) record_state();
  if (state_ == FailoverState::kPrimarySuspect) check_confirm();
}

// Several nodes claimed primary on the same timeline: wait until exactly one of them answers.
void FailoverMachine::resolve_ambiguous() {
  std::optional<NodeId> only;
  for (NodeId i = 0; i < tracks_.size(); ++i) {
    const Track& t = tracks_[i];
    if (!t.reachable || t.last_ok.in_recovery || node(i).health == NodeHealth::kFenced) continue;
    if (only) return;
    only = i;
  }
  if (only) adopt_primary(*only);
}

// A node that claims primary becomes the primary without a promotion (at start, or when none was known).
void FailoverMachine::adopt_primary(NodeId id) {
  work_.primary = id;
  set_role(id, NodeRole::kPrimary);
  set_health(id, NodeHealth::kUp);
  timeline_ = node(id).timeline;
  state_ = FailoverState::kHealthy;
  down_reason_ = DownReason::kNone;
}

void FailoverMachine::probe_ok(const ProbeResult& p, bool was_reachable) {
  const NodeId id = p.node;
  if (node(id).health == NodeHealth::kFenced && acting()) {
    if (!p.in_recovery && !was_reachable) {
      out_.push_back(FenceNode{id});
      alert(name(id) + " is reachable again and claims primary; it stays fenced until re-added");
    }
    return;
  }
  if (config_.mode == FailoverMode::kFollow) {
    if (p.in_recovery) standby_ok(id);
    follow_primary();
    return;
  }
  if (work_.primary == id) {
    if (state_ == FailoverState::kPrimarySuspect || state_ == FailoverState::kNoPrimary) {
      set_health(id, NodeHealth::kUp);
      state_ = FailoverState::kHealthy;
      down_reason_ = DownReason::kNone;
      tried_.clear();
    }
    return;
  }
  if (!p.in_recovery) {
    if (attempt_ == id) return;  // being promoted: its outcome decides
    if (!work_.primary) {
      if (down_reason_ == DownReason::kAmbiguous) {
        resolve_ambiguous();
      } else {
        adopt_primary(id);
      }
      return;
    }
    std::string primary_name = work_.primary ? name(*work_.primary) : std::string("undecided");
    fence(id, name(id) + " claims primary (timeline " + std::to_string(p.timeline) + ") but the primary is " +
                  primary_name + "; fencing " + name(id));
    record_state();
    return;
  }
  standby_ok(id);
}

void FailoverMachine::standby_ok(NodeId id) {
  Track& t = tracks_[id];
  set_role(id, NodeRole::kStandby);
  if (node(id).health == NodeHealth::kFenced) {  // follow mode: a former claimant, now in recovery
    set_health(id, NodeHealth::kDown);
    t.successes = 1;
  }
  if (node(id).health == NodeHealth::kDown && (!t.ever_up || t.successes >= config_.successes_before_up)) {
    set_health(id, NodeHealth::kUp);
    t.ever_up = true;
  }
  if (work_.primary && contains(needs_repoint_, id)) {
    out_.push_back(RepointStandby{id, *work_.primary});
    std::erase(needs_repoint_, id);
  }
}

void FailoverMachine::probe_failed(const ProbeResult& p) {
  const NodeId id = p.node;
  if (work_.primary == id && node(id).health != NodeHealth::kFenced) {
    if (state_ == FailoverState::kHealthy) {
      state_ = FailoverState::kPrimarySuspect;
      suspect_since_ = now_;
      set_health(id, NodeHealth::kSuspect);
      check_confirm();
    } else if (state_ == FailoverState::kPrimarySuspect) {
      check_confirm();
    }
    return;
  }
  if (node(id).health == NodeHealth::kUp) set_health(id, NodeHealth::kDown);
  if (!work_.primary && down_reason_ == DownReason::kAmbiguous && acting()) resolve_ambiguous();
}

// Follow mode: the primary is the reachable node reporting itself primary on the highest timeline.
void FailoverMachine::follow_primary() {
  std::optional<NodeId> best;
  bool tie = false;
  for (NodeId i = 0; i < tracks_.size(); ++i) {
    const Track& t = tracks_[i];
    if (!t.reachable || t.last_ok.in_recovery) continue;
    std::uint32_t tl = t.last_ok.timeline;
    if (!best || tl > tracks_[*best].last_ok.timeline) {
      best = i;
      tie = false;
    } else if (tl == tracks_[*best].last_ok.timeline) {
      tie = true;
    }
  }
  if (best && work_.primary && *best != *work_.primary) {
    // Switch only to a strictly newer timeline: equal timelines on two nodes are ambiguous.
    if (tie || tracks_[*best].last_ok.timeline <= timeline_) best = work_.primary;
  } else if (tie && !work_.primary) {
    best.reset();
  }
  for (NodeId i = 0; i < tracks_.size(); ++i) {
    const Track& t = tracks_[i];
    if (i == best || !t.reachable || t.last_ok.in_recovery) continue;
    if (node(i).health != NodeHealth::kFenced) {
      set_role(i, NodeRole::kPrimary);
      set_health(i, NodeHealth::kFenced);
      alert(name(i) + " claims primary on timeline " + std::to_string(t.last_ok.timeline) + " but is not the " +
            "newest primary; no traffic to it");
    }
  }
  if (!best || !tracks_[*best].reachable) return;
  if (best != work_.primary) {
    if (work_.primary) {
      work_.epoch += 1;
      NodeId old = *work_.primary;
      if (node(old).health != NodeHealth::kFenced) {
        set_role(old, NodeRole::kUnknown);
        set_health(old, NodeHealth::kDown);
      }
    }
    work_.primary = best;
  }
  set_role(*best, NodeRole::kPrimary);
  set_health(*best, NodeHealth::kUp);
  timeline_ = tracks_[*best].last_ok.timeline;
  state_ = FailoverState::kHealthy;
  down_reason_ = DownReason::kNone;
}

// ---- confirming and failing over ----

void FailoverMachine::on(const Tick& t) {
  now_ = std::max(now_, t.now);
  switch (state_) {
    case FailoverState::kStarting:
      if (now_ - started_ >= config_.down_after) {  // nodes that never answered count as failed
        for (Track& track : tracks_) track.probed = true;
        resolve_start();
      }
      break;
    case FailoverState::kPrimarySuspect:
      check_confirm();
      break;
    case FailoverState::kFailingOver:
      if (attempt_ && now_ >= attempt_deadline_) promotion_failed(*attempt_, "timed out");
      break;
    case FailoverState::kSwitchingOver:
      if (now_ >= switch_deadline_) abort_switchover("timed out");
      break;
    case FailoverState::kNoPrimary:
      if (config_.mode == FailoverMode::kAuto && work_.primary &&
          (down_reason_ == DownReason::kPathBroken || down_reason_ == DownReason::kNoCandidate)) {
        try_failover();
      }
      break;
    default:
      break;
  }
}

void FailoverMachine::check_confirm() {
  const Track& t = tracks_[*work_.primary];
  if (t.failures >= config_.failures_before_down || now_ - suspect_since_ >= config_.down_after) confirm_down();
}

void FailoverMachine::confirm_down() {
  const NodeId p = *work_.primary;
  set_health(p, NodeHealth::kDown);
  switch (config_.mode) {
    case FailoverMode::kManual:
      enter_no_primary(DownReason::kManual, "primary " + name(p) + " is down; manual mode: no automatic failover");
      break;
    case FailoverMode::kFollow:
      enter_no_primary(DownReason::kFollow,
                       "primary " + name(p) + " is down; follow mode: waiting for a node to report itself primary");
      break;
    case FailoverMode::kAuto:
      try_failover();
      break;
  }
}

void FailoverMachine::try_failover() {
  const NodeId p = *work_.primary;
  const std::vector<StandbyFacts> fs = facts();
  const WitnessCount w = count_witnesses(work_, fs, p);
  if (w.primary_alive()) {
    enter_no_primary(DownReason::kPathBroken, "proxy path to primary " + name(p) + " broken: " +
                                                  std::to_string(w.streaming_from_primary) + " of " +
                                                  std::to_string(w.reachable) +
                                                  " reachable standbys still stream from it; no failover");
    return;
  }
  const std::vector<NodeId> candidates = elect(tried_);
  if (candidates.empty()) {
    enter_no_primary(DownReason::kNoCandidate, "primary " + name(p) +
                                                   " is down and no standby is eligible for promotion; "
                                                   "cluster is read-only");
    return;
  }
  start_failover(candidates);
}

void FailoverMachine::enter_no_primary(DownReason reason, const std::string& text) {
  state_ = FailoverState::kNoPrimary;
  if (reason != down_reason_) alert(text);
  down_reason_ = reason;
}

void FailoverMachine::start_failover(const std::vector<NodeId>& candidates) {
  state_ = FailoverState::kFailingOver;
  out_.push_back(PauseWrites{});
  attempt(candidates.front(), tracks_[candidates.front()].last_ok.receive_lsn);
}

void FailoverMachine::attempt(NodeId candidate, Lsn lsn) {
  attempt_ = candidate;
  tried_.push_back(candidate);
  attempt_deadline_ = now_ + config_.promote_timeout;
  out_.push_back(WaitReplay{candidate, lsn});
  out_.push_back(PromoteNode{candidate, work_.epoch + 1});
}

void FailoverMachine::promotion_failed(NodeId failed, const std::string& reason) {
  if (attempt_ != failed) return;
  if (state_ == FailoverState::kSwitchingOver) {
    abort_switchover("promotion of " + name(failed) + " failed: " + reason);
    return;
  }
  if (state_ != FailoverState::kFailingOver) return;
  attempt_.reset();
  const std::string head = "promotion of " + name(failed) + " failed (" + reason + "); ";
  if (!operator_choice_) {
    const std::vector<NodeId> next = elect(tried_);
    if (!next.empty()) {
      alert(head + "trying " + name(next.front()));
      attempt(next.front(), tracks_[next.front()].last_ok.receive_lsn);
      return;
    }
  }
  alert(head + (operator_choice_ ? "" : "no other standby is eligible; ") + "cluster is read-only");
  operator_choice_ = false;
  out_.push_back(ResumeWrites{});
  state_ = FailoverState::kNoPrimary;
  down_reason_ = DownReason::kNoCandidate;
}

void FailoverMachine::on(const PromoteFailed& e) { promotion_failed(e.node, e.reason); }

void FailoverMachine::on(const PromoteSucceeded& e) {
  if (e.node >= tracks_.size() || work_.primary == e.node) return;
  const bool expected = attempt_ == e.node && (state_ == FailoverState::kFailingOver ||
                                               (state_ == FailoverState::kSwitchingOver &&
                                                switch_phase_ == SwitchPhase::kPromoting));
  if (expected) {
    complete_promotion(e.node, e.timeline);
    return;
  }
  if (!acting() || node(e.node).health == NodeHealth::kFenced) return;
  fence(e.node, "promotion of " + name(e.node) + " succeeded after it was abandoned; fencing " + name(e.node));
  record_state();
}

void FailoverMachine::complete_promotion(NodeId promoted, std::uint32_t timeline) {
  const std::optional<NodeId> old = work_.primary;
  timeline_ = timeline != 0 ? timeline : node(promoted).timeline + 1;
  work_.epoch += 1;
  work_.primary = promoted;
  set_role(promoted, NodeRole::kPrimary);
  set_health(promoted, NodeHealth::kUp);
  node(promoted).timeline = timeline_;
  for (NodeId i = 0; i < work_.nodes.size(); ++i) {
    if (i == promoted || i == old || node(i).health == NodeHealth::kFenced) continue;
    out_.push_back(RepointStandby{i, promoted});
  }
  if (old) {
    set_role(*old, NodeRole::kUnknown);
    set_health(*old, NodeHealth::kFenced);
    out_.push_back(FenceNode{*old});
  }
  record_state();
  out_.push_back(ResumeWrites{});
  state_ = FailoverState::kHealthy;
  attempt_.reset();
  operator_choice_ = false;
  tried_.clear();
  needs_repoint_.clear();
  down_reason_ = DownReason::kNone;
  switch_phase_ = SwitchPhase::kNone;
}

// ---- admin commands and the planned switchover ----

void FailoverMachine::on(const Switchover& c) {
  if (!acting()) {
    alert("switchover refused: follow mode");
    return;
  }
  if (c.target && *c.target >= tracks_.size()) {
    alert("switchover refused: unknown node");
    return;
  }
  const bool forced = state_ == FailoverState::kNoPrimary;
  if (forced && down_reason_ == DownReason::kAmbiguous) {
    alert("switchover refused: several nodes claim primary; stop all but one");
    return;
  }
  if (state_ != FailoverState::kHealthy && !forced) {
    alert("switchover refused: cluster is " + std::string(to_string(state_)));
    return;
  }
  const std::vector<NodeId> eligible = elect({});
  std::optional<NodeId> target;
  if (c.target) {
    if (contains(eligible, *c.target)) target = c.target;
  } else if (!eligible.empty()) {
    target = eligible.front();
  }
  if (!target) {
    alert(c.target ? "switchover refused: " + name(*c.target) + " is not an eligible standby"
                   : std::string("switchover refused: no eligible standby"));
    return;
  }
  if (forced) {  // no usable primary: promote the target directly, and only it
    tried_.clear();
    operator_choice_ = true;
    start_failover({*target});
    return;
  }
  state_ = FailoverState::kSwitchingOver;
  switch_phase_ = SwitchPhase::kReadOnly;
  switch_target_ = *target;
  switch_deadline_ = now_ + config_.switchover_timeout;
  out_.push_back(PauseWrites{});
  out_.push_back(MakeReadOnly{*work_.primary});
}

void FailoverMachine::on(const ReadOnlyDone& e) {
  if (state_ != FailoverState::kSwitchingOver || switch_phase_ != SwitchPhase::kReadOnly ||
      work_.primary != e.node) {
    return;
  }
  switch_phase_ = SwitchPhase::kPromoting;
  attempt_ = switch_target_;
  out_.push_back(WaitReplay{switch_target_, e.final_lsn});
  out_.push_back(PromoteNode{switch_target_, work_.epoch + 1});
}

void FailoverMachine::on(const ReadOnlyFailed& e) {
  if (state_ != FailoverState::kSwitchingOver || switch_phase_ != SwitchPhase::kReadOnly ||
      work_.primary != e.node) {
    return;
  }
  abort_switchover("making " + name(e.node) + " read-only failed: " + e.reason);
}

void FailoverMachine::abort_switchover(const std::string& reason) {
  const NodeId p = *work_.primary;
  out_.push_back(MakeWritable{p});
  out_.push_back(ResumeWrites{});
  alert("switchover from " + name(p) + " to " + name(switch_target_) + " aborted (" + reason +
        "); writes resumed on " + name(p));
  state_ = FailoverState::kHealthy;
  switch_phase_ = SwitchPhase::kNone;
  attempt_.reset();
}

void FailoverMachine::on(const DrainNode& c) {
  if (c.node >= tracks_.size()) return;
  if (work_.primary == c.node) {
    alert("drain refused: " + name(c.node) + " is the primary; switch over first");
    return;
  }
  if (node(c.node).health == NodeHealth::kFenced) {
    alert("drain refused: " + name(c.node) + " is fenced");
    return;
  }
  set_health(c.node, NodeHealth::kDrained);
}

void FailoverMachine::on(const EnableNode& c) {
  if (c.node >= tracks_.size() || node(c.node).health != NodeHealth::kDrained) return;
  set_health(c.node, tracks_[c.node].reachable ? NodeHealth::kUp : NodeHealth::kDown);
}

void FailoverMachine::on(const ReAddNode& c) {
  if (c.node >= tracks_.size()) return;
  if (node(c.node).health != NodeHealth::kFenced) {
    alert("re-add refused: " + name(c.node) + " is not fenced");
    return;
  }
  set_role(c.node, NodeRole::kUnknown);
  set_health(c.node, NodeHealth::kDown);
  tracks_[c.node].successes = 0;
  tracks_[c.node].ever_up = true;  // a rebuilt node earns its way back with good probes
  record_state();
}

void FailoverMachine::on(const RepointDone& e) { std::erase(needs_repoint_, e.node); }

void FailoverMachine::on(const RepointFailed& e) {
  if (e.node >= tracks_.size()) return;
  alert("re-pointing " + name(e.node) + " failed (" + e.reason + "); retrying at its next good probe");
  if (!contains(needs_repoint_, e.node)) needs_repoint_.push_back(e.node);
}

void FailoverMachine::on(const FenceDone&) {}

// ---- helpers ----

void FailoverMachine::fence(NodeId id, const std::string& why) {
  set_health(id, NodeHealth::kFenced);
  if (acting()) out_.push_back(FenceNode{id});
  alert(why);
}

void FailoverMachine::record_state() {
  if (!acting()) return;
  RecordState r;
  r.epoch = work_.epoch;
  r.timeline = timeline_;
  if (work_.primary) r.primary = name(*work_.primary);
  for (const NodeState& n : work_.nodes) {
    if (n.health == NodeHealth::kFenced) r.fenced.push_back(n.name);
  }
  out_.push_back(std::move(r));
}

std::vector<StandbyFacts> FailoverMachine::facts() const {
  std::vector<StandbyFacts> out;
  out.reserve(tracks_.size());
  for (NodeId i = 0; i < tracks_.size(); ++i) {
    const Track& t = tracks_[i];
    StandbyFacts f;
    f.node = i;
    f.reachable = t.reachable;
    f.in_recovery = t.last_ok.in_recovery;
    f.receive_lsn = t.last_ok.receive_lsn;
    if (t.last_ok.streaming_from) {
      f.streaming_from = work_.find_by_address(t.last_ok.streaming_from->host, t.last_ok.streaming_from->port);
    }
    out.push_back(f);
  }
  return out;
}

std::vector<NodeId> FailoverMachine::elect(std::span<const NodeId> exclude) const {
  ElectionRules rules;
  if (work_.primary) rules.reference_lsn = tracks_[*work_.primary].last_ok.current_lsn;
  rules.max_lag_bytes = config_.max_failover_lag;
  rules.exclude = exclude;
  const std::vector<StandbyFacts> fs = facts();
  return elect_standbys(work_, fs, rules);
}

void FailoverMachine::refresh_lag() {
  const Lsn primary_lsn = work_.primary ? tracks_[*work_.primary].last_ok.current_lsn : 0;
  for (NodeId i = 0; i < work_.nodes.size(); ++i) {
    NodeState& n = node(i);
    if (work_.primary == i || n.role != NodeRole::kStandby) {
      n.lag_bytes = 0;
      n.lag_seconds = 0;
      continue;
    }
    const ProbeResult& last = tracks_[i].last_ok;
    n.lag_bytes = primary_lsn > last.replay_lsn ? primary_lsn - last.replay_lsn : 0;
    n.lag_seconds = lag_seconds(last);
  }
}

void FailoverMachine::note_primary_position(const ProbeResult& p) {
  // Another primary, or a position that went back (a rebuilt node): a history of its own.
  if (positions_of_ != p.node || (!positions_.empty() && p.current_lsn < positions_.back().second)) {
    positions_.clear();
    positions_of_ = p.node;
  }
  if (!positions_.empty() && p.current_lsn == positions_.back().second) return;
  positions_.emplace_back(p.at, p.current_lsn);
  if (positions_.size() > kPositionHistory) positions_.pop_front();
}

double FailoverMachine::lag_seconds(const ProbeResult& standby) const {
  // The standby's own figure (now() - pg_last_xact_replay_timestamp() while it has WAL to replay)
  // is the age of the last transaction it replayed: after a quiet spell, a probe that lands between
  // the receipt of new WAL and its replay reads the whole quiet spell as lag. The primary's history
  // bounds it: WAL the standby had not replayed when probed appeared on the primary no earlier than
  // the first probe that saw the primary past the standby's replay position.
  const double reported = standby.replay_lag_seconds;
  if (positions_.empty() || positions_of_ != work_.primary) return reported;
  auto first_ahead = std::upper_bound(positions_.begin(), positions_.end(), standby.replay_lsn,
                                      [](Lsn lsn, const std::pair<TimePoint, Lsn>& e) { return lsn < e.second; });
  if (first_ahead == positions_.end()) return 0;  // replayed all the primary was seen to have
  const double bound = std::max(0.0, std::chrono::duration<double>(standby.at - first_ahead->first).count());
  return std::min(reported, bound);
}

std::vector<Action> FailoverMachine::finish() {
  refresh_lag();
  if (state_ != FailoverState::kStarting && work_ != *published_) {
    published_ = std::make_shared<const Topology>(work_);
    auto resume = std::find_if(out_.begin(), out_.end(),
                               [](const Action& a) { return std::holds_alternative<ResumeWrites>(a); });
    out_.insert(resume, PublishTopology{published_});
  }
  return std::move(out_);
}

void FailoverMachine::set_health(NodeId id, NodeHealth h) {
  NodeChange c;
  c.node = id;
  c.health = h;
  TopologyChange change;
  change.nodes.push_back(c);
  apply_change(work_, change);
}

void FailoverMachine::set_role(NodeId id, NodeRole r) {
  NodeChange c;
  c.node = id;
  c.role = r;
  TopologyChange change;
  change.nodes.push_back(c);
  apply_change(work_, change);
}

}  // namespace baton::health
