// Building and describing Topology snapshots.
#include "health/topology.hpp"

namespace baton::health {

std::string_view to_string(NodeRole r) {
  switch (r) {
    case NodeRole::kUnknown: return "unknown";
    case NodeRole::kPrimary: return "primary";
    case NodeRole::kStandby: return "standby";
  }
  return "?";
}

std::string_view to_string(NodeHealth h) {
  switch (h) {
    case NodeHealth::kUp: return "up";
    case NodeHealth::kSuspect: return "suspect";
    case NodeHealth::kDown: return "down";
    case NodeHealth::kFenced: return "fenced";
    case NodeHealth::kDrained: return "drained";
  }
  return "?";
}

bool Topology::has_writable_primary() const {
  return primary && *primary < nodes.size() && nodes[*primary].role == NodeRole::kPrimary &&
         nodes[*primary].health == NodeHealth::kUp;
}

std::optional<NodeId> Topology::find(std::string_view name) const {
  for (NodeId i = 0; i < nodes.size(); ++i) {
    if (nodes[i].name == name) return i;
  }
  return std::nullopt;
}

std::optional<NodeId> Topology::find_by_address(std::string_view host, std::uint16_t port) const {
  for (NodeId i = 0; i < nodes.size(); ++i) {
    if (nodes[i].host == host && nodes[i].port == port) return i;
  }
  return std::nullopt;
}

Topology make_topology(const std::vector<NodeSpec>& specs, std::uint64_t epoch) {
  Topology t;
  t.epoch = epoch;
  t.nodes.reserve(specs.size());
  for (const NodeSpec& s : specs) {
    NodeState n;
    n.name = s.name;
    n.host = s.host;
    n.port = s.port;
    n.weight = s.weight;
    n.priority = s.priority;
    n.no_promote = s.no_promote;
    t.nodes.push_back(std::move(n));
  }
  return t;
}

void apply_change(Topology& t, const TopologyChange& change) {
  if (change.epoch && *change.epoch > t.epoch) t.epoch = *change.epoch;
  if (change.primary) {
    const std::optional<NodeId>& p = *change.primary;
    if (!p || *p < t.nodes.size()) t.primary = p;
  }
  for (const NodeChange& c : change.nodes) {
    if (c.node >= t.nodes.size()) continue;
    NodeState& n = t.nodes[c.node];
    if (c.role) n.role = *c.role;
    if (c.health) n.health = *c.health;
    if (c.lag_bytes) n.lag_bytes = *c.lag_bytes;
    if (c.lag_seconds) n.lag_seconds = *c.lag_seconds;
    if (c.timeline) n.timeline = *c.timeline;
    if (c.weight) n.weight = *c.weight;
  }
}

TopologyPtr next_topology(const Topology& previous, const TopologyChange& change) {
  auto next = std::make_shared<Topology>(previous);
  apply_change(*next, change);
  return next;
}

std::string describe(const Topology& t) {
  std::string out = "epoch=" + std::to_string(t.epoch) + " primary=";
  out += t.primary && *t.primary < t.nodes.size() ? t.nodes[*t.primary].name : "-";
  for (const NodeState& n : t.nodes) {
    out += ' ';
    out += n.name;
    out += '=';
    if (n.health == NodeHealth::kFenced) {
      out += "fenced";
      continue;
    }
    out += to_string(n.role);
    out += '/';
    out += to_string(n.health);
  }
  return out;
}

}  // namespace baton::health
