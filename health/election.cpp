// Standby election by received WAL, lag limit and priority; the witness count of streaming standbys.
#include "health/election.hpp"

#include <algorithm>

namespace baton::health {

namespace {

bool promotable(const Topology& t, const StandbyFacts& f, std::span<const NodeId> exclude) {
  if (f.node >= t.nodes.size() || t.primary == f.node) return false;
  const NodeState& n = t.nodes[f.node];
  return n.role == NodeRole::kStandby && n.health == NodeHealth::kUp && !n.no_promote && f.reachable &&
         f.in_recovery && std::find(exclude.begin(), exclude.end(), f.node) == exclude.end();
}

}  // namespace

std::vector<NodeId> elect_standbys(const Topology& t, std::span<const StandbyFacts> facts,
                                   const ElectionRules& rules) {
  std::vector<const StandbyFacts*> pool;
  Lsn best = rules.reference_lsn;
  for (const StandbyFacts& f : facts) {
    if (!promotable(t, f, rules.exclude)) continue;
    pool.push_back(&f);
    best = std::max(best, f.receive_lsn);
  }
  std::erase_if(pool, [&](const StandbyFacts* f) { return best - f->receive_lsn > rules.max_lag_bytes; });
  std::sort(pool.begin(), pool.end(), [&](const StandbyFacts* a, const StandbyFacts* b) {
    if (a->receive_lsn != b->receive_lsn) return a->receive_lsn > b->receive_lsn;
    const NodeState& na = t.nodes[a->node];
    const NodeState& nb = t.nodes[b->node];
    if (na.priority != nb.priority) return na.priority > nb.priority;
    return na.name < nb.name;
  });
  std::vector<NodeId> out;
  out.reserve(pool.size());
  for (const StandbyFacts* f : pool) out.push_back(f->node);
  return out;
}

WitnessCount count_witnesses(const Topology& t, std::span<const StandbyFacts> facts, NodeId primary) {
  WitnessCount w;
  for (const StandbyFacts& f : facts) {
    if (f.node == primary || f.node >= t.nodes.size() || !f.reachable || !f.in_recovery) continue;
    if (t.nodes[f.node].health == NodeHealth::kFenced) continue;
    ++w.reachable;
    if (f.streaming_from == primary) ++w.streaming_from_primary;
  }
  return w;
}

}  // namespace baton::health
