// The cluster monitor: probe loops and a tick loop feed the failover machine; one queue runs its actions.
#include "health/monitor.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "health/actuators/pg_actuator.hpp"
#include "health/pg_text.hpp"
#include "health/probes/pg_probe.hpp"
#include "health/state_file.hpp"

namespace baton::health {

namespace {

constexpr std::size_t kKeepEvents = 256;

// The decoded state file; nullopt when none is configured or it does not exist yet. Throws when it
// exists but cannot be read or decoded: running without the fencing state could route to a fenced node.
std::optional<StateRecord> load_state(const std::string& path) {
  if (path.empty()) return std::nullopt;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (ec) throw std::runtime_error("state file " + path + ": " + ec.message());
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) throw std::runtime_error("state file " + path + ": cannot be read");
  auto decoded = decode_state(text.str());
  if (auto* e = std::get_if<StateFileError>(&decoded)) {
    throw std::runtime_error("state file " + path + (e->line != 0 ? " line " + std::to_string(e->line) : "") + ": " +
                             e->what + " (fix or remove it; it holds which nodes are fenced)");
  }
  return std::get<StateRecord>(decoded);
}

// tmp + fsync + rename + fsync of the directory; an error text on failure.
std::optional<std::string> write_state_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return "open " + tmp + ": " + std::strerror(errno);
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string e = "write " + tmp + ": " + std::strerror(errno);
      ::close(fd);
      return e;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    std::string e = "fsync " + tmp + ": " + std::strerror(errno);
    ::close(fd);
    return e;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return "rename to " + path + ": " + std::strerror(errno);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return std::nullopt;
}

const char* health_kind(NodeHealth h) {
  switch (h) {
    case NodeHealth::kUp: return "node_up";
    case NodeHealth::kSuspect: return "node_suspect";
    case NodeHealth::kDown: return "node_down";
    case NodeHealth::kFenced: return "node_fenced";
    case NodeHealth::kDrained: return "node_drained";
  }
  return "node";
}

// libpq's messages span lines ("...failed: Connection refused\n\tIs the server running..."): one line per event.
std::string one_line(std::string text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\t' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space && c != ' ') out += ' ';
    space = false;
    out += c;
  }
  return out;
}

ActuatorOptions actuator_options(const MonitorOptions& o) {
  ActuatorOptions a;
  a.conn = o.monitor;
  a.statement_timeout = o.statement_timeout;
  a.promote_command = o.promote_command;
  a.fence_command = o.fence_command;
  return a;
}

}  // namespace

struct ClusterMonitor::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_, std::string cluster_, std::vector<NodeSpec> nodes_, MonitorOptions options_,
       MonitorCallbacks callbacks_)
      : io(io_),
        cluster(std::move(cluster_)),
        nodes(std::move(nodes_)),
        options(std::move(options_)),
        callbacks(std::move(callbacks_)),
        machine(options.failover, nodes, load_state(options.state_file), Clock::now()),
        actuator(io.get_executor(), nodes, actuator_options(options)),
        tick_timer(io),
        published(machine.topology()),
        last_status(nodes.size()),
        early(nodes.size(), false) {
    for (NodeId i = 0; i < nodes.size(); ++i) {
      probes.push_back(std::make_unique<PgProbe>(io.get_executor(), i, nodes[i], options.monitor));
      sleepers.push_back(std::make_unique<asio::steady_timer>(io));
    }
  }

  asio::io_context& io;
  std::string cluster;
  std::vector<NodeSpec> nodes;
  MonitorOptions options;
  MonitorCallbacks callbacks;
  FailoverMachine machine;
  PgActuator actuator;
  std::vector<std::unique_ptr<PgProbe>> probes;
  std::vector<std::unique_ptr<asio::steady_timer>> sleepers;
  asio::steady_timer tick_timer;
  TopologyPtr published;
  std::vector<std::optional<ProbeStatus>> last_status;
  std::vector<bool> early;  // probe_soon(): the node's next probe starts without waiting its interval

  std::deque<Action> queue;
  bool running = false;
  bool started = false;
  bool stopped = false;
  bool fast = false;
  std::optional<NodeId> skip_promote;  // its WaitReplay failed
  TimePoint attempt_deadline{};        // WaitReplay plus PromoteNode of one candidate

  std::deque<MonitorEvent> events;
  std::optional<TimePoint> suspect_since;
  std::optional<TimePoint> failover_started;
  std::uint64_t failovers = 0;
  double last_failover_seconds = 0;

  const std::string& name(NodeId id) const { return nodes[id].name; }

  Duration interval() const { return fast ? options.suspect_interval : options.probe_interval; }

  void emit(std::string kind, std::string node, std::string text) {
    text = one_line(std::move(text));
    MonitorEvent e{std::chrono::system_clock::now(), cluster, std::move(kind), std::move(node), std::move(text)};
    events.push_back(e);
    if (events.size() > kKeepEvents) events.pop_front();
    if (!stopped && callbacks.on_event) callbacks.on_event(e);
  }

  void feed(const Event& e) {
    if (stopped) return;
    const FailoverState before = machine.state();
    std::vector<Action> actions = machine.on_event(e);
    const FailoverState after = machine.state();
    if (before != after) state_changed(before, after);
    for (Action& a : actions) queue.push_back(std::move(a));
    adjust_speed();
    if (!running && !queue.empty()) {
      running = true;
      auto self = shared_from_this();
      asio::co_spawn(io, run_queue(self), [self](std::exception_ptr ex) {
        self->running = false;
        self->ended(ex, "action queue");
      });
    }
  }

  // A coroutine ended; an exception is a bug, reported as an event.
  void ended(std::exception_ptr ex, const char* what) {
    if (!ex) return;
    try {
      std::rethrow_exception(ex);
    } catch (const std::exception& e) {
      emit("error", "", std::string(what) + " failed: " + e.what());
    }
  }

  void state_changed(FailoverState before, FailoverState after) {
    emit("state", "", std::string(to_string(before)) + " -> " + std::string(to_string(after)));
    const TimePoint now = Clock::now();
    switch (after) {
      case FailoverState::kPrimarySuspect:
        if (!suspect_since) suspect_since = now;
        break;
      case FailoverState::kFailingOver:
        if (!failover_started) failover_started = suspect_since.value_or(now);
        emit("failover_started", "", "primary confirmed down; promoting a standby");
        break;
      case FailoverState::kSwitchingOver:
        failover_started = now;
        emit("failover_started", "", "planned switchover");
        break;
      case FailoverState::kHealthy:
        // Back to healthy without a new primary on its way to the workers: nothing to time.
        if (machine.topology()->primary == published->primary) {
          suspect_since.reset();
          failover_started.reset();
        }
        break;
      default:
        break;
    }
  }

  // Probe faster while the cluster is not healthy; sleeping loops wake to use the shorter interval.
  void adjust_speed() {
    const bool want = machine.state() != FailoverState::kHealthy;
    if (want == fast) return;
    fast = want;
    if (!fast) return;
    for (auto& t : sleepers) t->cancel();
    tick_timer.cancel();
  }

  void note_probe(const ProbeResult& r, const std::string& error) {
    if (callbacks.on_probe && !stopped) callbacks.on_probe(r);
    std::optional<ProbeStatus>& last = last_status[r.node];
    const bool was_ok = last && *last == ProbeStatus::kOk;
    if (r.status != ProbeStatus::kOk && (was_ok || !last || *last != r.status)) {
      emit("probe_failed", name(r.node), std::string(to_string(r.status)) + ": " + error);
    } else if (r.status == ProbeStatus::kOk && last && !was_ok) {
      emit("probe_ok", name(r.node), "answers again");
    }
    last = r.status;
  }

  // Until `interval()` after `begun`, or (a probe loop's sleep) until probe_soon() asks for the node.
  awaitable<void> sleep_until_next(asio::steady_timer& timer, TimePoint begun, std::optional<NodeId> node = {}) {
    while (!stopped && !(node && early[*node])) {
      const TimePoint due = begun + interval();
      if (Clock::now() >= due) break;
      timer.expires_at(due);
      co_await timer.async_wait(use_tuple);
    }
  }

  static awaitable<void> probe_loop(std::shared_ptr<Impl> self, NodeId id) {
    while (!self->stopped) {
      const TimePoint begun = Clock::now();
      self->early[id] = false;  // this probe answers the request (one during it asks for another)
      ProbeResult r = co_await self->probes[id]->probe(begun + self->options.probe_timeout);
      if (self->stopped) break;
      self->note_probe(r, self->probes[id]->last_error());
      self->feed(r);
      co_await self->sleep_until_next(*self->sleepers[id], begun, id);
    }
  }

  static awaitable<void> tick_loop(std::shared_ptr<Impl> self) {
    while (!self->stopped) {
      co_await self->sleep_until_next(self->tick_timer, Clock::now());
      if (self->stopped) break;
      self->feed(Tick{Clock::now()});
    }
  }

  static awaitable<void> run_queue(std::shared_ptr<Impl> self) {
    while (!self->stopped && !self->queue.empty()) {
      Action a = std::move(self->queue.front());
      self->queue.pop_front();
      co_await self->execute(std::move(a));
    }
    self->running = false;
  }

  // RepointStandby and FenceNode, run alongside the queue.
  static awaitable<void> run_side(std::shared_ptr<Impl> self, Action a) {
    ActionOutcome o;
    NodeId node = 0;
    const char* kind = "";
    if (auto* r = std::get_if<RepointStandby>(&a)) {
      node = r->node;
      kind = "repoint";
      o = co_await self->actuator.repoint(r->node, r->new_primary);
    } else if (auto* f = std::get_if<FenceNode>(&a)) {
      node = f->node;
      kind = "fence";
      o = co_await self->actuator.fence(f->node);
    }
    if (self->stopped) co_return;
    self->report(kind, node, o);
  }

  void report(const char* kind, NodeId node, const ActionOutcome& o) {
    emit(kind, name(node), o.detail);
    for (const Event& e : o.events) feed(e);
  }

  awaitable<void> execute(Action a) {
    if (std::holds_alternative<PauseWrites>(a)) {
      emit("pause_writes", "", "holding new transactions that need the primary");
      if (callbacks.pause_writes) co_await callbacks.pause_writes();
    } else if (std::holds_alternative<ResumeWrites>(a)) {
      emit("resume_writes", "", "letting held transactions go");
      if (callbacks.resume_writes) callbacks.resume_writes();
    } else if (auto* p = std::get_if<PublishTopology>(&a)) {
      publish(p->topology);
    } else if (auto* r = std::get_if<RecordState>(&a)) {
      record_state(*r);
    } else if (auto* alert = std::get_if<RaiseAlert>(&a)) {
      emit("alert", "", alert->text);
    } else if (auto* w = std::get_if<WaitReplay>(&a)) {
      attempt_deadline = Clock::now() + options.failover.promote_timeout;
      ActionOutcome o = co_await actuator.wait_replay(w->node, w->lsn, attempt_deadline);
      if (!o.ok) skip_promote = w->node;
      report("wait_replay", w->node, o);
    } else if (auto* pr = std::get_if<PromoteNode>(&a)) {
      if (skip_promote == pr->node) {
        skip_promote.reset();
        co_return;
      }
      TimePoint deadline = attempt_deadline;
      if (deadline <= Clock::now()) deadline = Clock::now() + options.failover.promote_timeout;
      emit("promote", name(pr->node), "promoting for epoch " + std::to_string(pr->epoch));
      ActionOutcome o = co_await actuator.promote(pr->node, deadline);
      attempt_deadline = {};
      report("promote", pr->node, o);
    } else if (std::holds_alternative<RepointStandby>(a) || std::holds_alternative<FenceNode>(a)) {
      auto self = shared_from_this();
      asio::co_spawn(io, run_side(self, std::move(a)), [self](std::exception_ptr ex) { self->ended(ex, "action"); });
    } else if (auto* ro = std::get_if<MakeReadOnly>(&a)) {
      ActionOutcome o = co_await actuator.make_read_only(ro->node);
      report("read_only", ro->node, o);
    } else if (auto* rw = std::get_if<MakeWritable>(&a)) {
      ActionOutcome o = co_await actuator.make_writable(rw->node);
      report("writable", rw->node, o);
    }
  }

  void record_state(const RecordState& r) {
    StateRecord s{r.epoch, r.timeline, r.primary, r.fenced};
    std::string text = "epoch=" + std::to_string(r.epoch) + " timeline=" + std::to_string(r.timeline) +
                       " primary=" + r.primary + " fenced=";
    for (std::size_t i = 0; i < r.fenced.size(); ++i) text += (i ? "," : "") + r.fenced[i];
    if (options.state_file.empty()) {
      emit("record_state", "", text + " (in memory only)");
      return;
    }
    if (auto e = write_state_file(options.state_file, encode_state(s))) {
      emit("error", "", "state file not written (" + *e + "): fencing will not survive a restart");
      return;
    }
    emit("record_state", "", text);
  }

  void publish(const TopologyPtr& t) {
    const TopologyPtr prev = published;
    published = t;
    for (NodeId i = 0; i < t->nodes.size() && i < prev->nodes.size(); ++i) {
      const NodeState& a = prev->nodes[i];
      const NodeState& b = t->nodes[i];
      if (a.role != b.role) {
        emit("role", b.name, std::string(to_string(a.role)) + " -> " + std::string(to_string(b.role)));
      }
      if (a.health != b.health) {
        emit(health_kind(b.health), b.name,
             std::string(to_string(a.health)) + " -> " + std::string(to_string(b.health)));
      }
    }
    if (prev->epoch != t->epoch || prev->primary != t->primary) emit("publish", "", describe(*t));
    if (callbacks.publish && !stopped) callbacks.publish(t);
    if (t->primary && t->primary != prev->primary && failover_started) {
      const double seconds = std::chrono::duration<double>(Clock::now() - *failover_started).count();
      ++failovers;
      last_failover_seconds = seconds;
      emit("failover_finished", name(*t->primary),
           "new primary " + name(*t->primary) + " at epoch " + std::to_string(t->epoch) + " after " +
               std::to_string(seconds) + " s");
      failover_started.reset();
      suspect_since.reset();
    }
  }

  void start() {
    if (started || stopped) return;
    started = true;
    auto self = shared_from_this();
    for (NodeId i = 0; i < nodes.size(); ++i) {
      asio::co_spawn(io, probe_loop(self, i), [self](std::exception_ptr ex) { self->ended(ex, "probe loop"); });
    }
    asio::co_spawn(io, tick_loop(self), [self](std::exception_ptr ex) { self->ended(ex, "tick loop"); });
    emit("state", "", "monitoring " + std::to_string(nodes.size()) + " nodes");
  }

  void probe_soon(NodeId id) {
    if (stopped || id >= nodes.size() || early[id]) return;
    // Only the first failure comes sooner: once a probe failed, confirming it keeps the
    // suspect_interval pace (failures_before_down probes that far apart ride out a blip).
    if (last_status[id] && *last_status[id] != ProbeStatus::kOk) return;
    early[id] = true;
    sleepers[id]->cancel();  // wakes the loop if it sleeps; a probe under way is followed by another
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    for (auto& p : probes) p->cancel();
    for (auto& t : sleepers) t->cancel();
    tick_timer.cancel();
    actuator.cancel();
    queue.clear();
  }
};

ClusterMonitor::ClusterMonitor(asio::io_context& control, std::string cluster, std::vector<NodeSpec> nodes,
                               MonitorOptions options, MonitorCallbacks callbacks)
    : impl_(std::make_shared<Impl>(control, std::move(cluster), std::move(nodes), std::move(options),
                                   std::move(callbacks))) {}

ClusterMonitor::~ClusterMonitor() {
  if (impl_) impl_->stop();
}

void ClusterMonitor::start() { impl_->start(); }
void ClusterMonitor::stop() { impl_->stop(); }
void ClusterMonitor::command(Event e) { impl_->feed(e); }
void ClusterMonitor::probe_soon(NodeId node) { impl_->probe_soon(node); }
TopologyPtr ClusterMonitor::topology() const { return impl_->published; }
FailoverState ClusterMonitor::state() const { return impl_->machine.state(); }
std::vector<MonitorEvent> ClusterMonitor::recent_events() const {
  return {impl_->events.begin(), impl_->events.end()};
}
std::uint64_t ClusterMonitor::failovers() const { return impl_->failovers; }
double ClusterMonitor::last_failover_seconds() const { return impl_->last_failover_seconds; }

}  // namespace baton::health
