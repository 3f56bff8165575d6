// Tests for routing/balancer and routing/replica_policy: eligibility, the three strategies, lag and read-your-writes, roles.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "routing/balancer.hpp"
#include "routing/replica_policy.hpp"

using namespace baton::routing;
using baton::health::Lsn;
using baton::health::NodeHealth;
using baton::health::NodeId;
using baton::health::NodeRole;
using baton::health::NodeState;
using baton::health::Topology;
using namespace std::chrono_literals;

namespace {

// Node 0 is the primary; nodes 1..standbys are standbys, all up, weight 1, no lag.
Topology cluster(std::size_t standbys) {
  Topology t;
  t.epoch = 1;
  t.primary = 0;
  t.nodes.resize(standbys + 1);
  for (std::size_t i = 0; i < t.nodes.size(); ++i) {
    t.nodes[i].name = "n" + std::to_string(i);
    t.nodes[i].health = NodeHealth::kUp;
    t.nodes[i].role = i == 0 ? NodeRole::kPrimary : NodeRole::kStandby;
  }
  return t;
}

std::vector<NodeId> ids(std::span<const NodeId> s) { return {s.begin(), s.end()}; }

// How often each node is chosen over n picks.
std::map<NodeId, int> tally(Balancer& b, const Topology& t, const PickOptions& o, int n) {
  std::map<NodeId, int> counts;
  for (int i = 0; i < n; ++i) {
    const Pick p = b.pick(t, o);
    REQUIRE(p.node);
    ++counts[*p.node];
  }
  return counts;
}

}  // namespace

TEST_CASE("eligibility: role, health and weight", "[balancer]") {
  Topology t = cluster(2);
  const PickOptions none{};
  CHECK(eligibility(t, 1, none) == Eligibility::kEligible);
  CHECK(eligibility(t, 0, none) == Eligibility::kNotStandby);  // the primary
  t.nodes[2].role = NodeRole::kUnknown;
  CHECK(eligibility(t, 2, none) == Eligibility::kNotStandby);
  CHECK(eligibility(t, 7, none) == Eligibility::kNotStandby);  // no such node
  for (NodeHealth h : {NodeHealth::kSuspect, NodeHealth::kDown, NodeHealth::kFenced, NodeHealth::kDrained}) {
    INFO(baton::health::to_string(h));
    t.nodes[1].health = h;
    CHECK(eligibility(t, 1, none) == Eligibility::kNotUp);
  }
  t.nodes[1].health = NodeHealth::kUp;
  t.nodes[1].weight = 0;
  CHECK(eligibility(t, 1, none) == Eligibility::kNoWeight);
  t.nodes[1].weight = -3;
  CHECK(eligibility(t, 1, none) == Eligibility::kNoWeight);
  t.nodes[1].weight = 5;
  CHECK(eligibility(t, 1, none) == Eligibility::kEligible);
  // The first failing check wins: a down standby that also lags is "not up", not "lagging".
  t.nodes[1].health = NodeHealth::kDown;
  t.nodes[1].lag_bytes = 1u << 30;
  CHECK(eligibility(t, 1, PickOptions{.lag = {.max_bytes = 1024}}) == Eligibility::kNotUp);
  CHECK(to_string(Eligibility::kNotCaughtUp) == "not_caught_up");
}

TEST_CASE("eligibility: lag limits in bytes and seconds, 0 = no limit", "[balancer]") {
  Topology t = cluster(1);
  NodeState& s = t.nodes[1];
  const PickOptions bytes{.lag = {.max_bytes = 16u << 20}};
  s.lag_bytes = 16u << 20;  // at the limit: kept
  CHECK(eligibility(t, 1, bytes) == Eligibility::kEligible);
  s.lag_bytes = (16u << 20) + 1;
  CHECK(eligibility(t, 1, bytes) == Eligibility::kLagging);
  CHECK(eligibility(t, 1, PickOptions{}) == Eligibility::kEligible);  // 0 bytes = no limit
  s.lag_bytes = UINT64_MAX;
  CHECK(eligibility(t, 1, PickOptions{.lag = {.max_bytes = 0, .max_time = 10s}}) == Eligibility::kEligible);

  s.lag_bytes = 0;
  const PickOptions secs{.lag = {.max_time = 10000ms}};
  s.lag_seconds = 10.0;  // at the limit: kept
  CHECK(eligibility(t, 1, secs) == Eligibility::kEligible);
  s.lag_seconds = 10.001;
  CHECK(eligibility(t, 1, secs) == Eligibility::kLagging);
  CHECK(eligibility(t, 1, PickOptions{.lag = {.max_time = 250ms}}) == Eligibility::kLagging);
  s.lag_seconds = 0.25;
  CHECK(eligibility(t, 1, PickOptions{.lag = {.max_time = 250ms}}) == Eligibility::kEligible);
  s.lag_seconds = 86400.0;
  CHECK(eligibility(t, 1, PickOptions{.lag = {.max_bytes = 1}}) == Eligibility::kEligible);  // 0 s = no limit
  // Either limit alone is enough to skip.
  s.lag_seconds = 11;
  CHECK(eligibility(t, 1, PickOptions{.lag = {.max_bytes = 1u << 20, .max_time = 10s}}) == Eligibility::kLagging);
}

TEST_CASE("eligibility: read-your-writes needs a known replay position at or past the required LSN",
          "[balancer]") {
  Topology t = cluster(3);
  const std::array<Lsn, 3> replay{0x5000000, 0x4FFFFFF, 0};  // node 0 (primary), 1, 2; node 3 missing
  PickOptions o{.min_replay_lsn = 0x4FFFFFF, .replay_lsn = replay};
  CHECK(eligibility(t, 1, o) == Eligibility::kEligible);     // exactly at the required position
  CHECK(eligibility(t, 2, o) == Eligibility::kNotCaughtUp);  // 0 = unknown
  CHECK(eligibility(t, 3, o) == Eligibility::kNotCaughtUp);  // not in the span: unknown
  o.min_replay_lsn = 0x5000000;
  CHECK(eligibility(t, 1, o) == Eligibility::kNotCaughtUp);  // one byte behind
  o.min_replay_lsn.reset();                                   // no write to wait for
  CHECK(eligibility(t, 2, o) == Eligibility::kEligible);
  CHECK(eligibility(t, 3, o) == Eligibility::kEligible);
  // Lag is checked before the replay position.
  t.nodes[2].lag_bytes = 100;
  o.min_replay_lsn = 1;
  o.lag.max_bytes = 10;
  CHECK(eligibility(t, 2, o) == Eligibility::kLagging);
}

TEST_CASE("a pick reports why no standby was chosen and which were skipped", "[balancer]") {
  Balancer b(Strategy::kPowerOfTwo, 1);
  Topology t = cluster(3);

  SECTION("only the primary is up") {
    for (NodeId i : {1, 2}) t.nodes[i].health = NodeHealth::kDown;
    t.nodes[3].weight = 0;
    const Pick p = b.pick(t, {});
    CHECK_FALSE(p.node);
    CHECK(p.reason == NoStandby::kNoneUp);
    CHECK(p.skipped_for_lag.empty());
    CHECK(p.skipped_not_caught_up.empty());
  }
  SECTION("every up standby lags; a down one is not reported as skipped") {
    t.nodes[1].lag_bytes = 2000;
    t.nodes[2].lag_seconds = 30;
    t.nodes[3].lag_bytes = 5000;
    t.nodes[3].health = NodeHealth::kDown;
    const Pick p = b.pick(t, {.lag = {.max_bytes = 1000, .max_time = 10s}});
    CHECK_FALSE(p.node);
    CHECK(p.reason == NoStandby::kAllLagging);
    CHECK(ids(p.skipped_for_lag) == std::vector<NodeId>{1, 2});
    CHECK(p.skipped_not_caught_up.empty());
  }
  SECTION("one lags, the others have not replayed the session's write") {
    t.nodes[1].lag_bytes = 2000;
    const std::array<Lsn, 4> replay{900, 900, 499, 0};
    const Pick p = b.pick(t, {.lag = {.max_bytes = 1000}, .min_replay_lsn = 500, .replay_lsn = replay});
    CHECK_FALSE(p.node);
    CHECK(p.reason == NoStandby::kNoneCaughtUp);
    CHECK(ids(p.skipped_for_lag) == std::vector<NodeId>{1});
    CHECK(ids(p.skipped_not_caught_up) == std::vector<NodeId>{2, 3});
  }
  SECTION("a standby is chosen while another is skipped for lag") {
    t.nodes[2].lag_bytes = 2000;
    t.nodes[3].health = NodeHealth::kFenced;
    for (int i = 0; i < 20; ++i) {
      const Pick p = b.pick(t, {.lag = {.max_bytes = 1000}});
      REQUIRE(p.node);
      CHECK(*p.node == 1);
      CHECK(ids(p.skipped_for_lag) == std::vector<NodeId>{2});
    }
  }
  CHECK(to_string(NoStandby::kAllLagging) == "all_lagging");
  CHECK(client_message(NoStandby::kNoneCaughtUp) == "no standby has replayed this session's last write yet");
}

TEST_CASE("p2c: with two candidates the less loaded one always wins", "[balancer]") {
  Topology t = cluster(2);
  Balancer b(Strategy::kPowerOfTwo, 42);
  std::array<std::uint32_t, 3> load{0, 5, 2};
  for (int i = 0; i < 200; ++i) CHECK(*b.pick(t, {.outstanding = load}).node == 2);
  load = {9, 1, 2};
  for (int i = 0; i < 200; ++i) CHECK(*b.pick(t, {.outstanding = load}).node == 1);
  // A node missing from the span counts as 0 outstanding.
  const std::array<std::uint32_t, 2> short_load{0, 3};
  for (int i = 0; i < 50; ++i) CHECK(*b.pick(t, {.outstanding = short_load}).node == 2);
}

TEST_CASE("p2c: equal load goes to the standby lagging clearly less, bytes first, then seconds", "[balancer]") {
  Topology t = cluster(2);
  Balancer b(Strategy::kPowerOfTwo, 7);
  const std::array<std::uint32_t, 3> load{0, 4, 4};
  t.nodes[1].lag_bytes = kLagTieBytes + 301;
  t.nodes[2].lag_bytes = 300;
  t.nodes[2].lag_seconds = 9;  // seconds only break a tie in bytes
  for (int i = 0; i < 100; ++i) CHECK(*b.pick(t, {.outstanding = load}).node == 2);
  t.nodes[1].lag_bytes = kLagTieBytes + 300;  // exactly kLagTieBytes apart: equal, seconds decide
  t.nodes[1].lag_seconds = 7.5;
  for (int i = 0; i < 100; ++i) CHECK(*b.pick(t, {.outstanding = load}).node == 1);
}

TEST_CASE("p2c: lag differences within the tie margins leave the choice to the draw", "[balancer]") {
  // Probes of the primary and the standbys happen at different moments, so an unloaded cluster shows
  // small, steady lag differences; they must not send every read to one standby.
  Topology t = cluster(2);
  t.nodes[1].lag_bytes = 4096;
  t.nodes[1].lag_seconds = 0.8;
  t.nodes[2].lag_bytes = 0;
  t.nodes[2].lag_seconds = 0;
  Balancer b(Strategy::kPowerOfTwo, 11);
  auto c = tally(b, t, {}, 2000);
  CHECK(c[1] == Approx(1000).margin(120));
  CHECK(c[2] == Approx(1000).margin(120));
  // Past the margin the less lagging one takes every tie.
  t.nodes[1].lag_bytes = kLagTieBytes + 1;
  c = tally(b, t, {}, 200);
  CHECK(c[2] == 200);
}

TEST_CASE("p2c: a single candidate is chosen whatever its load", "[balancer]") {
  Topology t = cluster(3);
  t.nodes[1].health = NodeHealth::kDrained;
  t.nodes[3].weight = 0;
  Balancer b(Strategy::kPowerOfTwo, 3);
  const std::array<std::uint32_t, 4> load{0, 0, 1000, 0};
  for (int i = 0; i < 50; ++i) CHECK(*b.pick(t, {.outstanding = load}).node == 2);
}

TEST_CASE("p2c: over many picks the least loaded wins whenever drawn, the most loaded never", "[balancer]") {
  // Three equal standbys; every pick draws two distinct ones, so the least loaded is in the pair
  // 2/3 of the time and the middle one wins only against the most loaded (1/3).
  Topology t = cluster(3);
  Balancer b(Strategy::kPowerOfTwo, 20240601);
  const std::array<std::uint32_t, 4> load{0, 20, 1, 10};
  auto c = tally(b, t, {.outstanding = load}, 9000);
  CHECK(c[2] == Approx(6000).margin(300));
  CHECK(c[3] == Approx(3000).margin(300));
  CHECK(c[1] == 0);
}

TEST_CASE("p2c: with equal load the weights decide", "[balancer]") {
  // Equal load and lag: the first draw wins, and it is drawn by weight.
  Topology t = cluster(3);
  t.nodes[1].weight = 1;
  t.nodes[2].weight = 1;
  t.nodes[3].weight = 8;
  Balancer b(Strategy::kPowerOfTwo, 99);
  auto c = tally(b, t, {}, 10000);
  CHECK(c[1] == Approx(1000).margin(150));
  CHECK(c[2] == Approx(1000).margin(150));
  CHECK(c[3] == Approx(8000).margin(150));
}

TEST_CASE("weighted: choices follow the weights; weight 0 and ineligible nodes are never chosen", "[balancer]") {
  Topology t = cluster(5);
  t.nodes[1].weight = 1;
  t.nodes[2].weight = 2;
  t.nodes[3].weight = 7;
  t.nodes[4].weight = 0;
  t.nodes[5].weight = 50;
  t.nodes[5].lag_bytes = 1u << 30;
  t.nodes[0].weight = 100;  // the primary: never a read candidate
  Balancer b(Strategy::kWeighted, 12345);
  auto c = tally(b, t, {.lag = {.max_bytes = 1u << 20}}, 10000);
  // Expected 1000 / 2000 / 7000; the standard deviation is at most 46, the margin 150.
  CHECK(c[1] == Approx(1000).margin(150));
  CHECK(c[2] == Approx(2000).margin(150));
  CHECK(c[3] == Approx(7000).margin(150));
  CHECK(c.count(0) == 0);
  CHECK(c.count(4) == 0);
  CHECK(c.count(5) == 0);
  // Load does not matter to weighted choice.
  const std::array<std::uint32_t, 6> load{0, 0, 0, 1000, 0, 0};
  auto c2 = tally(b, t, {.lag = {.max_bytes = 1u << 20}, .outstanding = load}, 10000);
  CHECK(c2[3] == Approx(7000).margin(150));
}

TEST_CASE("round-robin: node order, skipping ineligible nodes, wrapping", "[balancer]") {
  Topology t = cluster(4);
  Balancer b(Strategy::kRoundRobin, 0);
  auto next = [&] { return *b.pick(t, {.lag = {.max_bytes = 1000}}).node; };
  CHECK(std::vector<NodeId>{next(), next(), next(), next(), next(), next()} ==
        std::vector<NodeId>{1, 2, 3, 4, 1, 2});
  // Node 3 lags and node 4 goes down: the cursor (at 3) moves on to 1.
  t.nodes[3].lag_bytes = 5000;
  t.nodes[4].health = NodeHealth::kDown;
  CHECK(std::vector<NodeId>{next(), next(), next()} == std::vector<NodeId>{1, 2, 1});
  // Node 3 catches up and rejoins in its place.
  t.nodes[3].lag_bytes = 0;
  CHECK(std::vector<NodeId>{next(), next(), next(), next()} == std::vector<NodeId>{2, 3, 1, 2});
  // Weights other than 0 do not change the order.
  t.nodes[1].weight = 10;
  CHECK(std::vector<NodeId>{next(), next(), next()} == std::vector<NodeId>{3, 1, 2});
}

TEST_CASE("the same seed gives the same picks; another seed other picks", "[balancer]") {
  Topology t = cluster(4);
  const std::array<std::uint32_t, 5> load{0, 1, 1, 1, 1};
  auto run = [&](Strategy s, std::uint64_t seed) {
    Balancer b(s, seed);
    std::vector<NodeId> out;
    for (int i = 0; i < 64; ++i) out.push_back(*b.pick(t, {.outstanding = load}).node);
    return out;
  };
  CHECK(run(Strategy::kPowerOfTwo, 5) == run(Strategy::kPowerOfTwo, 5));
  CHECK(run(Strategy::kWeighted, 5) == run(Strategy::kWeighted, 5));
  CHECK(run(Strategy::kWeighted, 5) != run(Strategy::kWeighted, 6));

  Random r(0);
  CHECK(r.next() == 0xe220a8397b1dcdafULL);  // SplitMix64's first output for seed 0
  Random r2(17);
  for (int i = 0; i < 1000; ++i) {
    CHECK(r2.below(3) < 3);
    CHECK(r2.below(1) == 0);
  }
  CHECK(to_string(Strategy::kPowerOfTwo) == "p2c");
  CHECK(to_string(Strategy::kRoundRobin) == "round_robin");
  CHECK(to_string(Strategy::kWeighted) == "weighted");
}

TEST_CASE("policy: wants() by role and access", "[balancer]") {
  CHECK(wants(ListenerRole::kPrimary, Access::kReadOnly) == Wants::kPrimary);
  CHECK(wants(ListenerRole::kPrimary, Access::kReadWrite) == Wants::kPrimary);
  CHECK(wants(ListenerRole::kSplit, Access::kReadOnly) == Wants::kStandby);
  CHECK(wants(ListenerRole::kSplit, Access::kReadWrite) == Wants::kPrimary);
  CHECK(wants(ListenerRole::kReplica, Access::kReadOnly) == Wants::kStandby);
  CHECK(wants(ListenerRole::kReplica, Access::kReadWrite) == Wants::kStandby);
  CHECK(to_string(ListenerRole::kReplica) == "replica");
}

TEST_CASE("policy: every role, fallback, access and pick outcome", "[balancer]") {
  using K = Route::Kind;
  const std::array<NodeId, 1> lagging{3};
  Pick chosen;
  chosen.node = 2;
  chosen.skipped_for_lag = lagging;
  auto none = [&](NoStandby r) {
    Pick p;
    p.reason = r;
    p.skipped_for_lag = lagging;
    return p;
  };
  const std::array<Pick, 4> picks{chosen, none(NoStandby::kNoneUp), none(NoStandby::kAllLagging),
                                  none(NoStandby::kNoneCaughtUp)};

  struct Expect {
    K kind;
    bool fell_back;
  };
  // Expected route for (role, fallback, access, pick index).
  auto expected = [](ListenerRole role, ReplicaFallback fb, Access access, std::size_t pick) -> Expect {
    const bool wants_standby = role == ListenerRole::kReplica || (role == ListenerRole::kSplit && access == Access::kReadOnly);
    if (!wants_standby) return {K::kPrimary, false};
    if (pick == 0) return {K::kStandby, false};
    if (fb == ReplicaFallback::kPrimary) return {K::kPrimary, true};
    if (role == ListenerRole::kSplit && pick == 3) return {K::kPrimary, true};  // read-your-writes on split
    return {K::kRefused, false};
  };

  int cases = 0;
  for (ListenerRole role : {ListenerRole::kSplit, ListenerRole::kPrimary, ListenerRole::kReplica}) {
    for (ReplicaFallback fb : {ReplicaFallback::kPrimary, ReplicaFallback::kRefuse}) {
      for (Access access : {Access::kReadOnly, Access::kReadWrite}) {
        for (std::size_t i = 0; i < picks.size(); ++i) {
          INFO("role=" << to_string(role) << " fallback=" << (fb == ReplicaFallback::kPrimary ? "primary" : "refuse")
                       << " access=" << (access == Access::kReadOnly ? "ro" : "rw") << " pick=" << i);
          const Route r = decide_route({.role = role, .fallback = fb}, access, picks[i]);
          const Expect e = expected(role, fb, access, i);
          CHECK(to_string(r.kind) == to_string(e.kind));
          CHECK(r.fell_back == e.fell_back);
          if (r.kind == K::kStandby) CHECK(r.node == 2);
          if (r.kind == K::kRefused) {
            CHECK(r.reason == picks[i].reason);
            CHECK(r.error == client_message(picks[i].reason));
          } else {
            CHECK(r.error.empty());
          }
          if (r.fell_back) CHECK(r.reason == picks[i].reason);
          // The pick's skips travel with the route only when a pick was wanted.
          CHECK(r.skipped_for_lag.size() == (wants(role, access) == Wants::kStandby ? 1u : 0u));
          ++cases;
        }
      }
    }
  }
  CHECK(cases == 48);

  // Spot checks with the literal values, independent of the table above.
  const Route refused = decide_route({.role = ListenerRole::kReplica, .fallback = ReplicaFallback::kRefuse},
                                     Access::kReadOnly, picks[2]);
  CHECK(refused.kind == K::kRefused);
  CHECK(refused.error ==
        "no standby is available for reads: every standby lags behind the primary past the configured limit");
  const Route split_down = decide_route({.role = ListenerRole::kSplit}, Access::kReadOnly, picks[1]);
  CHECK(split_down.kind == K::kPrimary);
  CHECK(split_down.fell_back);
  CHECK(split_down.reason == NoStandby::kNoneUp);
}

TEST_CASE("policy: route() runs the balancer only when a standby is wanted", "[balancer]") {
  Topology t = cluster(3);
  Balancer b(Strategy::kRoundRobin, 0);
  const RoutePolicy split{.role = ListenerRole::kSplit};
  Route r = route(split, Access::kReadOnly, b, t, {});
  CHECK(r.kind == Route::Kind::kStandby);
  CHECK(r.node == 1);
  // Writes and primary listeners leave the round-robin cursor where it was.
  CHECK(route(split, Access::kReadWrite, b, t, {}).kind == Route::Kind::kPrimary);
  CHECK(route({.role = ListenerRole::kPrimary}, Access::kReadOnly, b, t, {}).kind == Route::Kind::kPrimary);
  r = route(split, Access::kReadOnly, b, t, {});
  CHECK(r.node == 2);
  // All standbys lagging on a replica listener without fallback: refused, skips reported.
  for (NodeId i : {1, 2, 3}) t.nodes[i].lag_seconds = 60;
  r = route({.role = ListenerRole::kReplica, .fallback = ReplicaFallback::kRefuse}, Access::kReadOnly, b, t,
            {.lag = {.max_time = 30s}});
  CHECK(r.kind == Route::Kind::kRefused);
  CHECK(r.reason == NoStandby::kAllLagging);
  CHECK(ids(r.skipped_for_lag) == std::vector<NodeId>{1, 2, 3});
}
