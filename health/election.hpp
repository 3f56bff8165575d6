// Choosing which standby to promote, and asking the standbys whether the primary is really gone.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "health/topology.hpp"

namespace baton::health {

// What the latest probe of a node said, as far as election and the witness check need it.
struct StandbyFacts {
  NodeId node = 0;
  bool reachable = false;  // the latest probe succeeded
  bool in_recovery = false;
  Lsn receive_lsn = 0;
  std::optional<NodeId> streaming_from;  // the node its WAL receiver streams from, if any
};

struct ElectionRules {
  Lsn reference_lsn = 0;           // the old primary's last known position (0: unknown)
  std::uint64_t max_lag_bytes = 0;  // a candidate further than this behind the best is not eligible
  std::span<const NodeId> exclude;  // already tried
};

// Eligible standbys, best first. Eligible: a standby in the topology, health up, not no_promote, not
// excluded, reachable and in recovery, and whose receive LSN is within max_lag_bytes of the best known
// position (the highest of reference_lsn and every eligible standby's receive LSN). Order: highest
// receive LSN, then highest priority, then name.
std::vector<NodeId> elect_standbys(const Topology& topology, std::span<const StandbyFacts> facts,
                                   const ElectionRules& rules);

// How many reachable standbys still stream from the primary.
struct WitnessCount {
  int reachable = 0;
  int streaming_from_primary = 0;
  // Most reachable standbys still stream from it: the primary is alive, only our path to it is broken.
  bool primary_alive() const { return streaming_from_primary * 2 > reachable; }
};
WitnessCount count_witnesses(const Topology& topology, std::span<const StandbyFacts> facts, NodeId primary);

}  // namespace baton::health
