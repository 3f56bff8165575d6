// Unit tests for standby election (received WAL, lag limit, priority, name) and the witness count.
#include <catch2/catch.hpp>

#include "health/election.hpp"

using namespace baton::health;

namespace {

// a is the primary; b, c, d are standbys, all up.
Topology cluster() {
  Topology t;
  for (const char* n : {"a", "b", "c", "d"}) {
    NodeState s;
    s.name = n;
    s.role = NodeRole::kStandby;
    s.health = NodeHealth::kUp;
    t.nodes.push_back(s);
  }
  t.nodes[0].role = NodeRole::kPrimary;
  t.primary = 0;
  return t;
}

StandbyFacts standby(NodeId id, Lsn receive, std::optional<NodeId> from = std::nullopt) {
  return {.node = id, .reachable = true, .in_recovery = true, .receive_lsn = receive, .streaming_from = from};
}

std::vector<NodeId> elect(const Topology& t, const std::vector<StandbyFacts>& f, Lsn reference, std::uint64_t lag,
                          std::vector<NodeId> exclude = {}) {
  return elect_standbys(t, f, {.reference_lsn = reference, .max_lag_bytes = lag, .exclude = exclude});
}

}  // namespace

TEST_CASE("election orders by receive LSN, then priority, then name", "[failover][election]") {
  Topology t = cluster();
  std::vector<StandbyFacts> f = {StandbyFacts{}, standby(1, 500), standby(2, 900), standby(3, 700)};
  CHECK(elect(t, f, 0, 1000) == std::vector<NodeId>{2, 3, 1});

  f = {standby(1, 900), standby(2, 900), standby(3, 900)};
  t.nodes[3].priority = 10;
  CHECK(elect(t, f, 0, 1000) == std::vector<NodeId>{3, 1, 2});  // d by priority, then b before c by name
}

TEST_CASE("election skips no_promote, down, drained, unreachable, not-in-recovery and excluded nodes",
          "[failover][election]") {
  Topology t = cluster();
  t.nodes.push_back(t.nodes[1]);
  t.nodes.back().name = "e";
  t.nodes.push_back(t.nodes[1]);
  t.nodes.back().name = "f";
  t.nodes[1].no_promote = true;
  t.nodes[2].health = NodeHealth::kDown;
  t.nodes[3].health = NodeHealth::kDrained;
  std::vector<StandbyFacts> f = {standby(1, 900), standby(2, 900), standby(3, 900), standby(4, 800),
                                 standby(5, 800)};
  f[4].reachable = false;
  CHECK(elect(t, f, 0, 1000) == std::vector<NodeId>{4});
  f[4].reachable = true;
  f[3].in_recovery = false;
  CHECK(elect(t, f, 0, 1000) == std::vector<NodeId>{5});
  CHECK(elect(t, f, 0, 1000, {5}).empty());
  // The primary itself is never a candidate, whatever its facts say.
  CHECK(elect(t, {standby(0, 5000)}, 0, 1000).empty());
}

TEST_CASE("election drops standbys further than max lag behind the best known position", "[failover][election]") {
  Topology t = cluster();
  std::vector<StandbyFacts> f = {standby(1, 10'000), standby(2, 9'000), standby(3, 8'999)};
  t.nodes[3].priority = 100;  // priority does not rescue a lagging standby
  CHECK(elect(t, f, 0, 1000) == std::vector<NodeId>{1, 2});
  // The old primary's last known position counts as the best: both b and c are now too far behind.
  CHECK(elect(t, f, 11'001, 1000).empty());
  CHECK(elect(t, f, 11'000, 1000) == std::vector<NodeId>{1});
}

TEST_CASE("witnesses: most reachable standbys streaming from the primary means it is alive", "[failover][election]") {
  Topology t = cluster();
  std::vector<StandbyFacts> f = {standby(1, 1, 0), standby(2, 1, 0), standby(3, 1)};
  WitnessCount w = count_witnesses(t, f, 0);
  CHECK(w.reachable == 3);
  CHECK(w.streaming_from_primary == 2);
  CHECK(w.primary_alive());

  f[1].streaming_from = 1;  // cascading from b, not from the primary
  w = count_witnesses(t, f, 0);
  CHECK(w.streaming_from_primary == 1);
  CHECK_FALSE(w.primary_alive());  // 1 of 3 is not most

  f = {standby(1, 1, 0), standby(2, 1)};
  CHECK_FALSE(count_witnesses(t, f, 0).primary_alive());  // 1 of 2: a tie is not most

  f[1].reachable = false;  // unreachable standbys are not asked
  w = count_witnesses(t, f, 0);
  CHECK(w.reachable == 1);
  CHECK(w.primary_alive());

  t.nodes[1].health = NodeHealth::kFenced;  // fenced nodes are no witnesses
  w = count_witnesses(t, f, 0);
  CHECK(w.reachable == 0);
  CHECK_FALSE(w.primary_alive());
}
