// A request's server connection: which node it goes to (the primary, or a standby for a read),
// attaching an idle pooled connection or waiting for one, giving it the client's parameters, and
// giving it back.
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "protocol/pg/be.hpp"
#include "protocol/pg/fe.hpp"
#include "protocol/pg/frame.hpp"
#include "protocol/pg/sqlstate.hpp"
#include "proxy/app.hpp"
#include "proxy/log/log.hpp"
#include "proxy/net/worker.hpp"
#include "proxy/pg/io.hpp"
#include "proxy/pg/session.hpp"
#include "routing/replica_policy.hpp"

namespace baton::proxy::pg {

namespace pgp = protocol::pg;
namespace be = protocol::pg::be;
namespace fe = protocol::pg::fe;
namespace sqlstate = protocol::pg::sqlstate;

namespace {

routing::ListenerRole route_role(ListenerRole r) {
  switch (r) {
    case ListenerRole::kSplit: return routing::ListenerRole::kSplit;
    case ListenerRole::kPrimary: return routing::ListenerRole::kPrimary;
    case ListenerRole::kReplica: return routing::ListenerRole::kReplica;
  }
  return routing::ListenerRole::kPrimary;
}

bool refusal(const ServerError& e) {
  // The server refused our login, or the pool stayed full: waiting or another node will not help.
  return e.from_server || e.sqlstate == sqlstate::kProtocolViolation;
}

}  // namespace

bool Session::may_route() const {
  // Reads may go to a standby: transaction pooling, no pinned state, a listener that is not
  // primary-only, and a request the classifier finds surely read-only.
  // A replica-only session (role replica) uses standbys in any pool mode; splitting reads from
  // writes needs transaction pooling and no pinned state.
  return role_ == ListenerRole::kReplica ||
         (mode_ == PoolMode::kTransaction && pin_ == routing::PinReason::kNone && role_ == ListenerRole::kSplit);
}

routing::Route Session::pick_standby(routing::Access access) {
  const routing::RoutePolicy policy{route_role(role_), replica_fallback_ ? routing::ReplicaFallback::kPrimary
                                                                          : routing::ReplicaFallback::kRefuse};
  routing::PickOptions options;
  options.lag = routing::LagLimits{cluster_->max_replica_lag, cluster_->max_replica_lag_time};
  options.outstanding = worker_.outstanding(cluster_index_);
  const health::Topology& rt = worker_.routing_topology(cluster_index_);
  if (listener_.read_your_writes && ryw_lsn_ != 0) {
    const std::span<const health::Lsn> positions = worker_.positions(cluster_index_);
    bool all_caught_up = true;
    for (std::size_t n = 0; n < rt.nodes.size(); ++n) {
      const health::Lsn at = n < positions.size() ? positions[n] : 0;
      if (rt.nodes[n].role == health::NodeRole::kStandby && at < ryw_lsn_) all_caught_up = false;
    }
    if (all_caught_up) {
      ryw_lsn_ = 0;  // every standby has replayed it: no constraint any more
    } else {
      options.min_replay_lsn = ryw_lsn_;
      options.replay_lsn = positions;
    }
  }
  return routing::route(policy, access, worker_.balancer(cluster_index_), rt, options);
}

bool Session::attach_now(std::optional<Pick>& picked) {
  const bool route = may_route();
  const routing::Access access =
      route && request_is_read() ? routing::Access::kReadOnly : routing::Access::kReadWrite;
  if (route) {
    // The request is judged and a node picked once: acquire_server() goes on with both (judging
    // classifies the request again; a round-robin cursor moved twice would skip a standby).
    const routing::Route& r = picked.emplace(Pick{access, pick_standby(access)}).route;
    if (r.kind == routing::Route::Kind::kStandby) {
      if (!attach_idle(r.node)) return false;
      note_route(r, true);
      attached(true, false, {});
      return true;
    }
    if (r.kind == routing::Route::Kind::kRefused) return false;  // acquire_server answers it
    // The primary: counted as acquire_server would count it, once attached.
    const health::Topology& topology = *worker_.topology(cluster_index_);
    if (worker_.writes_paused(cluster_index_) || !topology.has_writable_primary()) return false;
    if (!attach_idle(*topology.primary)) return false;
    note_route(r, true);
    attached(false, access == routing::Access::kReadWrite, {});
    return true;
  }
  const health::Topology& topology = *worker_.topology(cluster_index_);
  if (worker_.writes_paused(cluster_index_) || !topology.has_writable_primary()) return false;
  if (!attach_idle(*topology.primary)) return false;
  attached(false, true, {});
  return true;
}

ServerPool* Session::full_primary_pool(const std::optional<Pick>& picked, std::size_t& node) {
  if (picked && picked->route.kind != routing::Route::Kind::kPrimary) return nullptr;
  const health::Topology& topology = *worker_.topology(cluster_index_);
  if (worker_.writes_paused(cluster_index_) || !topology.has_writable_primary()) return nullptr;
  node = *topology.primary;
  ServerPool& pool = node_pool(node);
  // (attach_now() found no idle connection in it.)
  return pool.can_open() ? nullptr : &pool;
}

void Session::attach_waited(ServerPool& pool, ServerPool::Ptr conn, std::size_t node, const std::optional<Pick>& picked,
                            TimePoint since) {
  pool_ = &pool;
  attach(std::move(conn), node);
  // As acquire_server(): a request that was judged notes its route; one that was not is a write.
  if (picked) note_route(picked->route, true);
  attached(false, !picked || picked->access == routing::Access::kReadWrite, SteadyClock::now() - since);
}

awaitable<ServerError> Session::acquire_server(std::optional<Pick> picked, std::optional<TimePoint> since) {
  const Config& cfg = worker_.config();
  const auto start = since.value_or(SteadyClock::now());
  set_client_state(metrics::ClientState::kWaiting);
  // Paused by an operator: wait as long as for a pool slot. No primary (a failover under way), or
  // the primary does not answer: wait up to the cluster's buffer_timeout for the control plane.
  const auto pause_deadline = start + cfg.pool.query_wait_timeout;
  const auto failover_deadline = start + cluster_->failover.buffer_timeout;
  const bool route = may_route();
  const routing::Access access = picked                         ? picked->access
                                 : route && request_is_read() ? routing::Access::kReadOnly
                                                              : routing::Access::kReadWrite;
  ServerError last;
  for (int attempt = 0;; ++attempt) {
    // The node: a standby the balancer picks for a read, else the primary when there is one.
    std::optional<std::size_t> node;
    bool standby = false;
    if (route) {
      routing::Route r = attempt == 0 && picked ? std::move(picked->route) : pick_standby(access);
      note_route(r, attempt == 0);
      if (r.kind == routing::Route::Kind::kRefused) {
        set_client_state(metrics::ClientState::kIdle);
        co_return ServerError{std::string(sqlstate::kCannotConnectNow), std::string(r.error), false};
      }
      if (r.kind == routing::Route::Kind::kStandby) {
        node = r.node;
        standby = true;
      }
    }
    const auto now = SteadyClock::now();
    const health::Topology& topology = *worker_.topology(cluster_index_);
    const bool paused = worker_.writes_paused(cluster_index_);
    if (!node && !paused && topology.has_writable_primary()) node = *topology.primary;
    if (node) {
      // The pool's acquisition loop, here rather than in a coroutine of the pool's own (see Pool).
      ServerError e;
      if (!attach_idle(*node)) {
        ServerPool& pool = *pool_;
        for (;;) {
          if (ServerPool::Ptr c = pool.try_acquire()) {
            attach(std::move(c), *node);
            break;
          }
          if (pool.reserve_login()) {
            e = take(co_await pool.open_reserved(), *node);
            break;
          }
          ServerPool::Waiter w(pause_deadline);
          co_await pool.wait(w);
          if (w.conn) {
            attach(std::move(w.conn), *node);
            break;
          }
          if (w.timed_out) {
            e = ServerError{std::string(sqlstate::kProtocolViolation), "query_wait_timeout", false};
            break;
          }
        }
      }
      if (e.empty()) {
        attached(standby, !standby && access == routing::Access::kReadWrite, SteadyClock::now() - start);
        co_return e;
      }
      if (refusal(e)) {
        set_client_state(metrics::ClientState::kIdle);
        co_return e;
      }
      worker_.app().report_node_trouble(cluster_index_, *node);  // unreachable: its monitor probes it now
      if (standby) {
        worker_.exclude_standby(cluster_index_, *node);  // unreachable: try another, or the primary
        continue;
      }
      last = std::move(e);
    }
    const auto deadline = paused ? pause_deadline : failover_deadline;
    if (SteadyClock::now() >= deadline) {
      if (paused) co_return ServerError{std::string(sqlstate::kProtocolViolation), "query_wait_timeout", false};
      if (!last.empty()) {
        last.message += " (and no other primary within failover.buffer_timeout)";
        co_return last;
      }
      std::string trouble = worker_.app().trouble(cluster_index_);
      co_return ServerError{std::string(sqlstate::kCannotConnectNow),
                            "no primary in cluster \"" + cluster_->name +
                                "\" within failover.buffer_timeout (failover under way or no writable node)" +
                                (trouble.empty() ? std::string() : ": " + trouble),
                            false};
    }
    // Retry an unreachable primary now and then even if nothing changes (it may have restarted).
    auto wake = last.empty() ? deadline : std::min(deadline, now + std::chrono::milliseconds(250));
    co_await worker_.wait_cluster_change(wake);
  }
}

void Session::attached(bool standby, bool write, SteadyClock::duration waited) {
  routed_write_ = write;
  on_standby_ = standby;
  request_judged_ = standby;
  const int node = server_->target->metrics_node;
  worker_.metrics().on_routed(node, write ? metrics::RoutedKind::kWrite : metrics::RoutedKind::kRead);
  worker_.metrics().on_pool_wait(node, waited);
  set_client_state(metrics::ClientState::kActive);
}

void Session::note_route(const routing::Route& r, bool first) {
  if (!first) return;  // count a request once, not once per retry
  metrics::WorkerMetrics& m = worker_.metrics();
  metrics::Metrics& all = worker_.app().metrics();
  if (r.fell_back) m.on_read_fallback(all.cluster_slot(cluster_->name));
  for (health::NodeId n : r.skipped_for_lag) {
    m.on_standby_skipped(all.node_slot(cluster_->name, cluster_->nodes[n].name), metrics::SkipReason::kLag);
  }
  for (health::NodeId n : r.skipped_not_caught_up) {
    m.on_standby_skipped(all.node_slot(cluster_->name, cluster_->nodes[n].name), metrics::SkipReason::kNotCaughtUp);
  }
}

ServerPool& Session::node_pool(std::size_t node_index) {
  // The pool of (node, database, user): looked up once per node (pools live as long as the worker).
  if (node_pools_.size() <= node_index) node_pools_.resize(cluster_->nodes.size(), nullptr);
  ServerPool*& cached = node_pools_.at(node_index);
  if (cached == nullptr) cached = &worker_.pg_pool(*cluster_, cluster_->nodes.at(node_index), database_, *user_);
  return *cached;
}

bool Session::attach_idle(std::size_t node_index) {
  pool_ = &node_pool(node_index);
  ServerPool::Ptr conn = pool_->try_acquire();
  if (!conn) return false;
  attach(std::move(conn), node_index);
  return true;
}

ServerError Session::take(ServerPool::Opened r, std::size_t node_index) {
  if (!r.conn) return std::move(r.error);
  attach(std::move(r.conn), node_index);
  return ServerError{};
}

void Session::attach(ServerPool::Ptr conn, std::size_t node_index) {
  server_ = std::move(conn);
  worker_.on_attach(cluster_index_, node_index);
  pool_->on_lease();
  expects_.clear();
  tx_ = be::TxStatus::kIdle;
  unsynced_ = false;
  skipping_to_sync_ = false;
}

awaitable<Session::End> Session::fail_request(const ServerError& e) {
  // Answer the request that waited as PostgreSQL answers a failed one: a simple Query gets
  // ErrorResponse and ReadyForQuery; an extended-protocol batch gets ErrorResponse now and
  // ReadyForQuery at its Sync, with the messages between dropped.
  auto whole = pgp::decode_frame(client_in_.readable(), worker_.config().general.max_message_size);
  auto* f = std::get_if<protocol::Decoded<pgp::Frame>>(&whole);
  const bool simple = f != nullptr && (f->value.type == fe::kQuery || f->value.type == fe::kFunctionCall);
  std::vector<std::uint8_t> out;
  protocol::Writer w(out);
  be::encode_error(w, be::ErrorSpec{.severity = "ERROR", .sqlstate = e.sqlstate, .message = e.message});
  if (simple) {
    client_in_.consume(f->consumed);
    be::encode_ready_for_query(w, be::TxStatus::kIdle);
  } else {
    skip_to_sync_ = true;
    rfq_after_skip_ = true;
  }
  log::warn("session", "request failed: ", e.message);
  count_error(e.sqlstate, e.message);
  set_client_state(metrics::ClientState::kIdle);
  if (co_await write_all(client_, out)) co_return End::kClose;
  co_return End::kContinue;
}

std::string Session::alignment_sql() const { return sync_sql(wanted_, server_->state, &worker_.param_states()); }

awaitable<ServerError> Session::align_server(const std::string& sql) {
  if (sql.empty()) co_return ServerError{};
  ServerError e = co_await run_internal_query(*server_, sql);
  if (e.empty()) server_->state.other = wanted_.other;
  co_return e;
}

void Session::finish_server(bool reusable) {
  set_client_state(metrics::ClientState::kIdle);
  if (!server_) return;
  worker_.on_detach(server_->target->cluster_index, server_->target->node_index);
  pool_->on_return();
  if (reusable && server_->usable() && server_->in.empty()) {
    server_->stream.watch_idle();  // (on the ring: what arrives while idle is seen at reuse)
    pool_->release(std::move(server_));
  } else {
    pool_->drop(std::move(server_));
  }
}

awaitable<void> Session::detach_server() {
  if (!server_) co_return;
  bool clean = expects_.empty() && tx_ == be::TxStatus::kIdle && !unsynced_ && server_->usable();
  if (!clean) {
    finish_server(false);
    co_return;
  }
  if (mode_ == PoolMode::kSession || pin_ != routing::PinReason::kNone) {
    const std::string& reset = worker_.config().pool.server_reset_query;
    if (!reset.empty()) {
      ServerError e = co_await run_internal_query(*server_, reset);
      if (!e.empty()) server_->mark_unusable();
    }
    server_->prepared.clear();
    server_->state.other.clear();
  }
  finish_server(true);
}

}  // namespace baton::proxy::pg
