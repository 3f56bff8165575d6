// What the failover machine asks for: promote, re-point, fence, pause/resume writes, publish, alert.
//
// Contract for whoever runs them: actions of one batch run in order. WaitReplay is always followed
// by the PromoteNode of the same node; if the wait fails or times out, the promotion is not attempted
// and PromoteFailed is reported for that node.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "health/topology.hpp"

namespace baton::health {

struct PromoteNode {
  NodeId node = 0;
  std::uint64_t epoch = 0;  // the epoch the cluster enters if the promotion succeeds
};
struct RepointStandby {
  NodeId node = 0;
  NodeId new_primary = 0;
};
struct FenceNode {
  NodeId node = 0;
};
struct PauseWrites {};   // workers hold new transactions that need the primary
struct ResumeWrites {};  // and let them go (to the published primary, or fail them when none)
struct WaitReplay {
  NodeId node = 0;
  Lsn lsn = 0;  // wait until the node has replayed up to here
};
struct MakeReadOnly {
  NodeId node = 0;
};
struct MakeWritable {  // undo MakeReadOnly after an aborted switchover
  NodeId node = 0;
};
struct PublishTopology {
  TopologyPtr topology;
};
struct RaiseAlert {
  std::string text;
};
// Persist the fencing state (see state_file.hpp) before the new topology is published.
struct RecordState {
  std::uint64_t epoch = 0;
  std::uint32_t timeline = 0;
  std::string primary;              // "" when none
  std::vector<std::string> fenced;  // node names
};

using Action = std::variant<PromoteNode, RepointStandby, FenceNode, PauseWrites, ResumeWrites, WaitReplay,
                            MakeReadOnly, MakeWritable, PublishTopology, RaiseAlert, RecordState>;

// One line for logs and tests, e.g. "PromoteNode{node=1 epoch=2}". Node ids are printed as numbers;
// PublishTopology prints describe() of its snapshot.
std::string to_string(const Action& a);

}  // namespace baton::health
