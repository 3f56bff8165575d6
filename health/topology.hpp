// The cluster as the control plane knows it: an immutable, epoch-versioned snapshot of nodes and roles.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace baton::health {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = std::chrono::milliseconds;

using NodeId = std::size_t;  // index into the cluster's node list (config order)
using Lsn = std::uint64_t;   // a WAL position as a byte offset

enum class NodeRole { kUnknown, kPrimary, kStandby };
// kSuspect: the primary's probes fail but it is not yet confirmed down. kDown: no traffic.
// kFenced: never routed to until an operator re-adds it. kDrained: no new traffic (admin).
enum class NodeHealth { kUp, kSuspect, kDown, kFenced, kDrained };

std::string_view to_string(NodeRole r);
std::string_view to_string(NodeHealth h);

// What the configuration says about a node (the static part).
struct NodeSpec {
  std::string name;
  std::string host;
  std::uint16_t port = 5432;
  int weight = 1;
  int priority = 0;  // failover: higher is preferred
  bool no_promote = false;
};

struct NodeState {
  std::string name;
  std::string host;
  std::uint16_t port = 5432;
  NodeRole role = NodeRole::kUnknown;
  NodeHealth health = NodeHealth::kDown;
  std::uint64_t lag_bytes = 0;  // primary's current LSN minus this node's replay LSN
  double lag_seconds = 0;       // replay lag in time (FailoverMachine::lag_seconds())
  std::uint32_t timeline = 0;
  int weight = 1;
  int priority = 0;
  bool no_promote = false;

  bool operator==(const NodeState&) const = default;
};

struct Topology {
  std::uint64_t epoch = 0;  // rises at every failover or switchover
  std::vector<NodeState> nodes;
  std::optional<NodeId> primary;

  bool operator==(const Topology&) const = default;

  // True when the primary is known and may take writes.
  bool has_writable_primary() const;
  std::optional<NodeId> find(std::string_view name) const;
  std::optional<NodeId> find_by_address(std::string_view host, std::uint16_t port) const;
};

using TopologyPtr = std::shared_ptr<const Topology>;

// Every node down with unknown role, epoch as given, no primary.
Topology make_topology(const std::vector<NodeSpec>& specs, std::uint64_t epoch);

// A change to one node; unset fields stay as they were.
struct NodeChange {
  NodeId node = 0;
  std::optional<NodeRole> role;
  std::optional<NodeHealth> health;
  std::optional<std::uint64_t> lag_bytes;
  std::optional<double> lag_seconds;
  std::optional<std::uint32_t> timeline;
  std::optional<int> weight;
};

// A change to a snapshot; unset fields stay as they were.
struct TopologyChange {
  std::optional<std::uint64_t> epoch;            // ignored when lower than the current epoch
  std::optional<std::optional<NodeId>> primary;  // set: the new primary (inner nullopt: none)
  std::vector<NodeChange> nodes;                 // changes naming an unknown node are ignored
};

// Applies a change in place (the control plane's working copy).
void apply_change(Topology& topology, const TopologyChange& change);
// The next immutable snapshot: a copy of `previous` with `change` applied.
TopologyPtr next_topology(const Topology& previous, const TopologyChange& change);

// "epoch=2 primary=b a=fenced b=primary/up c=standby/up" (for logs and tests).
std::string describe(const Topology& topology);

}  // namespace baton::health
