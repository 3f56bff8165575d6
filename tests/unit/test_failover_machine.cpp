// Failover scenarios as tables of (time, event) -> (exact actions, state) on a fake clock.
#include <catch2/catch.hpp>

#include <chrono>
#include <sstream>

#include "health/failover_machine.hpp"

using namespace baton::health;
using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

namespace {

const TimePoint kT0 = TimePoint{} + std::chrono::hours(1);

FailoverConfig config(FailoverMode mode = FailoverMode::kAuto) {
  FailoverConfig c;
  c.mode = mode;
  c.down_after = 10s;
  c.failures_before_down = 3;
  c.successes_before_up = 2;
  c.max_failover_lag = 1000;
  c.promote_timeout = 5s;
  c.switchover_timeout = 5s;
  return c;
}

// a (node 0) is the primary at start; b (1) and c (2) are standbys.
std::vector<NodeSpec> nodes() {
  return {{.name = "a", .host = "10.0.0.1", .port = 5432, .weight = 1, .priority = 0, .no_promote = false},
          {.name = "b", .host = "10.0.0.2", .port = 5432, .weight = 1, .priority = 0, .no_promote = false},
          {.name = "c", .host = "10.0.0.3", .port = 5432, .weight = 1, .priority = 0, .no_promote = false}};
}

WalSender address_of(NodeId id) { return {.host = "10.0.0." + std::to_string(id + 1), .port = 5432}; }

// Probe results; the scenario runner stamps their time.
Event as_primary(NodeId id, std::uint32_t timeline, Lsn lsn) {
  ProbeResult p;
  p.node = id;
  p.status = ProbeStatus::kOk;
  p.in_recovery = false;
  p.timeline = timeline;
  p.current_lsn = lsn;
  return p;
}
Event as_standby(NodeId id, Lsn received, std::optional<NodeId> streaming_from, std::uint32_t timeline = 1) {
  ProbeResult p;
  p.node = id;
  p.status = ProbeStatus::kOk;
  p.in_recovery = true;
  p.timeline = timeline;
  p.receive_lsn = received;
  p.replay_lsn = received;
  if (streaming_from) p.streaming_from = address_of(*streaming_from);
  return p;
}
Event failed(NodeId id, ProbeStatus status) {
  ProbeResult p;
  p.node = id;
  p.status = status;
  return p;
}
Event tick() { return Tick{}; }

std::string published(const std::string& topology) { return "PublishTopology{" + topology + "}"; }

// One row: at kT0 + at, `event` gives exactly `actions` and leaves the machine in `state`. Probe results
// and ticks carry the row's time; commands and outcomes happen at the latest time the machine has seen.
struct Step {
  Ms at;
  Event event;
  std::vector<std::string> actions;
  FailoverState state;
};

std::string describe_event(const Event& e) {
  return std::visit(
      [](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, ProbeResult>) {
          std::ostringstream s;
          s << "probe node=" << x.node << " " << to_string(x.status) << (x.in_recovery ? " standby" : " primary");
          return s.str();
        } else if constexpr (std::is_same_v<T, Tick>) {
          return std::string("tick");
        } else {
          return "command or outcome (event index " + std::to_string(Event(x).index()) + ")";
        }
      },
      e);
}

void run(FailoverMachine& m, const std::vector<Step>& steps) {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    Event e = steps[i].event;
    if (auto* p = std::get_if<ProbeResult>(&e)) p->at = kT0 + steps[i].at;
    if (auto* t = std::get_if<Tick>(&e)) t->now = kT0 + steps[i].at;
    INFO("step " << i << " at +" << steps[i].at.count() << "ms: " << describe_event(e));
    std::vector<std::string> got;
    for (const Action& a : m.on_event(e)) got.push_back(to_string(a));
    CHECK(got == steps[i].actions);
    CHECK(to_string(m.state()) == to_string(steps[i].state));
  }
}

const std::string kAllUp = "epoch=0 primary=a a=primary/up b=standby/up c=standby/up";

// a primary at LSN 1000 on timeline 1, b and c streaming from it.
std::vector<Step> start() {
  return {
      {0ms, as_primary(0, 1, 1000), {}, FailoverState::kStarting},
      {0ms, as_standby(1, 1000, 0), {}, FailoverState::kStarting},
      {0ms, as_standby(2, 1000, 0), {published(kAllUp)}, FailoverState::kHealthy},
  };
}

// The standbys lost their WAL sender: b received up to 1500, c up to 1400.
std::vector<Step> standbys_orphaned(Ms at) {
  return {
      {at, as_standby(1, 1500, std::nullopt), {}, FailoverState::kPrimarySuspect},
      {at, as_standby(2, 1400, std::nullopt), {}, FailoverState::kPrimarySuspect},
  };
}

FailoverMachine machine(FailoverMode mode = FailoverMode::kAuto, std::optional<StateRecord> recorded = {}) {
  return FailoverMachine(config(mode), nodes(), recorded, kT0);
}

const FailoverState kStarting = FailoverState::kStarting;
const FailoverState kHealthy = FailoverState::kHealthy;
const FailoverState kSuspect = FailoverState::kPrimarySuspect;
const FailoverState kFailingOver = FailoverState::kFailingOver;
const FailoverState kSwitchingOver = FailoverState::kSwitchingOver;
const FailoverState kNoPrimary = FailoverState::kNoPrimary;

// The common prefix: a crashes (refused) and b is promoted.
std::vector<Step> crash_and_fail_over_to_b() {
  std::vector<Step> s = start();
  s.push_back({1000ms, failed(0, ProbeStatus::kRefused),
               {published("epoch=0 primary=a a=primary/suspect b=standby/up c=standby/up")}, kSuspect});
  for (Step& o : standbys_orphaned(1500ms)) s.push_back(o);
  s.push_back({2000ms, failed(0, ProbeStatus::kRefused), {}, kSuspect});
  s.push_back({3000ms, failed(0, ProbeStatus::kRefused),
               {"PauseWrites", "WaitReplay{node=1 lsn=1500}", "PromoteNode{node=1 epoch=1}",
                published("epoch=0 primary=a a=primary/down b=standby/up c=standby/up")},
               kFailingOver});
  s.push_back({3500ms, PromoteSucceeded{.node = 1, .timeline = 2},
               {"RepointStandby{node=2 new_primary=1}", "FenceNode{node=0}",
                "RecordState{epoch=1 timeline=2 primary=b fenced=a}",
                published("epoch=1 primary=b a=fenced b=primary/up c=standby/up"), "ResumeWrites"},
               kHealthy});
  return s;
}

}  // namespace

TEST_CASE("scenario: primary crashes (connection refused), the most advanced standby is promoted",
          "[failover][machine]") {
  FailoverMachine m = machine();
  run(m, crash_and_fail_over_to_b());
  CHECK(m.topology()->epoch == 1);
  CHECK(m.topology()->primary == NodeId{1});
  CHECK(m.topology()->nodes[1].timeline == 2);
}

TEST_CASE("scenario: primary hangs (probe timeouts), confirmed down after down_after", "[failover][machine]") {
  FailoverMachine m = machine();
  std::vector<Step> s = start();
  std::vector<Step> rest = {
      {1000ms, failed(0, ProbeStatus::kTimeout),
       {published("epoch=0 primary=a a=primary/suspect b=standby/up c=standby/up")}, kSuspect},
      {1500ms, as_standby(1, 1200, std::nullopt), {}, kSuspect},
      {1500ms, as_standby(2, 1300, std::nullopt), {}, kSuspect},
      {6000ms, failed(0, ProbeStatus::kTimeout), {}, kSuspect},  // 2 of 3 failures
      {10999ms, tick(), {}, kSuspect},                            // 9.999 s suspect
      {11000ms, tick(),                                           // 10 s: down_after elapsed
       {"PauseWrites", "WaitReplay{node=2 lsn=1300}", "PromoteNode{node=2 epoch=1}",
        published("epoch=0 primary=a a=primary/down b=standby/up c=standby/up")},
       kFailingOver},
      {12000ms, PromoteSucceeded{.node = 2, .timeline = 0},  // timeline unknown: old + 1
       {"RepointStandby{node=1 new_primary=2}", "FenceNode{node=0}",
        "RecordState{epoch=1 timeline=2 primary=c fenced=a}",
        published("epoch=1 primary=c a=fenced b=standby/up c=primary/up"), "ResumeWrites"},
       kHealthy},
  };
  s.insert(s.end(), rest.begin(), rest.end());
  run(m, s);
}

TEST_CASE("scenario: only the proxy's path to the primary is broken, standbys still stream: no failover",
          "[failover][machine]") {
  FailoverMachine m = machine();
  std::vector<Step> s = start();
  std::vector<Step> rest = {
      {1000ms, failed(0, ProbeStatus::kTimeout),
       {published("epoch=0 primary=a a=primary/suspect b=standby/up c=standby/up")}, kSuspect},
      {1500ms, as_standby(1, 1800, 0), {}, kSuspect},
      {1500ms, as_standby(2, 1800, 0), {}, kSuspect},
      {2000ms, failed(0, ProbeStatus::kTimeout), {}, kSuspect},
      {3000ms, failed(0, ProbeStatus::kTimeout),
       {"RaiseAlert{proxy path to primary a broken: 2 of 2 reachable standbys still stream from it; no failover}",
        published("epoch=0 primary=a a=primary/down b=standby/up c=standby/up")},
       kNoPrimary},
      {4000ms, tick(), {}, kNoPrimary},  // re-checked quietly: no second alert
      {5000ms, failed(0, ProbeStatus::kTimeout), {}, kNoPrimary},
      {6000ms, as_primary(0, 1, 1900), {published(kAllUp)}, kHealthy},  // the path is back
  };
  s.insert(s.end(), rest.begin(), rest.end());
  run(m, s);
}

TEST_CASE("scenario: the path stays broken until the standbys lose the primary too, then fail over",
          "[failover][machine]") {
  FailoverMachine m = machine();
  std::vector<Step> s = start();
  std::vector<Step> rest = {
      {1000ms, failed(0, ProbeStatus::kRefused),
       {published("epoch=0 primary=a a=primary/suspect b=standby/up c=standby/up")}, kSuspect},
      {1500ms, as_standby(1, 1800, 0), {}, kSuspect},
      {1500ms, as_standby(2, 1800, std::nullopt), {}, kSuspect},  // 1 of 2 streaming is not most
      {2000ms, failed(0, ProbeStatus::kRefused), {}, kSuspect},
      {3000ms, failed(0, ProbeStatus::kRefused),
       {"PauseWrites", "WaitReplay{node=1 lsn=1800}", "PromoteNode{node=1 epoch=1}",
        published("epoch=0 primary=a a=primary/down b=standby/up c=standby/up")},
       kFailingOver},
  };
  s.insert(s.end(), rest.begin(), rest.end());
  run(m, s);
}

TEST_CASE("scenario: a flapping primary returns to healthy without failover", "[failover][machine]") {
  FailoverMachine m = machine();
  const std::string suspect = "epoch=0 primary=a a=primary/suspect b=standby/up c=standby/up";
  std::vector<Step> s = start();
  std::vector<Step> rest = {
      {1000ms, failed(0, ProbeStatus::kRefused), {published(suspect)}, kSuspect},
      {2000ms, failed(0, ProbeStatus::kTimeout), {}, kSuspect},
      {3000ms, as_primary(0, 1, 1000), {published(kAllUp)}, kHealthy},
      {4000ms, failed(0, ProbeStatus::kRefused), {published(suspect)}, kSuspect},
      {5000ms, failed(0, ProbeStatus::kRefused), {}, kSuspect},
      {6000ms, as_primary(0, 1, 1000), {published(kAllUp)}, kHealthy},
      // The failure count restarted: two more failures do not confirm, and down_after runs from 7 s.
      {7000ms, failed(0, ProbeStatus::kRefused), {published(suspect)}, kSuspect},
      {8000ms, failed(0, ProbeStatus::kRefused), {}, kSuspect},
      {16999ms, tick(), {}, kSuspect},
      {17000ms, as_primary(0, 1, 1000), {published(kAllUp)}, kHealthy},
      {30000ms, tick(), {}, kHealthy},
  };
  s.insert(s.end(), rest.begin(), rest.end());
  run(m, s);
}

TEST_CASE("scenario: a promotion fails and the next candidate is promoted", "[failover][machine]") {
  FailoverMachine m = machine();
  std::vector<Step> s = crash_and_fail_over_to_b();
  s.pop_back();  // instead of success:
  std::vector<Step> rest = {
      {3500ms, PromoteFailed{.node = 1, .reason = "pg_promote returned false"},
       {"RaiseAlert{promotion of b failed (pg_promote returned false); trying c}", "WaitReplay{node=2 lsn=1400}",
        "PromoteNode{node=2 epoch=1}"},
       kFailingOver},
      {3600ms, PromoteFailed{.node = 1, .reason = "duplicate report"}, {}, kFailingOver},  // stale: ignored
      {4000ms, PromoteSucceeded{.node = 2, .timeline = 2},
       {"RepointStandby{node=1 new_primary=2}", "FenceNode{node=0}",
        "RecordState{epoch=1 timeline=2 primary=c fenced=a}",
        published("epoch=1 primary=c a=fenced b=standby/up c=primary/up"), "ResumeWrites"},
       kHealthy},
  };
  s.insert(s.end(), rest.begin(), rest.end());
  run(m, s);
}

TEST_CASE("scenario: a promotion times out, the next candidate wins, the late one is fenced",
          "[failover][machine]") {
  FailoverMachine m = machine();
  std::vector<Step> s = crash_and_fail_over_to_b();
  s.pop_back();
  std::vector<Step> rest = {
      {7999ms, tick(), {}, kFailingOver},  // promote_timeout is 5 s from 3 s
      {8000ms, tick(),
       {"RaiseAlert{promotion of b failed (timed out); trying c}", "WaitReplay{node=2 lsn=1400}",
        "PromoteNode{node=2 epoch=1}"},
       kFailingOver},
      {8500ms, PromoteSucceeded{.node = 2, .timeline = 2},
       {"RepointStandby{node=1 new_primary=2}", "FenceNode{node=0}",
        "RecordState{epoch=1 timeline=2 primary=c fenced=a}",
        published("epoch=1 primary=c a=fenced b=standby/up c=primary/up"), "ResumeWrites"},
       kHealthy},
      {9000ms, PromoteSucceeded{.node = 1, .timeline = 2},
       {"FenceNode{node=1}", "RaiseAlert{promotion of b succeeded after it was abandoned; fencing b}",
        "RecordState{epoch=1 timeline=2 primary=c fenced=a,b}",
        published("epoch=1 primary=c a=fenced b=fenced c=primary/up")},
       kHealthy},
  };
  s.insert(s.end(), rest.begin(), rest.end());
  run(m, s);
}

TEST_CASE("scenario: no eligible candidate: read-only with an alert, failover once a standby is back",
          "[failover][machine]") {
  std::vector<NodeSpec> specs = nodes();
  specs[1].no_promote = true;
  FailoverMachine m(config(), specs, std::nullopt, kT0);
  std::vector<Step> s = start();
  std::vector<Step> rest = {
      {500ms, failed(2, ProbeStatus::kRefused),
       {published("epoch=0 primary=a a=primary/up b=standby/up c=standby/down")}, kHealthy},
      {1000ms, failed(0, ProbeStatus::kRefused),
       {published("epoch=0 primary=a a=primary/suspect b=standby/up c=standby/down")}, kSuspect},
      {1500ms, as_standby(1, 1500, std::nullopt), {}, kSuspect},
      {2000ms, failed(0, ProbeStatus::kRefused), {}, kSuspect},
      {3000ms, failed(0, ProbeStatus::kRefused),
       {"RaiseAlert{primary a is down and no standby is eligible for promotion; cluster is read-only}",
        published("epoch=0 primary=a a=primary/down b=standby/up c=standby/down")},
       kNoPrimary},
      {4000ms, tick(), {}, kNoPrimary},
      {5000ms, as_standby(2, 1450, std::nullopt), {}, kNoPrimary},  // 1 of 2 good probes: still down
      {5000ms, tick(), {}, kNoPrimary},
      {6000ms, as_standby(2, 1450, std::nullopt),
       {published("epoch=0 primary=a a=primary/down b=standby/up c=standby/up")}, kNoPrimary},
      {6000ms, tick(), {"PauseWrites", "WaitReplay{node=2 lsn=1450}", "PromoteNode{node=2 epoch=1}"},
       kFailingOver},
  };
  s.insert(s.end(), rest.begin(), rest.end());
  run(m, s);
}

TEST_CASE("scenario: a lagging standby is not elected, even after the only candidate fails",
          "[failover][machine]") {
  FailoverMachine m = machine();
  std::vector<Step> s = {
      {0ms, as_primary(0, 1, 100'000), {}, kStarting},
      {0ms, as_standby(1, 99'500, 0), {}, kStarting},
      {0ms, as_standby(2, 50'000, 0), {published(kAllUp)}, kHealthy},
      {1000ms, failed(0, ProbeStatus::kRefused),
       {published("epoch=0 primary=a a=primary/suspect b=standby/up c=standby/up")}, kSuspect},
      {1500ms, as_standby(1, 99'500, std::nullopt), {}, kSuspect},
      {1500ms, as_standby(2, 50'000, std::nullopt), {}, kSuspect},
      {2000ms, failed(0, ProbeStatus::kRefused), {}, kSuspect},
      {3000ms, failed(0, ProbeStatus::kRefused),
       {"PauseWrites", "WaitReplay{node=1 lsn=99500}", "PromoteNode{node=1 epoch=1}",
        published("epoch=0 primary=a a=primary/down b=standby/up c=standby/up")},
       kFailingOver},
      {3500ms, PromoteFailed{.node = 1, .reason = "permission denied"},
       {"RaiseAlert{promotion of b failed (permission denied); no other standby is eligible; cluster is read-only}",
        "ResumeWrites"},
       kNoPrimary},
      {4000ms, tick(), {}, kNoPrimary},  // b is not retried in the same outage; c stays too far behind
  };
  run(m, s);
  CHECK(m.topology()->nodes[2].lag_bytes == 50'000);
}

TEST_CASE("scenario: two primaries at start: the higher timeline wins, the other is fenced",
          "[failover][machine]") {
  FailoverMachine m = machine();
  run(m, {
             {0ms, as_primary(0, 2, 5000), {}, kStarting},
             {0ms, as_primary(1, 3, 6000), {}, kStarting},
             {0ms, as_standby(2, 6000, 1, 3),
              {"FenceNode{node=0}",
               "RaiseAlert{two primaries at start: a (timeline 2) loses to b (timeline 3); fencing a}",
               "RecordState{epoch=0 timeline=3 primary=b fenced=a}",
               published("epoch=0 primary=b a=fenced b=primary/up c=standby/up")},
              kHealthy},
             {1000ms, as_primary(0, 2, 5000), {}, kHealthy},  // still reachable: no repeated fence
         });
}

TEST_CASE("scenario: two primaries at start: the state file wins over the higher timeline",
          "[failover][machine]") {
  StateRecord recorded{.epoch = 4, .timeline = 2, .primary = "a", .fenced = {"b"}};
  FailoverMachine m = machine(FailoverMode::kAuto, recorded);
  run(m, {
             {0ms, as_primary(0, 2, 5000), {}, kStarting},
             {0ms, as_primary(1, 3, 6000), {}, kStarting},
             {0ms, as_standby(2, 5000, 0, 2),
              {"FenceNode{node=1}",
               "RaiseAlert{b is fenced by the state file and claims primary; it stays fenced until re-added}",
               published("epoch=4 primary=a a=primary/up b=fenced c=standby/up")},
              kHealthy},
         });
}

TEST_CASE("scenario: at start a claimant behind the recorded timeline is fenced; the recorded primary is "
          "suspect when it does not answer",
          "[failover][machine]") {
  StateRecord recorded{.epoch = 2, .timeline = 3, .primary = "b", .fenced = {}};
  FailoverMachine m = machine(FailoverMode::kAuto, recorded);
  run(m, {
             {0ms, as_primary(0, 2, 5000), {}, kStarting},
             {0ms, failed(1, ProbeStatus::kRefused), {}, kStarting},
             {0ms, as_standby(2, 7000, std::nullopt, 3),
              {"FenceNode{node=0}",
               "RaiseAlert{two primaries at start: a (timeline 2) is behind the recorded timeline 3; fencing a}",
               "RecordState{epoch=2 timeline=3 primary=b fenced=a}",
               published("epoch=2 primary=b a=fenced b=primary/suspect c=standby/up")},
              kSuspect},
             {1000ms, failed(1, ProbeStatus::kRefused), {}, kSuspect},
             {2000ms, failed(1, ProbeStatus::kRefused),
              {"PauseWrites", "WaitReplay{node=2 lsn=7000}", "PromoteNode{node=2 epoch=3}",
               published("epoch=2 primary=b a=fenced b=primary/down c=standby/up")},
              kFailingOver},
         });
}

TEST_CASE("scenario: the old primary comes back claiming primary and stays fenced until re-added",
          "[failover][machine]") {
  FailoverMachine m = machine();
  std::vector<Step> s = crash_and_fail_over_to_b();
  const std::string b_primary = "epoch=1 primary=b a=fenced b=primary/up c=standby/up";
  std::vector<Step> rest = {
      {5000ms, as_standby(2, 1600, 1, 2), {published(b_primary)}, kHealthy},  // c's timeline is now 2
      {6000ms, as_primary(0, 1, 1200),
       {"FenceNode{node=0}", "RaiseAlert{a is reachable again and claims primary; it stays fenced until re-added}"},
       kHealthy},
      {7000ms, as_primary(0, 1, 1200), {}, kHealthy},
      {8000ms, failed(0, ProbeStatus::kRefused), {}, kHealthy},
      {9000ms, as_primary(0, 1, 1200),  // back again: fenced again
       {"FenceNode{node=0}", "RaiseAlert{a is reachable again and claims primary; it stays fenced until re-added}"},
       kHealthy},
      {9500ms, DrainNode{.node = 0}, {"RaiseAlert{drain refused: a is fenced}"}, kHealthy},
      // The operator rebuilds a as a standby of b and re-adds it: it earns its way back with good probes.
      {10000ms, ReAddNode{.node = 0},
       {"RecordState{epoch=1 timeline=2 primary=b fenced=}",
        published("epoch=1 primary=b a=unknown/down b=primary/up c=standby/up")},
       kHealthy},
      {11000ms, as_standby(0, 1600, 1, 2), {published("epoch=1 primary=b a=standby/down b=primary/up c=standby/up")},
       kHealthy},
      {12000ms, as_standby(0, 1600, 1, 2), {published("epoch=1 primary=b a=standby/up b=primary/up c=standby/up")},
       kHealthy},
      {13000ms, ReAddNode{.node = 0}, {"RaiseAlert{re-add refused: a is not fenced}"}, kHealthy},
  };
  s.insert(s.end(), rest.begin(), rest.end());
  run(m, s);
}

TEST_CASE("scenario: a node that claims primary beside the primary is fenced", "[failover][machine]") {
  FailoverMachine m = machine();
  std::vector<Step> s = start();
  s.push_back({1000ms, as_primary(2, 2, 1000),
               {"FenceNode{node=2}", "RaiseAlert{c claims primary (timeline 2) but the primary is a; fencing c}",
                "RecordState{epoch=0 timeline=1 primary=a fenced=c}",
                published("epoch=0 primary=a a=primary/up b=standby/up c=fenced")},
               kHealthy});
  run(m, s);
}

TEST_CASE("scenario: manual mode reports a dead primary and promotes only on command", "[failover][machine]") {
  FailoverMachine m = machine(FailoverMode::kManual);
  std::vector<Step> s = start();
  std::vector<Step> rest = {
      {1000ms, failed(0, ProbeStatus::kRefused),
       {published("epoch=0 primary=a a=primary/suspect b=standby/up c=standby/up")}, kSuspect},
      {1500ms, as_standby(1, 1500, std::nullopt), {}, kSuspect},
      {1500ms, as_standby(2, 1400, std::nullopt), {}, kSuspect},
      {2000ms, failed(0, ProbeStatus::kRefused), {}, kSuspect},
      {3000ms, failed(0, ProbeStatus::kRefused),
       {"RaiseAlert{primary a is down; manual mode: no automatic failover}",
        published("epoch=0 primary=a a=primary/down b=standby/up c=standby/up")},
       kNoPrimary},
      {60000ms, tick(), {}, kNoPrimary},
      {60000ms, Switchover{.target = 2}, {"PauseWrites", "WaitReplay{node=2 lsn=1400}", "PromoteNode{node=2 epoch=1}"},
       kFailingOver},
      {61000ms, PromoteSucceeded{.node = 2, .timeline = 2},
       {"RepointStandby{node=1 new_primary=2}", "FenceNode{node=0}",
        "RecordState{epoch=1 timeline=2 primary=c fenced=a}",
        published("epoch=1 primary=c a=fenced b=standby/up c=primary/up"), "ResumeWrites"},
       kHealthy},
  };
  s.insert(s.end(), rest.begin(), rest.end());
  run(m, s);
}

TEST_CASE("scenario: follow mode never promotes and follows the highest timeline", "[failover][machine]") {
  FailoverMachine m = machine(FailoverMode::kFollow);
  std::vector<Step> s = start();
  std::vector<Step> rest = {
      {1000ms, failed(0, ProbeStatus::kRefused),
       {published("epoch=0 primary=a a=primary/suspect b=standby/up c=standby/up")}, kSuspect},
      {2000ms, failed(0, ProbeStatus::kRefused), {}, kSuspect},
      {3000ms, failed(0, ProbeStatus::kRefused),
       {"RaiseAlert{primary a is down; follow mode: waiting for a node to report itself primary}",
        published("epoch=0 primary=a a=primary/down b=standby/up c=standby/up")},
       kNoPrimary},
      {3000ms, Switchover{.target = 1}, {"RaiseAlert{switchover refused: follow mode}"}, kNoPrimary},
      {20000ms, tick(), {}, kNoPrimary},
      // An outside manager (Patroni) promoted c.
      {21000ms, as_primary(2, 2, 3000), {published("epoch=1 primary=c a=unknown/down b=standby/up c=primary/up")},
       kHealthy},
      {22000ms, as_standby(1, 3000, 2, 2),  // b's timeline is now 2
       {published("epoch=1 primary=c a=unknown/down b=standby/up c=primary/up")}, kHealthy},
      // a comes back still claiming primary on the old timeline: no traffic, but no action either.
      {23000ms, as_primary(0, 1, 1200),
       {"RaiseAlert{a claims primary on timeline 1 but is not the newest primary; no traffic to it}",
        published("epoch=1 primary=c a=fenced b=standby/up c=primary/up")},
       kHealthy},
      // Rebuilt by the manager as a standby of c, it returns after two good probes.
      {24000ms, as_standby(0, 3000, 2, 2), {published("epoch=1 primary=c a=standby/down b=standby/up c=primary/up")},
       kHealthy},
      {25000ms, as_standby(0, 3000, 2, 2), {published("epoch=1 primary=c a=standby/up b=standby/up c=primary/up")},
       kHealthy},
  };
  s.insert(s.end(), rest.begin(), rest.end());
  run(m, s);
}

TEST_CASE("scenario: follow mode at start takes the highest timeline without fencing actions",
          "[failover][machine]") {
  FailoverMachine m = machine(FailoverMode::kFollow);
  run(m, {
             {0ms, as_primary(0, 2, 5000), {}, kStarting},
             {0ms, as_primary(1, 3, 6000), {}, kStarting},
             {0ms, as_standby(2, 6000, 1, 3),
              {"RaiseAlert{a claims primary on timeline 2 but is not the newest primary; no traffic to it}",
               published("epoch=0 primary=b a=fenced b=primary/up c=standby/up")},
              kHealthy},
         });
}

TEST_CASE("scenario: planned switchover succeeds", "[failover][machine]") {
  FailoverMachine m = machine();
  std::vector<Step> s = start();
  std::vector<Step> rest = {
      {1000ms, Switchover{.target = 1}, {"PauseWrites", "MakeReadOnly{node=0}"}, kSwitchingOver},
      {1000ms, Switchover{.target = 2}, {"RaiseAlert{switchover refused: cluster is switching_over}"},
       kSwitchingOver},
      {1200ms, ReadOnlyDone{.node = 0, .final_lsn = 2048}, {"WaitReplay{node=1 lsn=2048}", "PromoteNode{node=1 epoch=1}"},
       kSwitchingOver},
      {1500ms, PromoteSucceeded{.node = 1, .timeline = 2},
       {"RepointStandby{node=2 new_primary=1}", "FenceNode{node=0}",
        "RecordState{epoch=1 timeline=2 primary=b fenced=a}",
        published("epoch=1 primary=b a=fenced b=primary/up c=standby/up"), "ResumeWrites"},
       kHealthy},
      {2000ms, as_primary(0, 1, 2048), {}, kHealthy},  // a, read-only and fenced, gets nothing
  };
  s.insert(s.end(), rest.begin(), rest.end());
  run(m, s);
}

TEST_CASE("scenario: planned switchover without a target elects the best standby", "[failover][machine]") {
  FailoverMachine m = machine();
  std::vector<Step> s = start();
  s.push_back({500ms, as_standby(2, 1000, 0), {}, kHealthy});
  s.push_back({600ms, DrainNode{.node = 1}, {published("epoch=0 primary=a a=primary/up b=standby/drained c=standby/up")},
               kHealthy});
  s.push_back({1000ms, Switchover{}, {"PauseWrites", "MakeReadOnly{node=0}"}, kSwitchingOver});
  s.push_back({1200ms, ReadOnlyDone{.node = 0, .final_lsn = 1000},
               {"WaitReplay{node=2 lsn=1000}", "PromoteNode{node=2 epoch=1}"}, kSwitchingOver});
  run(m, s);
}

TEST_CASE("scenario: planned switchover times out and resumes writes on the old primary", "[failover][machine]") {
  FailoverMachine m = machine();
  std::vector<Step> s = start();
  std::vector<Step> rest = {
      {1000ms, tick(), {}, kHealthy},
      {1000ms, Switchover{.target = 1}, {"PauseWrites", "MakeReadOnly{node=0}"}, kSwitchingOver},
      {1200ms, ReadOnlyDone{.node = 0, .final_lsn = 2048}, {"WaitReplay{node=1 lsn=2048}", "PromoteNode{node=1 epoch=1}"},
       kSwitchingOver},
      {5999ms, tick(), {}, kSwitchingOver},
      {6000ms, tick(),
       {"MakeWritable{node=0}", "ResumeWrites",
        "RaiseAlert{switchover from a to b aborted (timed out); writes resumed on a}"},
       kHealthy},
      // b's promotion finishes after all: two primaries, so b is fenced.
      {7000ms, PromoteSucceeded{.node = 1, .timeline = 2},
       {"FenceNode{node=1}", "RaiseAlert{promotion of b succeeded after it was abandoned; fencing b}",
        "RecordState{epoch=0 timeline=1 primary=a fenced=b}",
        published("epoch=0 primary=a a=primary/up b=fenced c=standby/up")},
       kHealthy},
  };
  s.insert(s.end(), rest.begin(), rest.end());
  run(m, s);
}

TEST_CASE("scenario: planned switchover aborts when the old primary cannot be made read-only",
          "[failover][machine]") {
  FailoverMachine m = machine();
  std::vector<Step> s = start();
  s.push_back({1000ms, Switchover{.target = 1}, {"PauseWrites", "MakeReadOnly{node=0}"}, kSwitchingOver});
  s.push_back({1100ms, ReadOnlyFailed{.node = 0, .reason = "timeout"},
               {"MakeWritable{node=0}", "ResumeWrites",
                "RaiseAlert{switchover from a to b aborted (making a read-only failed: timeout); writes resumed on a}"},
               kHealthy});
  s.push_back({1200ms, Switchover{.target = 0}, {"RaiseAlert{switchover refused: a is not an eligible standby}"},
               kHealthy});
  run(m, s);
}

TEST_CASE("scenario: standbys whose probes fail go down and come back after M good probes", "[failover][machine]") {
  FailoverMachine m = machine();
  std::vector<Step> s = start();
  std::vector<Step> rest = {
      {1000ms, failed(1, ProbeStatus::kTimeout), {published("epoch=0 primary=a a=primary/up b=standby/down c=standby/up")},
       kHealthy},
      {2000ms, as_standby(1, 1000, 0), {}, kHealthy},
      {3000ms, failed(1, ProbeStatus::kOther), {}, kHealthy},
      {4000ms, as_standby(1, 1000, 0), {}, kHealthy},
      {5000ms, as_standby(1, 1000, 0), {published(kAllUp)}, kHealthy},
  };
  s.insert(s.end(), rest.begin(), rest.end());
  run(m, s);
}

TEST_CASE("scenario: authentication errors are reported once and do not make the primary suspect",
          "[failover][machine]") {
  FailoverMachine m = machine();
  std::vector<Step> s = start();
  std::vector<Step> rest = {
      {1000ms, failed(0, ProbeStatus::kAuthError),
       {"RaiseAlert{probe of a failed: authentication error (not counted as down)}"}, kHealthy},
      {2000ms, failed(0, ProbeStatus::kAuthError), {}, kHealthy},
      {3000ms, failed(0, ProbeStatus::kAuthError), {}, kHealthy},
      {20000ms, tick(), {}, kHealthy},
  };
  s.insert(s.end(), rest.begin(), rest.end());
  run(m, s);
}

TEST_CASE("scenario: a failed re-point is retried at the standby's next good probe", "[failover][machine]") {
  FailoverMachine m = machine();
  std::vector<Step> s = crash_and_fail_over_to_b();
  std::vector<Step> rest = {
      {4000ms, RepointFailed{.node = 2, .reason = "connection refused"},
       {"RaiseAlert{re-pointing c failed (connection refused); retrying at its next good probe}"}, kHealthy},
      {5000ms, as_standby(2, 1400, std::nullopt), {"RepointStandby{node=2 new_primary=1}"}, kHealthy},
      {5500ms, RepointDone{.node = 2}, {}, kHealthy},
      {6000ms, as_standby(2, 1600, 1, 2),  // c's timeline is now 2
       {published("epoch=1 primary=b a=fenced b=primary/up c=standby/up")}, kHealthy},
      {7000ms, as_standby(2, 1700, 1, 2), {}, kHealthy},
  };
  s.insert(s.end(), rest.begin(), rest.end());
  run(m, s);
}

TEST_CASE("scenario: drain and enable a standby; the primary cannot be drained", "[failover][machine]") {
  FailoverMachine m = machine();
  std::vector<Step> s = start();
  std::vector<Step> rest = {
      {1000ms, DrainNode{.node = 2}, {published("epoch=0 primary=a a=primary/up b=standby/up c=standby/drained")},
       kHealthy},
      {1500ms, as_standby(2, 1000, 0), {}, kHealthy},  // good probes do not undrain
      {2000ms, DrainNode{.node = 0}, {"RaiseAlert{drain refused: a is the primary; switch over first}"}, kHealthy},
      {3000ms, EnableNode{.node = 2}, {published(kAllUp)}, kHealthy},
  };
  s.insert(s.end(), rest.begin(), rest.end());
  run(m, s);
}

TEST_CASE("scenario: no node claims primary at start; the first claimant is adopted", "[failover][machine]") {
  FailoverMachine m = machine();
  run(m, {
             {0ms, failed(0, ProbeStatus::kRefused), {}, kStarting},
             {0ms, as_standby(1, 1000, std::nullopt), {}, kStarting},
             {0ms, as_standby(2, 1000, std::nullopt),
              {"RaiseAlert{no node claims primary}", published("epoch=0 primary=- a=unknown/down b=standby/up c=standby/up")},
              kNoPrimary},
             {30000ms, tick(), {}, kNoPrimary},  // no promotion without knowing who the primary was
             {31000ms, as_primary(0, 1, 1000), {published(kAllUp)}, kHealthy},
         });
}

TEST_CASE("scenario: two primaries on the same timeline at start: none chosen until only one answers",
          "[failover][machine]") {
  FailoverMachine m = machine();
  run(m, {
             {0ms, as_primary(0, 2, 5000), {}, kStarting},
             {0ms, as_primary(1, 2, 5000), {}, kStarting},
             {0ms, as_standby(2, 5000, 0, 2),
              {"RaiseAlert{several nodes claim primary on timeline 2 (a, b): no primary chosen until only one of "
               "them answers}",
               published("epoch=0 primary=- a=primary/down b=primary/down c=standby/up")},
              kNoPrimary},
             {1000ms, as_primary(0, 2, 5000), {}, kNoPrimary},
             {1000ms, Switchover{.target = 2},
              {"RaiseAlert{switchover refused: several nodes claim primary; stop all but one}"}, kNoPrimary},
             // The operator stops b: a is the only claimant left.
             {2000ms, failed(1, ProbeStatus::kRefused),
              {published("epoch=0 primary=a a=primary/up b=primary/down c=standby/up")}, kHealthy},
             // b comes back still claiming primary: now there is a primary, so b is fenced.
             {3000ms, as_primary(1, 2, 5000),
              {"FenceNode{node=1}", "RaiseAlert{b claims primary (timeline 2) but the primary is a; fencing b}",
               "RecordState{epoch=0 timeline=2 primary=a fenced=b}",
               published("epoch=0 primary=a a=primary/up b=fenced c=standby/up")},
              kHealthy},
         });
}

TEST_CASE("scenario: a node that never answers at start counts as failed after down_after", "[failover][machine]") {
  FailoverMachine m = machine();
  run(m, {
             {0ms, as_primary(0, 1, 1000), {}, kStarting},
             {0ms, as_standby(1, 1000, 0), {}, kStarting},
             {9999ms, tick(), {}, kStarting},
             {10000ms, tick(), {published("epoch=0 primary=a a=primary/up b=standby/up c=unknown/down")}, kHealthy},
             // Its first good probe brings it up at once: it was never up before.
             {11000ms, as_standby(2, 1000, 0), {published(kAllUp)}, kHealthy},
         });
}

TEST_CASE("scenario: an operator-chosen promotion that fails tries no other standby", "[failover][machine]") {
  FailoverMachine m = machine(FailoverMode::kManual);
  std::vector<Step> s = start();
  std::vector<Step> rest = {
      {1000ms, failed(0, ProbeStatus::kRefused),
       {published("epoch=0 primary=a a=primary/suspect b=standby/up c=standby/up")}, kSuspect},
      {1500ms, as_standby(1, 1500, std::nullopt), {}, kSuspect},
      {1500ms, as_standby(2, 1400, std::nullopt), {}, kSuspect},
      {2000ms, failed(0, ProbeStatus::kRefused), {}, kSuspect},
      {3000ms, failed(0, ProbeStatus::kRefused),
       {"RaiseAlert{primary a is down; manual mode: no automatic failover}",
        published("epoch=0 primary=a a=primary/down b=standby/up c=standby/up")},
       kNoPrimary},
      {4000ms, Switchover{.target = 2}, {"PauseWrites", "WaitReplay{node=2 lsn=1400}", "PromoteNode{node=2 epoch=1}"},
       kFailingOver},
      {4500ms, PromoteFailed{.node = 2, .reason = "not in recovery"},
       {"RaiseAlert{promotion of c failed (not in recovery); cluster is read-only}", "ResumeWrites"}, kNoPrimary},
      {60000ms, tick(), {}, kNoPrimary},  // manual mode: nothing automatic
      {60000ms, Switchover{}, {"PauseWrites", "WaitReplay{node=1 lsn=1500}", "PromoteNode{node=1 epoch=1}"},
       kFailingOver},
      {61000ms, PromoteSucceeded{.node = 1, .timeline = 2},
       {"RepointStandby{node=2 new_primary=1}", "FenceNode{node=0}",
        "RecordState{epoch=1 timeline=2 primary=b fenced=a}",
        published("epoch=1 primary=b a=fenced b=primary/up c=standby/up"), "ResumeWrites"},
       kHealthy},
      {62000ms, PromoteSucceeded{.node = 1, .timeline = 2}, {}, kHealthy},  // duplicate report: nothing
  };
  s.insert(s.end(), rest.begin(), rest.end());
  run(m, s);
}

// A standby's probe with its own lag figure (now() - pg_last_xact_replay_timestamp() while it has
// received WAL it has not replayed yet).
ProbeResult standby_at(NodeId id, Ms at, Lsn received, Lsn replayed, double reported_lag) {
  ProbeResult p = std::get<ProbeResult>(as_standby(id, received, 0));
  p.replay_lsn = replayed;
  p.replay_lag_seconds = reported_lag;
  p.at = kT0 + at;
  return p;
}
ProbeResult primary_at(Ms at, Lsn lsn) {
  ProbeResult p = std::get<ProbeResult>(as_primary(0, 1, lsn));
  p.at = kT0 + at;
  return p;
}

TEST_CASE("lag in time: a quiet spell is not lag; WAL the primary had since a probe is", "[failover][machine][lag]") {
  FailoverMachine m = machine();
  run(m, start());  // a at 1000; b and c at 1000
  auto lag = [&](NodeId id) { return m.topology()->nodes[id].lag_seconds; };

  // Ten quiet minutes: the primary stays at 1000, its probes add nothing to the history.
  for (int s = 1; s <= 600; s += 60) m.on_event(primary_at(Ms(s * 1000), 1000));
  // New WAL reaches b, not yet replayed: b's own figure is the whole quiet spell (the age of the
  // last transaction it replayed), but the primary was never seen past b's replay position.
  m.on_event(standby_at(1, 600'200ms, 1200, 1000, 600.2));
  CHECK(lag(1) == 0.0);

  // The primary is seen at 1200 at +600.5 s; b, probed at +601 s, has still not replayed it: 0.5 s.
  m.on_event(primary_at(600'500ms, 1200));
  m.on_event(standby_at(1, 601'000ms, 1200, 1000, 601.0));
  CHECK(lag(1) == Approx(0.5));

  // c stops replaying while the primary goes on: its own figure and the bound agree on real lag.
  m.on_event(primary_at(602'000ms, 1300));
  m.on_event(primary_at(603'000ms, 1400));
  m.on_event(standby_at(2, 604'000ms, 1400, 1000, 3.5));
  CHECK(lag(2) == Approx(3.5));
  // The smaller of the two wins: c reports less than the bound (its last replayed commit is recent).
  m.on_event(standby_at(2, 604'500ms, 1400, 1000, 1.25));
  CHECK(lag(2) == Approx(1.25));
  // Replayed past everything the primary was seen at: no lag, whatever the standby says.
  m.on_event(standby_at(2, 605'000ms, 1400, 1400, 0.0));
  CHECK(lag(2) == 0.0);
  m.on_event(standby_at(1, 605'000ms, 1500, 1450, 9.0));
  CHECK(lag(1) == 0.0);
}

TEST_CASE("lag in time: without a history of the primary, the standby's own figure", "[failover][machine][lag]") {
  FailoverMachine m = machine();
  // Nobody is primary yet while the machine starts: b's probe is taken as it reports.
  m.on_event(standby_at(1, 0ms, 1200, 1000, 42.0));
  m.on_event(standby_at(2, 0ms, 1200, 1200, 0.0));
  m.on_event(primary_at(0ms, 1200));
  // Started now (a is primary), but its first probe came before it was known as primary.
  REQUIRE(m.topology());
  CHECK(m.topology()->nodes[1].lag_seconds == 42.0);
  // From a's next probe on, the history bounds it: a was first seen past b's replay position at +1 s.
  m.on_event(primary_at(1000ms, 1200));
  m.on_event(standby_at(1, 1500ms, 1200, 1000, 43.0));
  CHECK(m.topology()->nodes[1].lag_seconds == Approx(0.5));
}
