// What a configuration reload may change while baton runs: a pure comparison of the running and the new Config.
//
// Applied live (the new value takes effect for new work; nothing is dropped):
//   general.log_level, general.client_login_timeout, general.shutdown_timeout
//   admin.token
//   pool.* (every key)
//   users: added, removed, and each user's auth, password, scram_verifier, server_user, server_password,
//          pool_mode, pool_size (new logins and new server connections use them; pools of a removed user
//          or of a changed server login are drained by the caller)
//   listeners[name]: pool_mode, replica_fallback, read_your_writes
//   clusters[name]: max_replica_lag, max_replica_lag_time, balancer, volatile_functions,
//                   failover.buffer_timeout (read by each new transaction)
//   clusters[name].nodes[name]: weight, priority, no_promote
//
// Kept at the running value until baton restarts (each reported with the value kept):
//   general.workers, general.max_message_size (workers and their buffers are sized at start)
//   admin.listen, admin.tls (the admin socket and its TLS context are made at start)
//   listeners added or removed; a listener's protocol, listen, cluster, role, tls (sockets and TLS
//     contexts are made at start, and sessions already hold their listener's cluster and role)
//   clusters added or removed; a cluster's protocol, server_tls (server connections and the monitor are
//     built at start), monitor_user/_password/_database and every failover.* key but buffer_timeout
//     (the cluster's monitor is built at start with them; failover.mode in particular could not be
//     changed safely in the middle of a failover, and failover.state_file must keep one record)
//   nodes added or removed (a node is known by its name: a renamed node is one removed and one added),
//     a node's host and port, and the order of a cluster's nodes
//
// Lines never contain secrets: a changed password, verifier, token or hook command is only said to have
// changed (hook commands may carry credentials).
#pragma once

#include <string>
#include <vector>

#include "proxy/config/config.hpp"

namespace baton::proxy {

struct ReloadPlan {
  // The configuration to run with: `fresh`, with every change that cannot be applied live replaced by the
  // running value (so its listeners, clusters and nodes are the running ones, in the running order).
  Config effective;
  // One line per change applied, e.g. "pool.pool_size: 20 -> 30", "users[app]: password changed",
  // "users[bob]: added", "clusters[main].nodes[pg2].weight: 1 -> 3".
  std::vector<std::string> applied;
  // One line per change refused, with the key, the value kept and why, e.g.
  // "listeners[pg].listen: cannot change while running (kept 127.0.0.1:6432); restart baton to apply".
  std::vector<std::string> kept;

  bool changed() const { return !applied.empty() || !kept.empty(); }
};

// Both configurations must be valid (as load_config returns them).
ReloadPlan plan_reload(const Config& running, const Config& fresh);

}  // namespace baton::proxy
