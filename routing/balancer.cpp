// Choosing a standby for a read: the eligibility checks and the three balancing strategies.
#include "routing/balancer.hpp"

#include <cmath>

namespace baton::routing {

using health::NodeId;
using health::NodeState;

std::string_view to_string(Strategy s) {
  switch (s) {
    case Strategy::kPowerOfTwo: return "p2c";
    case Strategy::kRoundRobin: return "round_robin";
    case Strategy::kWeighted: return "weighted";
  }
  return "?";
}

std::string_view to_string(Eligibility e) {
  switch (e) {
    case Eligibility::kEligible: return "eligible";
    case Eligibility::kNotStandby: return "not_standby";
    case Eligibility::kNotUp: return "not_up";
    case Eligibility::kNoWeight: return "no_weight";
    case Eligibility::kLagging: return "lagging";
    case Eligibility::kNotCaughtUp: return "not_caught_up";
  }
  return "?";
}

std::string_view to_string(NoStandby r) {
  switch (r) {
    case NoStandby::kNoneUp: return "none_up";
    case NoStandby::kAllLagging: return "all_lagging";
    case NoStandby::kNoneCaughtUp: return "none_caught_up";
  }
  return "?";
}

std::string_view client_message(NoStandby r) {
  switch (r) {
    case NoStandby::kNoneUp: return "no standby is available for reads: none is up";
    case NoStandby::kAllLagging:
      return "no standby is available for reads: every standby lags behind the primary past the configured limit";
    case NoStandby::kNoneCaughtUp: return "no standby has replayed this session's last write yet";
  }
  return "no standby is available for reads";
}

std::uint64_t Random::next() {
  // SplitMix64 (Steele, Lea, Flood 2014): a Weyl sequence passed through a mixing function.
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t Random::below(std::uint64_t bound) {
  // Multiply-shift (Lemire): the high 64 bits of next() * bound, uniform up to a bias of bound / 2^64.
  __extension__ using Wide = unsigned __int128;
  return static_cast<std::uint64_t>((static_cast<Wide>(next()) * bound) >> 64);
}

namespace {

bool lagging(const NodeState& n, const LagLimits& lag) {
  if (lag.max_bytes != 0 && n.lag_bytes > lag.max_bytes) return true;
  if (lag.max_time.count() > 0 && n.lag_seconds * 1000.0 > static_cast<double>(lag.max_time.count())) return true;
  return false;
}

template <typename T>
T at_or(std::span<const T> values, NodeId node, T fallback) {
  return node < values.size() ? values[node] : fallback;
}

}  // namespace

Eligibility eligibility(const health::Topology& topology, NodeId node, const PickOptions& options) {
  if (node >= topology.nodes.size()) return Eligibility::kNotStandby;
  const NodeState& n = topology.nodes[node];
  if (n.role != health::NodeRole::kStandby) return Eligibility::kNotStandby;
  if (n.health != health::NodeHealth::kUp) return Eligibility::kNotUp;
  if (n.weight <= 0) return Eligibility::kNoWeight;
  if (lagging(n, options.lag)) return Eligibility::kLagging;
  if (options.min_replay_lsn) {
    const health::Lsn replayed = at_or<health::Lsn>(options.replay_lsn, node, 0);
    if (replayed == 0 || replayed < *options.min_replay_lsn) return Eligibility::kNotCaughtUp;
  }
  return Eligibility::kEligible;
}

Balancer::Balancer(Strategy strategy, std::uint64_t seed) : strategy_(strategy), random_(seed) {}

Pick Balancer::pick(const health::Topology& topology, const PickOptions& options) {
  eligible_.clear();
  lagging_.clear();
  behind_.clear();
  for (NodeId id = 0; id < topology.nodes.size(); ++id) {
    switch (eligibility(topology, id, options)) {
      case Eligibility::kEligible: eligible_.push_back(id); break;
      case Eligibility::kLagging: lagging_.push_back(id); break;
      case Eligibility::kNotCaughtUp: behind_.push_back(id); break;
      default: break;
    }
  }
  Pick out;
  out.skipped_for_lag = lagging_;
  out.skipped_not_caught_up = behind_;
  if (eligible_.empty()) {
    if (!behind_.empty()) {
      out.reason = NoStandby::kNoneCaughtUp;
    } else if (!lagging_.empty()) {
      out.reason = NoStandby::kAllLagging;
    } else {
      out.reason = NoStandby::kNoneUp;
    }
    return out;
  }
  switch (strategy_) {
    case Strategy::kPowerOfTwo: out.node = pick_power_of_two(topology, options); break;
    case Strategy::kRoundRobin: out.node = pick_round_robin(); break;
    case Strategy::kWeighted: out.node = pick_weighted(topology, std::nullopt); break;
  }
  return out;
}

// One eligible node drawn with probability weight / total weight, leaving out `exclude`.
NodeId Balancer::pick_weighted(const health::Topology& topology, std::optional<NodeId> exclude) {
  std::uint64_t total = 0;
  for (NodeId id : eligible_) {
    if (id != exclude) total += static_cast<std::uint64_t>(topology.nodes[id].weight);
  }
  std::uint64_t point = random_.below(total);
  for (NodeId id : eligible_) {
    if (id == exclude) continue;
    const auto w = static_cast<std::uint64_t>(topology.nodes[id].weight);
    if (point < w) return id;
    point -= w;
  }
  return eligible_.back();  // not reached: point < total
}

NodeId Balancer::pick_power_of_two(const health::Topology& topology, const PickOptions& options) {
  const NodeId first = pick_weighted(topology, std::nullopt);
  if (eligible_.size() == 1) return first;
  const NodeId second = pick_weighted(topology, first);
  const std::uint32_t load_first = at_or<std::uint32_t>(options.outstanding, first, 0);
  const std::uint32_t load_second = at_or<std::uint32_t>(options.outstanding, second, 0);
  if (load_first != load_second) return load_first < load_second ? first : second;
  // Lag decides only where it clearly differs: probes of the primary and of each standby happen at
  // different moments, so small differences are noise, and letting them decide would send every read
  // of an unloaded cluster to whichever standby happened to be probed last.
  const NodeState& a = topology.nodes[first];
  const NodeState& b = topology.nodes[second];
  const std::uint64_t bytes_apart = a.lag_bytes > b.lag_bytes ? a.lag_bytes - b.lag_bytes : b.lag_bytes - a.lag_bytes;
  if (bytes_apart > kLagTieBytes) return a.lag_bytes < b.lag_bytes ? first : second;
  if (std::abs(a.lag_seconds - b.lag_seconds) > kLagTieSeconds) return a.lag_seconds < b.lag_seconds ? first : second;
  return first;
}

NodeId Balancer::pick_round_robin() {
  // eligible_ is in node order: the first id at or after the cursor, else wrap to the first.
  NodeId chosen = eligible_.front();
  for (NodeId id : eligible_) {
    if (id >= next_round_robin_) {
      chosen = id;
      break;
    }
  }
  next_round_robin_ = chosen + 1;
  return chosen;
}

}  // namespace baton::routing
