// What the admin API shows: a plain, read-only snapshot the control plane assembles for each request.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "health/topology.hpp"

namespace baton::proxy::admin {

struct NodeView {
  std::string name;
  std::string host;
  std::uint16_t port = 0;
  health::NodeRole role = health::NodeRole::kUnknown;
  health::NodeHealth health = health::NodeHealth::kDown;
  std::uint64_t lag_bytes = 0;
  double lag_seconds = 0;
  std::uint32_t timeline = 0;
  int weight = 1;
  int priority = 0;
  bool no_promote = false;
};

struct ClusterView {
  std::string name;
  std::string protocol;  // "postgres", "mysql"
  std::uint64_t epoch = 0;
  std::optional<std::string> primary;  // name of the node taking writes; none during a failover
  std::string failover_state;          // "healthy", "primary_suspect", "failing_over", ...
  bool writes_paused = false;
  std::vector<NodeView> nodes;

  const NodeView* find_node(std::string_view node) const;
};

// One pool: server connections to (node, database, user), summed over workers.
struct PoolView {
  std::string cluster;
  std::string node;
  std::string database;
  std::string user;
  std::string mode;  // "transaction", "session"
  int size = 0;      // configured maximum
  int active = 0;    // leased to clients
  int idle = 0;      // ready in the pool
  int opening = 0;   // connecting or logging in
  int waiting = 0;   // clients queued for a connection
};

// One listener and its client connections by state.
struct ListenerView {
  std::string name;
  std::string protocol;
  std::string host;
  std::uint16_t port = 0;
  std::string cluster;
  std::string role;  // "split", "primary", "replica"
  bool up = false;   // accepting connections
  int active = 0;    // clients with a server connection
  int waiting = 0;   // clients queued for one
  int idle = 0;      // clients between transactions
  int idle_hot = 0;  // of those, waiting for their next request with their coroutine (active lately)
};

struct EventView {
  std::chrono::system_clock::time_point time;
  std::string cluster;  // "" when not about one cluster
  std::string text;
};

// Everything the routes read. The control plane fills it on its own thread.
struct AdminView {
  std::string version;
  std::chrono::seconds uptime{0};
  bool shutting_down = false;  // SIGTERM received: /readyz answers 503 so traffic moves away
  // Worker event loops that did not answer the control plane within its bound (/healthz: 503).
  std::vector<int> stalled_workers;
  std::vector<ClusterView> clusters;
  std::vector<ListenerView> listeners;
  std::vector<PoolView> pools;
  std::vector<EventView> events;  // oldest first, bounded by the control plane
  // The Prometheus text of every metric (Metrics::serialize); called only for GET /metrics.
  std::function<std::string()> metrics_text;

  const ClusterView* find_cluster(std::string_view cluster) const;
};

inline const NodeView* ClusterView::find_node(std::string_view node) const {
  for (const NodeView& n : nodes) {
    if (n.name == node) return &n;
  }
  return nullptr;
}

inline const ClusterView* AdminView::find_cluster(std::string_view cluster) const {
  for (const ClusterView& c : clusters) {
    if (c.name == cluster) return &c;
  }
  return nullptr;
}

}  // namespace baton::proxy::admin
