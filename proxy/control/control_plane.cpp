// The control-plane thread: signals, the admin HTTP API, config reload, pause/resume, drain, topology.
#include "proxy/control/control_plane.hpp"

#include <mutex>

#include "health/monitor.hpp"
#include "proxy/admin/http_server.hpp"
#include "proxy/app.hpp"
#include "proxy/config/reload.hpp"
#include "proxy/log/log.hpp"
#include "proxy/net/worker.hpp"

namespace baton::proxy {

namespace {
constexpr std::size_t kMaxEvents = 256;
constexpr std::string_view kVersion = "0.1.0";
using SteadyClock = std::chrono::steady_clock;
}  // namespace

ControlPlane::ControlPlane(App& app, asio::io_context& io) : app_(app), io_(io), started_(SteadyClock::now()) {}

ControlPlane::~ControlPlane() {
  app_.set_node_trouble_hook({}, {});
  for (auto& m : monitors_) m->stop();
}

std::string ControlPlane::start() {
  signals_ = std::make_unique<asio::signal_set>(io_, SIGINT, SIGTERM, SIGHUP);
  arm_signals();

  const Config& cfg = app_.config();
  admin::HttpServerOptions options;
  options.host = cfg.admin.host;
  options.port = cfg.admin.port;
  if (cfg.admin.tls_mode == AdminTlsMode::kRequire) {
    namespace ssl = asio::ssl;
    admin_tls_ = std::make_unique<ssl::context>(ssl::context::tls_server);
    admin_tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                            ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    error_code ec;
    admin_tls_->use_certificate_chain_file(cfg.admin.tls.cert_file, ec);
    if (!ec) admin_tls_->use_private_key_file(cfg.admin.tls.key_file, ssl::context::pem, ec);
    if (ec) return "admin.tls: " + ec.message();  // configured and broken: refuse to start, say why
    options.tls = admin_tls_.get();
  }
  http_ = std::make_unique<admin::HttpServer>(io_, options, [this](admin::HttpRequest r) { return handle(std::move(r)); });
  if (std::string err = http_->start(); !err.empty()) {
    // Client traffic does not depend on the admin API: serve it anyway, and say so loudly.
    log::error("admin", "admin API not served: ", err);
    http_.reset();
  } else {
    const char* scheme = options.tls ? "https://" : "http://";
    log::info("admin", "admin API on ", scheme, cfg.admin.host, ":", std::to_string(http_->port()));
  }
  return start_monitors();
}

void ControlPlane::event(const std::string& cluster, const std::string& text) {
  log::info("event", cluster.empty() ? std::string() : "cluster " + cluster + ": ", text);
  events_.push_back(admin::EventView{std::chrono::system_clock::now(), cluster, text});
  while (events_.size() > kMaxEvents) events_.pop_front();
}

std::size_t ControlPlane::cluster_index(const std::string& name) const {
  const Config& cfg = app_.config();
  for (std::size_t i = 0; i < cfg.clusters.size(); ++i) {
    if (cfg.clusters[i].name == name) return i;
  }
  return cfg.clusters.size();
}

// ---- signals and shutdown ----------------------------------------------------------------------

void ControlPlane::arm_signals() {
  signals_->async_wait([this](const error_code& ec, int sig) {
    if (ec) return;
    on_signal(sig);
    arm_signals();
  });
}

void ControlPlane::on_signal(int sig) {
  if (sig == SIGHUP) {
    reload("SIGHUP");
    return;
  }
  const auto timeout = app_.config().general.shutdown_timeout;
  if (shutting_down_) {
    if (sig == SIGINT) {
      log::info("app", "SIGINT during shutdown: stopping now");
      // Every session left is told FATAL 57P01 and closed first (each worker does it on its thread;
      // milliseconds), then the loops stop.
      asio::co_spawn(
          io_,
          [this]() -> awaitable<void> {
            co_await terminate_sessions();
            io_.stop();
          },
          asio::detached);
    }
    return;
  }
  // SIGTERM (a rollout): clients finish their transactions within shutdown_timeout. SIGINT: a tenth.
  auto grace = sig == SIGTERM ? timeout : timeout / 10;
  log::info("app", sig == SIGTERM ? "SIGTERM" : "SIGINT", ": draining clients (up to ",
            std::to_string(grace.count()), " ms), not ready any more");
  asio::co_spawn(io_, shutdown(grace), asio::detached);
}

awaitable<void> ControlPlane::shutdown(std::chrono::milliseconds grace) {
  shutting_down_ = true;
  event("", "shutting down: listeners closed, clients leave at their next transaction boundary");
  const auto deadline = SteadyClock::now() + grace;
  // (g++ 12: no temporaries with destructors inside a co_await expression; name them first)
  std::function<void(Worker&)> drain = [](Worker& w) { w.begin_drain(); };
  co_await on_workers(drain);
  asio::steady_timer timer(io_);
  while (app_.client_count() > 0 && SteadyClock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(use_tuple);
  }
  if (app_.client_count() > 0) {
    log::warn("app", std::to_string(app_.client_count()), " clients still connected after the shutdown grace; closing them");
    // As PostgreSQL's fast shutdown: FATAL 57P01, then the connections close (their servers roll
    // back); a moment for the sessions to end before the loops stop.
    co_await terminate_sessions();
    const auto limit = SteadyClock::now() + std::chrono::milliseconds(200);
    while (app_.client_count() > 0 && SteadyClock::now() < limit) {
      timer.expires_after(std::chrono::milliseconds(10));
      co_await timer.async_wait(use_tuple);
    }
  } else {
    log::info("app", "every client has left");
  }
  for (auto& m : monitors_) m->stop();
  if (http_) http_->stop();
  if (signals_) signals_->cancel();
  io_.stop();
}

awaitable<void> ControlPlane::terminate_sessions() {
  // (g++ 12: no temporaries with destructors inside a co_await expression; name them first)
  std::function<void(Worker&)> terminate = [](Worker& w) { w.terminate_sessions(); };
  co_await on_workers(terminate);
}

// ---- workers ----------------------------------------------------------------------------------

awaitable<void> ControlPlane::on_workers(const std::function<void(Worker&)>& fn) {
  struct Gather {
    // A worker that does not run a posted function within 2 s counts as stalled (/healthz).
    explicit Gather(asio::io_context& io) : timer(io, SteadyClock::now() + std::chrono::seconds(2)) {}
    asio::steady_timer timer;
    std::atomic<int> left{0};
  };
  auto g = std::make_shared<Gather>(io_);
  const int n = app_.worker_count();
  g->left = n;
  if (n == 0) co_return;
  auto shared_fn = std::make_shared<std::function<void(Worker&)>>(fn);
  for (int i = 0; i < n; ++i) {
    Worker* w = &app_.worker(i);
    w->post([this, g, w, shared_fn] {
      (*shared_fn)(*w);
      // The timer belongs to the control thread: the last worker wakes it there.
      if (g->left.fetch_sub(1) == 1) asio::post(io_, [g] { g->timer.cancel(); });
    });
  }
  co_await g->timer.async_wait(use_tuple);
}

awaitable<bool> ControlPlane::wait_idle(std::size_t cluster, SteadyClock::time_point deadline) {
  asio::steady_timer timer(io_);
  for (;;) {
    auto busy = std::make_shared<std::atomic<int>>(0);
    std::function<void(Worker&)> count = [busy, cluster](Worker& w) { busy->fetch_add(w.busy_sessions(cluster)); };
    co_await on_workers(count);
    if (busy->load() == 0) co_return true;
    if (SteadyClock::now() >= deadline) co_return false;
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(use_tuple);
  }
}

// ---- the admin API --------------------------------------------------------------------------

awaitable<admin::AdminView> ControlPlane::view() {
  const Config& cfg = app_.config();
  admin::AdminView v;
  v.version = std::string(kVersion);
  v.uptime = std::chrono::duration_cast<std::chrono::seconds>(SteadyClock::now() - started_);
  v.shutting_down = shutting_down_;
  for (std::size_t i = 0; i < cfg.clusters.size(); ++i) {
    const ClusterConfig& c = cfg.clusters[i];
    health::TopologyPtr t = app_.topology(i);
    admin::ClusterView cv;
    cv.name = c.name;
    cv.protocol = std::string(to_string(c.protocol));
    cv.epoch = t->epoch;
    if (t->has_writable_primary()) cv.primary = t->nodes[*t->primary].name;
    cv.failover_state = monitor_state(i);
    cv.writes_paused = app_.writes_paused(i);
    for (const health::NodeState& n : t->nodes) {
      cv.nodes.push_back(admin::NodeView{.name = n.name, .host = n.host, .port = n.port, .role = n.role,
                                         .health = n.health, .lag_bytes = n.lag_bytes, .lag_seconds = n.lag_seconds,
                                         .timeline = n.timeline, .weight = n.weight, .priority = n.priority,
                                         .no_promote = n.no_promote});
    }
    v.clusters.push_back(std::move(cv));
  }
  for (const ListenerConfig& l : cfg.listeners) {
    v.listeners.push_back(admin::ListenerView{.name = l.name, .protocol = std::string(to_string(l.protocol)),
                                              .host = l.host, .port = l.port, .cluster = l.cluster,
                                              .role = std::string(to_string(l.role)), .up = !shutting_down_});
  }
  struct Collected {
    std::mutex mutex;
    std::vector<admin::PoolView> pools;
    std::vector<admin::ListenerView> listeners;
    std::vector<bool> answered;  // per worker
  };
  auto collected = std::make_shared<Collected>();
  collected->listeners = v.listeners;
  collected->answered.assign(static_cast<std::size_t>(app_.worker_count()), false);
  std::function<void(Worker&)> gather = [collected](Worker& w) {
    std::lock_guard lock(collected->mutex);
    w.add_to_view(collected->pools, collected->listeners);
    collected->answered[static_cast<std::size_t>(w.index())] = true;
  };
  co_await on_workers(gather);
  {
    std::lock_guard lock(collected->mutex);
    v.pools = std::move(collected->pools);
    v.listeners = std::move(collected->listeners);
    // /healthz: every worker's event loop must have answered within on_workers' bound.
    for (std::size_t i = 0; i < collected->answered.size(); ++i) {
      if (!collected->answered[i]) v.stalled_workers.push_back(static_cast<int>(i));
    }
  }
  v.events.assign(events_.begin(), events_.end());
  App* app = &app_;
  v.metrics_text = [app] { return app->metrics().serialize(); };
  co_return v;
}

awaitable<admin::HttpResponse> ControlPlane::handle(admin::HttpRequest request) {
  admin::AdminView v = co_await view();
  admin::AdminSettings settings{app_.config().admin.token};
  admin::RouteResult r = admin::route(request, v, settings);
  if (auto* response = std::get_if<admin::HttpResponse>(&r)) {
    if (response->status == 401 || response->status == 403) {
      log::warn("admin", "refused ", request.method, " ", request.target, ": ", std::to_string(response->status),
                " (", request.authorization.empty() ? "no token" : "wrong token", ")");
    }
    co_return std::move(*response);
  }
  const admin::Command command = std::get<admin::Command>(r);
  log::info("admin", "command ", admin::to_string(command.kind), command.cluster.empty() ? "" : " cluster ",
            command.cluster, command.node.empty() ? "" : " node ", command.node);
  admin::CommandOutcome outcome = co_await execute(command);
  co_return admin::command_response(command, outcome);
}

awaitable<admin::CommandOutcome> ControlPlane::execute(const admin::Command& command) {
  using Status = admin::CommandOutcome::Status;
  switch (command.kind) {
    case admin::CommandKind::kReload: co_return reload("POST /api/v1/reload");
    case admin::CommandKind::kPause: {
      admin::CommandOutcome o = co_await pause(command.cluster, true);
      co_return o;
    }
    case admin::CommandKind::kResume: {
      admin::CommandOutcome o = co_await pause(command.cluster, false);
      co_return o;
    }
    case admin::CommandKind::kSwitchover:
    case admin::CommandKind::kDrainNode:
    case admin::CommandKind::kEnableNode: {
      admin::CommandOutcome o = monitor_command(command);
      co_return o;
    }
  }
  co_return admin::CommandOutcome{Status::kFailed, "unknown command"};
}

awaitable<admin::CommandOutcome> ControlPlane::pause(const std::string& cluster, bool pause) {
  using Status = admin::CommandOutcome::Status;
  const Config& cfg = app_.config();
  std::vector<std::size_t> which;
  for (std::size_t i = 0; i < cfg.clusters.size(); ++i) {
    if (cluster.empty() || cfg.clusters[i].name == cluster) which.push_back(i);
  }
  for (std::size_t i : which) {
    app_.set_writes_paused(i, pause);
    event(cfg.clusters[i].name, pause ? "paused by the admin API: new transactions wait" : "resumed by the admin API");
  }
  if (!pause) co_return admin::CommandOutcome{Status::kDone, "resumed"};
  // As PgBouncer's PAUSE: answer once the transactions already running have finished.
  const auto deadline = SteadyClock::now() + cfg.pool.query_wait_timeout;
  bool idle = true;
  for (std::size_t i : which) idle = (co_await wait_idle(i, deadline)) && idle;
  if (!idle) co_return admin::CommandOutcome{Status::kAccepted, "paused; some transactions are still running"};
  co_return admin::CommandOutcome{Status::kDone, "paused; no transaction is running"};
}

admin::CommandOutcome ControlPlane::reload(const std::string& why) {
  using Status = admin::CommandOutcome::Status;
  const Config& running = app_.config();
  auto loaded = load_config(running.source_path);
  if (auto* errors = std::get_if<std::vector<Diagnostic>>(&loaded)) {
    std::string text = "reload (" + why + ") refused, configuration unchanged:";
    for (const Diagnostic& d : *errors) text += "\n  " + format(d);
    log::error("app", text);
    event("", text);
    app_.metrics().on_config_reload(metrics::ReloadResult::kFailed);
    return admin::CommandOutcome{Status::kFailed, text};
  }
  ReloadPlan plan = plan_reload(running, std::get<Config>(loaded));
  std::string text = "reload (" + why + "): ";
  if (!plan.changed()) text += "no change";
  for (const std::string& line : plan.applied) text += "\n  applied: " + line;
  for (const std::string& line : plan.kept) text += "\n  kept: " + line;
  if (plan.changed()) {
    if (log::Level level; log::parse_level(plan.effective.general.log_level, level)) log::set_level(level);
    app_.install_config(std::move(plan.effective));
    for (int i = 0; i < app_.worker_count(); ++i) {
      Worker* w = &app_.worker(i);
      w->post([w] { w->apply_config(); });
    }
  }
  event("", text);
  app_.metrics().on_config_reload(metrics::ReloadResult::kOk);
  return admin::CommandOutcome{Status::kDone, text};
}

// ---- cluster monitors ------------------------------------------------------------------------

namespace {

health::FailoverMode failover_mode(FailoverMode m) {
  switch (m) {
    case FailoverMode::kAuto: return health::FailoverMode::kAuto;
    case FailoverMode::kManual: return health::FailoverMode::kManual;
    case FailoverMode::kFollow: return health::FailoverMode::kFollow;
  }
  return health::FailoverMode::kAuto;
}

health::MonitorOptions monitor_options(const ClusterConfig& c) {
  const FailoverSettings& f = c.failover;
  health::MonitorOptions o;
  o.failover = health::FailoverConfig{
      .mode = failover_mode(f.mode),
      .down_after = f.down_after,
      .failures_before_down = f.failures_before_down,
      .successes_before_up = f.successes_before_up,
      .max_failover_lag = f.max_failover_lag,
      .promote_timeout = f.promote_timeout,
      .switchover_timeout = f.switchover_timeout,
  };
  o.probe_interval = f.probe_interval;
  o.suspect_interval = f.suspect_interval;
  o.probe_timeout = f.probe_timeout;
  o.state_file = f.state_file;
  o.promote_command = f.promote_command;
  o.fence_command = f.fence_command;
  o.monitor.user = c.monitor_user;
  o.monitor.password = c.monitor_password;
  o.monitor.dbname = c.monitor_database;
  o.monitor.sslmode = std::string(to_string(c.server_tls_mode));  // the names are libpq's sslmode values
  o.monitor.sslrootcert = c.server_tls.ca_file;
  o.monitor.sslcert = c.server_tls.cert_file;
  o.monitor.sslkey = c.server_tls.key_file;
  return o;
}

}  // namespace

void ControlPlane::note_trouble(std::size_t cluster, const health::MonitorEvent& e) {
  if (cluster >= trouble_.size()) return;
  Trouble& t = trouble_[cluster];
  if (e.kind == "alert") {
    t.last_alert = e.text;
  } else if (e.kind == "state") {
    t.no_primary = e.text.ends_with("-> no_primary");
    if (!t.no_primary) t.last_alert.clear();  // (an alert of an earlier spell says nothing now)
  } else if (e.kind == "probe_failed" && !e.node.empty()) {
    t.probe_failures[e.node] = e.text;
  } else if ((e.kind == "probe_ok" || e.kind == "node_up") && !e.node.empty()) {
    if (t.probe_failures.erase(e.node) == 0) return;
  } else {
    return;
  }
  std::string text;
  if (t.no_primary && !t.last_alert.empty()) text = t.last_alert;
  for (const auto& [node, why] : t.probe_failures) text += (text.empty() ? "" : "; ") + node + ": " + why;
  app_.set_trouble(cluster, std::move(text));
}

std::string ControlPlane::start_monitors() {
  const Config& cfg = app_.config();
  trouble_.resize(cfg.clusters.size());
  for (std::size_t i = 0; i < cfg.clusters.size(); ++i) {
    const ClusterConfig& c = cfg.clusters[i];
    std::vector<health::NodeSpec> specs;
    for (const NodeConfig& n : c.nodes) specs.push_back(health::NodeSpec{n.name, n.host, n.port, n.weight, n.priority, n.no_promote});
    health::MonitorCallbacks callbacks;
    callbacks.publish = [this, i](health::TopologyPtr t) { app_.publish_topology(i, std::move(t)); };
    callbacks.pause_writes = [this, i]() -> awaitable<void> {
      app_.set_writes_paused(i, true);
      // A failover: the primary is gone or hung, its transactions cannot finish; nothing to wait for.
      if (i < monitors_.size() && monitors_[i]->state() != health::FailoverState::kSwitchingOver) co_return;
      // A switchover: transactions already running on the primary finish (bounded) before it is
      // made read-only.
      const auto bound = app_.config().clusters[i].failover.switchover_timeout / 2;
      bool idle = co_await wait_idle(i, SteadyClock::now() + bound);
      if (!idle) event(app_.config().clusters[i].name, "writes paused: some transactions still run after the bound");
    };
    callbacks.resume_writes = [this, i] { app_.set_writes_paused(i, false); };
    callbacks.on_probe = [this, i](const health::ProbeResult& r) {
      if (r.status != health::ProbeStatus::kOk) return;
      app_.publish_position(i, r.node, r.in_recovery ? r.replay_lsn : r.current_lsn);
    };
    callbacks.on_event = [this, i](const health::MonitorEvent& e) {
      note_trouble(i, e);
      if (e.kind == "probe_ok") return;
      std::string text = e.kind;
      if (!e.node.empty()) text += " " + e.node;
      if (!e.text.empty()) text += ": " + e.text;
      event(e.cluster, text);
      if (e.kind == "failover_finished" && i < monitors_.size() && monitors_[i]) {
        auto seconds = std::chrono::duration<double>(monitors_[i]->last_failover_seconds());
        app_.metrics().on_failover(e.cluster, std::chrono::duration_cast<std::chrono::nanoseconds>(seconds));
      }
    };
    try {
      monitors_.push_back(std::make_unique<health::ClusterMonitor>(io_, c.name, std::move(specs), monitor_options(c),
                                                                   std::move(callbacks)));
    } catch (const std::exception& e) {
      return "clusters \"" + c.name + "\": " + e.what();
    }
  }
  for (auto& m : monitors_) m->start();
  // Sessions that lose a node's connections have its monitor probe it at once.
  app_.set_node_trouble_hook(io_.get_executor(), [this](std::size_t cluster, std::size_t node) {
    if (cluster < monitors_.size()) monitors_[cluster]->probe_soon(node);  // (it checks the node)
  });
  return {};
}

std::string ControlPlane::monitor_state(std::size_t cluster) const {
  if (cluster >= monitors_.size()) return "unknown";
  return std::string(health::to_string(monitors_[cluster]->state()));
}

admin::CommandOutcome ControlPlane::monitor_command(const admin::Command& command) {
  using Status = admin::CommandOutcome::Status;
  const std::size_t i = cluster_index(command.cluster);
  if (i >= monitors_.size()) return admin::CommandOutcome{Status::kFailed, "no such cluster: " + command.cluster};
  health::ClusterMonitor& m = *monitors_[i];
  health::TopologyPtr t = m.topology();
  std::optional<health::NodeId> node;
  if (!command.node.empty()) {
    node = t ? t->find(command.node) : std::nullopt;
    if (!node) return admin::CommandOutcome{Status::kFailed, "no such node: " + command.node};
  }
  switch (command.kind) {
    case admin::CommandKind::kSwitchover: {
      // The monitor applies the same rules when the command reaches it; answering here lets the
      // operator know at once (a refusal there would show only in the events).
      if (app_.config().clusters[i].failover.mode == FailoverMode::kFollow) {
        const std::string text = "switchover refused: follow mode (the cluster's own manager moves the primary; "
                                 "baton follows)";
        event(command.cluster, text);
        return admin::CommandOutcome{Status::kConflict, text};
      }
      // With no primary (manual mode, or an automatic failover that found no candidate) the
      // command is a failover: the named standby, or the best one, is promoted.
      const bool failover = m.state() == health::FailoverState::kNoPrimary;
      if (m.state() != health::FailoverState::kHealthy && !failover) {
        return admin::CommandOutcome{Status::kConflict,
                                     "cluster is " + std::string(health::to_string(m.state())) +
                                         ": a switchover needs a healthy cluster (or one without a primary, for a "
                                         "failover)"};
      }
      m.command(health::Switchover{node});
      const std::string to = command.node.empty() ? std::string() : " to " + command.node;
      event(command.cluster, (failover ? "failover (no primary) requested" : "switchover requested") + to);
      return admin::CommandOutcome{Status::kAccepted, failover ? "failover started (the cluster has no primary); "
                                                                 "watch /api/v1/events"
                                                               : "switchover started; watch /api/v1/events"};
    }
    case admin::CommandKind::kDrainNode:
      m.command(health::DrainNode{*node});
      return admin::CommandOutcome{Status::kDone, "node " + command.node + " drained: no new traffic"};
    case admin::CommandKind::kEnableNode:
      // A fenced node comes back only as a standby the operator rebuilt: that is a re-add.
      if (t->nodes[*node].health == health::NodeHealth::kFenced) {
        m.command(health::ReAddNode{*node});
        return admin::CommandOutcome{Status::kAccepted, "node " + command.node + " re-added; it serves again once probes find it a standby"};
      }
      m.command(health::EnableNode{*node});
      return admin::CommandOutcome{Status::kDone, "node " + command.node + " enabled"};
    default: break;
  }
  return admin::CommandOutcome{Status::kFailed, "not a monitor command"};
}

}  // namespace baton::proxy
