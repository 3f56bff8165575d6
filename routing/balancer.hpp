// Choosing a standby for a read: who is eligible (role, health, weight, lag, read-your-writes) and which one gets it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "health/topology.hpp"

namespace baton::routing {

// How a read picks among the eligible standbys of a cluster.
//  kPowerOfTwo: draw two distinct standbys at random (weighted by weight), keep the one with fewer
//               requests outstanding; a tie goes to the one lagging clearly less (by more than
//               kLagTieBytes, else by more than kLagTieSeconds), else to the first draw.
//  kRoundRobin: the next eligible standby in node order after the last one chosen (weights ignored).
//  kWeighted:   one standby at random, with probability proportional to its weight.
enum class Strategy { kPowerOfTwo, kRoundRobin, kWeighted };
std::string_view to_string(Strategy s);  // "p2c", "round_robin", "weighted"

// Lag differences up to these count as equal when p2c breaks a tie in load.
inline constexpr std::uint64_t kLagTieBytes = 1u << 20;
inline constexpr double kLagTieSeconds = 1.0;

// Replication lag past which a standby leaves rotation. Zero means no limit.
struct LagLimits {
  std::uint64_t max_bytes = 0;    // compared with NodeState::lag_bytes (a standby at the limit is kept)
  health::Duration max_time{0};   // compared with NodeState::lag_seconds (likewise)
};

// What a pick needs besides the topology. Spans are indexed by NodeId; entries they lack count as
// 0 outstanding and an unknown replay position.
struct PickOptions {
  LagLimits lag;
  std::span<const std::uint32_t> outstanding;  // requests in flight on each node (the caller's own view)
  // Read-your-writes: only standbys known to have replayed at least this position qualify.
  std::optional<health::Lsn> min_replay_lsn;
  std::span<const health::Lsn> replay_lsn;     // each node's replay position; 0 = unknown
};

// Why a node is or is not a candidate, in the order the checks run (the first failing one wins).
enum class Eligibility {
  kEligible,
  kNotStandby,   // role primary or unknown
  kNotUp,        // suspect, down, fenced or drained
  kNoWeight,     // weight <= 0: out of rotation by configuration
  kLagging,      // lag_bytes or lag_seconds past the limits
  kNotCaughtUp,  // read-your-writes: replay position unknown or behind min_replay_lsn
};
std::string_view to_string(Eligibility e);

Eligibility eligibility(const health::Topology& topology, health::NodeId node, const PickOptions& options);

// Why no standby was chosen.
enum class NoStandby {
  kNoneUp,        // no standby is up with a weight above zero
  kAllLagging,    // every such standby lags past the limits
  kNoneCaughtUp,  // read-your-writes: none within the lag limits has replayed far enough
};
std::string_view to_string(NoStandby r);        // "none_up", "all_lagging", "none_caught_up"
std::string_view client_message(NoStandby r);   // a sentence for an error a client reads

struct Pick {
  std::optional<health::NodeId> node;
  NoStandby reason = NoStandby::kNoneUp;  // meaningful when node is empty
  // Up standbys left out of this pick (for metrics). They view the Balancer's storage: valid until its next pick.
  std::span<const health::NodeId> skipped_for_lag;
  std::span<const health::NodeId> skipped_not_caught_up;
};

// A small, fast pseudo-random generator (SplitMix64): the same seed gives the same sequence.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  // Uniform in [0, bound); bound > 0.
  std::uint64_t below(std::uint64_t bound);

 private:
  std::uint64_t state_;
};

// One per cluster per worker (not thread-safe). Holds the random state, the round-robin cursor and
// scratch space reused across picks, so a pick allocates nothing once the scratch has grown to the
// cluster's size. No clock, no I/O.
class Balancer {
 public:
  Balancer(Strategy strategy, std::uint64_t seed);

  Pick pick(const health::Topology& topology, const PickOptions& options);

  Strategy strategy() const { return strategy_; }
  void set_strategy(Strategy s) { strategy_ = s; }

 private:
  health::NodeId pick_power_of_two(const health::Topology& topology, const PickOptions& options);
  health::NodeId pick_round_robin();
  health::NodeId pick_weighted(const health::Topology& topology, std::optional<health::NodeId> exclude);

  Strategy strategy_;
  Random random_;
  health::NodeId next_round_robin_ = 0;  // the first node id the next round-robin pick considers
  std::vector<health::NodeId> eligible_;
  std::vector<health::NodeId> lagging_;
  std::vector<health::NodeId> behind_;
};

}  // namespace baton::routing
