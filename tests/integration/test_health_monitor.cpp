// [health] integration tests: libpq probes, and the ClusterMonitor failing over and switching over real PostgreSQL 15.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "health/monitor.hpp"
#include "health/pg_text.hpp"
#include "health/probes/pg_probe.hpp"
#include "health/state_file.hpp"
#include "tests/integration/harness.hpp"

using namespace baton::health;
using baton::test::PgCluster;
using baton::test::run;
using baton::test::shell_quote;
using namespace std::chrono_literals;

namespace {

using SteadyClock = std::chrono::steady_clock;

std::vector<NodeSpec> specs(const PgCluster& c) {
  std::vector<NodeSpec> out;
  for (int k = 0; k < c.node_count(); ++k) {
    NodeSpec n;
    n.name = "node" + std::to_string(k);
    n.host = "127.0.0.1";
    n.port = static_cast<std::uint16_t>(c.port(k));
    out.push_back(n);
  }
  return out;
}

PgConnParams monitor_login(const PgCluster& c) {
  PgConnParams p;
  p.user = "baton_monitor";
  p.password = "monitor-secret";
  p.dbname = "postgres";
  if (c.options().tls) {
    p.sslmode = "verify-ca";
    p.sslrootcert = c.cert_dir() + "/ca.crt";
  } else {
    p.sslmode = "disable";
  }
  return p;
}

// Runs `io` in slices until `done()` or `limit` passes; true when done.
template <typename Pred>
bool run_until(boost::asio::io_context& io, Pred done, std::chrono::milliseconds limit) {
  const auto end = SteadyClock::now() + limit;
  while (!done()) {
    if (SteadyClock::now() >= end) return false;
    io.run_for(10ms);
    if (io.stopped()) io.restart();
  }
  return true;
}

void run_for(boost::asio::io_context& io, std::chrono::milliseconds d) {
  run_until(io, [] { return false; }, d);
}

// Polls a psql query (blocking) while keeping `io` running between tries; true when it returned `want`.
bool poll_query(boost::asio::io_context& io, const PgCluster& c, int node, const std::string& sql,
                const std::string& want, std::chrono::seconds limit, std::string* last = nullptr) {
  const auto end = SteadyClock::now() + limit;
  while (true) {
    auto r = c.psql(node, sql);
    std::string out = r.output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    if (last) *last = out;
    if (r.exit_code == 0 && out == want) return true;
    if (SteadyClock::now() >= end) return false;
    run_for(io, 200ms);
  }
}

// Runs probes of every node concurrently until each has reported once.
std::vector<ProbeResult> probe_all(boost::asio::io_context& io, std::vector<std::unique_ptr<PgProbe>>& probes,
                                   std::chrono::milliseconds timeout) {
  std::vector<ProbeResult> out(probes.size());
  std::size_t done = 0;
  for (std::size_t i = 0; i < probes.size(); ++i) {
    boost::asio::co_spawn(io, probes[i]->probe(Clock::now() + timeout), [&, i](std::exception_ptr e, ProbeResult r) {
      REQUIRE_FALSE(e);
      out[i] = r;
      ++done;
    });
  }
  REQUIRE(run_until(io, [&] { return done == probes.size(); }, timeout + 2s));
  return out;
}

// What the monitor hands out: snapshots (with the time), events, pause/resume counts.
struct Watch {
  std::vector<std::pair<SteadyClock::time_point, TopologyPtr>> published;
  std::vector<MonitorEvent> events;
  int pauses = 0;
  int resumes = 0;

  MonitorCallbacks callbacks() {
    MonitorCallbacks cb;
    cb.publish = [this](TopologyPtr t) { published.emplace_back(SteadyClock::now(), std::move(t)); };
    cb.pause_writes = [this] { return note_pause(this); };
    cb.resume_writes = [this] { ++resumes; };
    cb.on_event = [this](const MonitorEvent& e) { events.push_back(e); };
    return cb;
  }
  static boost::asio::awaitable<void> note_pause(Watch* w) {
    ++w->pauses;
    co_return;
  }
  TopologyPtr latest() const { return published.empty() ? nullptr : published.back().second; }
  bool has_event(const std::string& kind, const std::string& node) const {
    for (const MonitorEvent& e : events) {
      if (e.kind == kind && e.node == node) return true;
    }
    return false;
  }
  std::string log() const {
    std::ostringstream out;
    for (const MonitorEvent& e : events) out << "  " << e.kind << " [" << e.node << "] " << e.text << "\n";
    return out.str();
  }
};

// Prints the monitor's events when the test ends (pass or fail): they tell the story of a failover.
struct PrintEvents {
  const Watch& watch;
  ~PrintEvents() { std::cout << "[health] monitor events:\n" << watch.log() << std::flush; }
};

bool healthy_with_primary(const ClusterMonitor& m, NodeId primary, std::size_t nodes) {
  TopologyPtr t = m.topology();
  if (m.state() != FailoverState::kHealthy || !t || t->primary != primary || t->nodes.size() != nodes) return false;
  for (const NodeState& n : t->nodes) {
    if (n.health != NodeHealth::kUp) return false;
  }
  return true;
}

// Every process of one node (the postmaster and its children), stopped with SIGSTOP until destroyed.
class FrozenNode {
 public:
  FrozenNode(const PgCluster& c, int node) {
    pid_t pm = c.postmaster_pid(node);
    pids_.push_back(pm);
    std::istringstream children(run("pgrep -P " + std::to_string(pm), 10s).output);
    for (pid_t p; children >> p;) pids_.push_back(p);
    for (pid_t p : pids_) ::kill(p, SIGSTOP);
  }
  ~FrozenNode() { thaw(); }
  void thaw() {
    for (pid_t p : pids_) ::kill(p, SIGCONT);
    pids_.clear();
  }

 private:
  std::vector<pid_t> pids_;
};

// One connection through the relay in front of the primary: replication connections (their startup packet
// asks for "replication") always flow; the others (the monitor's) are held while `blackhole` is set. It
// stands for a broken path between the proxy and the primary while the standbys still stream from it.
class SparesReplication : public baton::test::TcpRelay::Observer {
 public:
  explicit SparesReplication(const std::atomic<bool>& blackhole) : blackhole_(blackhole) {}
  void client_bytes(std::string_view bytes) override {
    if (head_.size() < 2048) head_.append(bytes);
    replication_ = replication_ || head_.find(std::string_view("replication\0", 12)) != std::string::npos;
  }
  bool held() override { return blackhole_ && !replication_; }

 private:
  const std::atomic<bool>& blackhole_;
  std::string head_;  // the client's first bytes
  bool replication_ = false;
};

std::string temp_state_path() { return baton::test::make_temp_dir("baton-state-") + "/failover.state"; }

StateRecord read_state(const std::string& path) {
  auto decoded = decode_state(baton::test::read_file(path));
  REQUIRE(std::holds_alternative<StateRecord>(decoded));
  return std::get<StateRecord>(decoded);
}

}  // namespace

TEST_CASE("probes report roles, timelines, LSNs and the WAL sender of a healthy cluster (TLS)", "[health]") {
  PgCluster& c = PgCluster::shared();
  boost::asio::io_context io;
  std::vector<std::unique_ptr<PgProbe>> probes;
  const auto nodes = specs(c);
  for (NodeId i = 0; i < nodes.size(); ++i) {
    probes.push_back(std::make_unique<PgProbe>(io.get_executor(), i, nodes[i], monitor_login(c)));
  }
  c.query(0, "CREATE TABLE IF NOT EXISTS health_probe_t (v int); INSERT INTO health_probe_t VALUES (1)");
  c.wait_replicated();
  const Lsn before = *parse_lsn(c.query(0, "SELECT pg_current_wal_lsn()"));
  std::vector<ProbeResult> r = probe_all(io, probes, 2000ms);
  const Lsn after = *parse_lsn(c.query(0, "SELECT pg_current_wal_lsn()"));
  const std::string timeline = c.query(0, "SELECT timeline_id FROM pg_control_checkpoint()");

  for (std::size_t i = 0; i < r.size(); ++i) {
    INFO("node" << i << ": " << probes[i]->last_error());
    REQUIRE(r[i].status == ProbeStatus::kOk);
    CHECK(r[i].node == i);
    CHECK(std::to_string(r[i].timeline) == timeline);
  }
  CHECK_FALSE(r[0].in_recovery);
  CHECK(r[0].current_lsn >= before);
  CHECK(r[0].current_lsn <= after);
  CHECK_FALSE(r[0].streaming_from);
  for (std::size_t i = 1; i < r.size(); ++i) {
    CHECK(r[i].in_recovery);
    CHECK(r[i].receive_lsn >= before);
    CHECK(r[i].replay_lsn >= before);
    CHECK(r[i].replay_lsn <= r[i].receive_lsn);
    CHECK(r[i].replay_lag_seconds >= 0);
    REQUIRE(r[i].streaming_from);
    CHECK(r[i].streaming_from->host == "127.0.0.1");
    CHECK(r[i].streaming_from->port == c.port(0));
  }

  // The connection is kept: three more probes, still one monitor backend per node, over TLS.
  for (int k = 0; k < 3; ++k) probe_all(io, probes, 2000ms);
  CHECK(c.query(0, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'baton-monitor'") == "1");
  CHECK(c.query(0, "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                   "WHERE a.application_name = 'baton-monitor'") == "t");
}

TEST_CASE("probes tell refused, auth errors and wrong databases apart", "[health]") {
  PgCluster& c = PgCluster::shared();
  boost::asio::io_context io;
  auto nodes = specs(c);
  PgConnParams bad_password = monitor_login(c);
  bad_password.password = "wrong";
  PgConnParams bad_db = monitor_login(c);
  bad_db.dbname = "no_such_db";
  NodeSpec closed = nodes[0];
  closed.port = static_cast<std::uint16_t>(baton::test::free_port());

  std::vector<std::unique_ptr<PgProbe>> probes;
  probes.push_back(std::make_unique<PgProbe>(io.get_executor(), 0, nodes[0], bad_password));
  probes.push_back(std::make_unique<PgProbe>(io.get_executor(), 1, closed, monitor_login(c)));
  probes.push_back(std::make_unique<PgProbe>(io.get_executor(), 2, nodes[0], bad_db));
  auto r = probe_all(io, probes, 2000ms);
  INFO(probes[0]->last_error() << " | " << probes[1]->last_error() << " | " << probes[2]->last_error());
  CHECK(r[0].status == ProbeStatus::kAuthError);
  CHECK(r[1].status == ProbeStatus::kRefused);
  CHECK(r[2].status == ProbeStatus::kOther);
  CHECK(probes[2]->last_error().find("no_such_db") != std::string::npos);
}

TEST_CASE("a probe of a hung node ends by its deadline and the other node keeps its interval", "[health]") {
  PgCluster c({.replicas = 1, .synchronous = false});
  boost::asio::io_context io;
  auto nodes = specs(c);
  std::vector<std::unique_ptr<PgProbe>> probes;
  for (NodeId i = 0; i < nodes.size(); ++i) {
    probes.push_back(std::make_unique<PgProbe>(io.get_executor(), i, nodes[i], monitor_login(c)));
  }
  REQUIRE(probe_all(io, probes, 2000ms)[1].status == ProbeStatus::kOk);  // the connection is open

  // Each node probed every 200 ms with a 500 ms deadline, as the monitor does; record every probe.
  constexpr auto kInterval = 200ms;
  constexpr auto kDeadline = 500ms;
  struct Seen {
    SteadyClock::time_point start, end;
    ProbeStatus status;
  };
  std::vector<std::vector<Seen>> seen(2);
  bool stop = false;
  auto loop = [&](NodeId i) -> void {
    auto step = std::make_shared<std::function<void()>>();
    *step = [&, i, step] {
      if (stop) return;
      auto start = SteadyClock::now();
      boost::asio::co_spawn(io, probes[i]->probe(Clock::now() + kDeadline),
                            [&, i, step, start](std::exception_ptr, ProbeResult r) {
                              seen[i].push_back({start, SteadyClock::now(), r.status});
                              auto t = std::make_shared<boost::asio::steady_timer>(io, start + kInterval);
                              t->async_wait([t, step](auto) { (*step)(); });
                            });
    };
    (*step)();
  };
  loop(0);
  loop(1);
  run_for(io, 1000ms);
  const std::size_t primary_before = seen[0].size();
  {
    FrozenNode frozen(c, 1);
    const auto frozen_at = SteadyClock::now();
    run_for(io, 3000ms);
    frozen.thaw();
    std::size_t hung = 0;
    for (const Seen& s : seen[1]) {
      if (s.start < frozen_at) continue;
      ++hung;
      CHECK(s.status == ProbeStatus::kTimeout);
      CHECK(s.end - s.start < kDeadline + 150ms);  // the deadline, not the node, ends it
    }
    CHECK(hung >= 4);  // a new connection attempt after each timeout, each bounded too
    // The primary's probes went on every 200 ms while the standby hung: about 15 in 3 s.
    std::size_t primary_ok = 0;
    for (std::size_t k = primary_before; k < seen[0].size(); ++k) {
      if (seen[0][k].start >= frozen_at && seen[0][k].status == ProbeStatus::kOk) ++primary_ok;
      CHECK(seen[0][k].end - seen[0][k].start < 150ms);
    }
    std::cout << "[health] hung standby: " << hung << " probes ended by the deadline; primary answered " << primary_ok
              << " probes meanwhile" << std::endl;
    CHECK(primary_ok >= 12);
  }
  // Thawed: the next probes succeed again.
  const std::size_t thawed_from = seen[1].size();
  run_for(io, 1500ms);
  stop = true;
  bool ok_again = false;
  for (std::size_t k = thawed_from; k < seen[1].size(); ++k) ok_again = ok_again || seen[1][k].status == ProbeStatus::kOk;
  CHECK(ok_again);
  run_for(io, 600ms);
}

TEST_CASE("probe_soon: a node's next probe starts at once instead of at the end of its interval", "[health]") {
  PgCluster c({.replicas = 0});
  boost::asio::io_context io;
  Watch watch;
  MonitorOptions options;
  options.probe_interval = 30s;  // nothing would probe the node again within this test unless asked
  options.failover.mode = FailoverMode::kManual;
  options.monitor = monitor_login(c);
  ClusterMonitor monitor(io, "main", specs(c), options, watch.callbacks());
  PrintEvents print{watch};
  monitor.start();
  REQUIRE(run_until(io, [&] { return healthy_with_primary(monitor, 0, 1); }, 20s));

  c.stop_node(0);
  run_for(io, 1500ms);
  CHECK_FALSE(watch.has_event("probe_failed", "node0"));  // its next probe is still ~28 s away

  const auto asked = SteadyClock::now();
  monitor.probe_soon(0);
  monitor.probe_soon(0);  // asked twice while it waits: one probe
  // (5 s: the probe's own deadline is 1 s; without the request the next probe is 28 s away.)
  REQUIRE(run_until(io, [&] { return watch.has_event("probe_failed", "node0"); }, 5s));
  std::cout << "[health] probe_soon -> probe_failed after "
            << std::chrono::duration<double>(SteadyClock::now() - asked).count() << " s" << std::endl;
  CHECK(run_until(io, [&] { return watch.has_event("node_suspect", "node0"); }, 2s));
  monitor.stop();
  run_for(io, 100ms);
}

TEST_CASE("kill -9 of the primary: the monitor promotes the most advanced standby, re-points the other, fences",
          "[health]") {
  PgCluster c({.replicas = 2, .synchronous = false});
  boost::asio::io_context io;
  Watch watch;
  MonitorOptions options;  // the defaults: probes every 1 s, 200 ms while suspect, down after 3 failures
  options.monitor = monitor_login(c);
  options.state_file = temp_state_path();
  ClusterMonitor monitor(io, "main", specs(c), options, watch.callbacks());
  PrintEvents print{watch};
  monitor.start();
  REQUIRE(run_until(io, [&] { return healthy_with_primary(monitor, 0, 3); }, 20s));
  const std::uint64_t epoch_before = monitor.topology()->epoch;

  // node2 stops receiving (its upstream moved to a closed port) while node1 keeps streaming:
  // node1 is then the most advanced standby.
  const int closed = baton::test::free_port();
  c.query(2, "ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=" + std::to_string(closed) +
                 " user=replicator application_name=node2'");
  c.query(2, "SELECT pg_reload_conf()");
  REQUIRE(poll_query(io, c, 2, "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'", "0", 20s));
  c.query(0, "CREATE TABLE failover_t (v text); INSERT INTO failover_t SELECT 'before-' || g FROM generate_series(1, 100) g");
  REQUIRE(poll_query(io, c, 1, "SELECT count(*) FROM failover_t", "100", 20s));
  run_for(io, 2500ms);  // the monitor probes node1 at its new position

  const auto killed_at = SteadyClock::now();
  REQUIRE(::kill(c.postmaster_pid(0), SIGKILL) == 0);
  REQUIRE(run_until(io, [&] { auto t = monitor.topology(); return t->primary && *t->primary != 0; }, 30s));
  const auto published_at = watch.published.back().first;
  const double seconds = std::chrono::duration<double>(published_at - killed_at).count();
  std::cout << "[health] kill -9 of the primary -> new primary published after " << seconds
            << " s (monitor measured " << monitor.last_failover_seconds() << " s from the first failed probe)"
            << std::endl;

  TopologyPtr t = monitor.topology();
  CHECK(*t->primary == 1);  // the standby that had received everything
  CHECK(t->epoch > epoch_before);
  CHECK(t->nodes[0].health == NodeHealth::kFenced);
  CHECK(t->nodes[1].role == NodeRole::kPrimary);
  CHECK(monitor.failovers() == 1);
  CHECK(monitor.last_failover_seconds() > 0);
  CHECK(watch.pauses == 1);
  CHECK(watch.resumes == 1);
  CHECK(c.query(1, "SELECT pg_is_in_recovery()") == "f");

  // The state file was written before the snapshot went out.
  StateRecord s = read_state(options.state_file);
  CHECK(s.epoch == t->epoch);
  CHECK(s.primary == "node1");
  CHECK(s.fenced == std::vector<std::string>{"node0"});
  CHECK(s.timeline == std::stoul(c.query(1, "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))"
                                            "::bit(32)::int")));
  CHECK(s.timeline >= 2);

  // Re-pointed: node2 streams from node1 (slot node2 created there), catches up and follows new writes.
  REQUIRE(run_until(io, [&] { return watch.has_event("repoint", "node2") && watch.has_event("fence", "node0"); }, 20s));
  std::string last;
  CHECK(poll_query(io, c, 2, "SELECT sender_port FROM pg_stat_wal_receiver WHERE status = 'streaming'",
                   std::to_string(c.port(1)), 30s, &last));
  INFO("node2 receiver: " << last);
  CHECK(c.query(1, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'node2' AND active") == "1");
  c.query(1, "INSERT INTO failover_t VALUES ('after-failover')");
  CHECK(poll_query(io, c, 2, "SELECT count(*) FROM failover_t", "101", 30s));
  CHECK(poll_query(io, c, 2, "SELECT pg_is_in_recovery()", "t", 5s));

  // The monitor sees the new shape: node2 a standby streaming from node1, healthy again.
  CHECK(run_until(io, [&] {
    auto tp = monitor.topology();
    return monitor.state() == FailoverState::kHealthy && tp->nodes[2].health == NodeHealth::kUp &&
           tp->nodes[2].role == NodeRole::kStandby;
  }, 10s));
  CHECK(watch.has_event("failover_finished", "node1"));
  CHECK(watch.has_event("promote", "node1"));
  monitor.stop();
  run_for(io, 100ms);
}

TEST_CASE("a hung primary (every process SIGSTOPped) is failed over once the standbys' receivers give up",
          "[health]") {
  PgCluster c({.replicas = 2, .synchronous = false});
  // While the primary hangs, the standbys' WAL receivers still say 'streaming' until wal_receiver_timeout
  // passes (60 s by default), and the witness check trusts them: the hang is confirmed no sooner.
  for (int k = 1; k <= 2; ++k) {
    c.query(k, "ALTER SYSTEM SET wal_receiver_timeout = '3s'");
    c.query(k, "SELECT pg_reload_conf()");
  }
  boost::asio::io_context io;
  Watch watch;
  MonitorOptions options;
  options.monitor = monitor_login(c);
  ClusterMonitor monitor(io, "main", specs(c), options, watch.callbacks());
  PrintEvents print{watch};
  monitor.start();
  REQUIRE(run_until(io, [&] { return healthy_with_primary(monitor, 0, 3); }, 20s));
  c.query(0, "CREATE TABLE hang_t (v int); INSERT INTO hang_t VALUES (1)");
  c.wait_replicated();
  run_for(io, 1500ms);

  FrozenNode frozen(c, 0);
  const auto frozen_at = SteadyClock::now();
  REQUIRE(run_until(io, [&] { auto t = monitor.topology(); return t->primary && *t->primary != 0; }, 40s));
  const double seconds = std::chrono::duration<double>(watch.published.back().first - frozen_at).count();
  std::cout << "[health] SIGSTOP of the primary (wal_receiver_timeout 3 s) -> new primary published after "
            << seconds << " s" << std::endl;
  TopologyPtr t = monitor.topology();
  CHECK(t->nodes[0].health == NodeHealth::kFenced);
  const int promoted = static_cast<int>(*t->primary);
  const int other = 3 - promoted;
  CHECK(c.query(promoted, "SELECT pg_is_in_recovery()") == "f");
  REQUIRE(run_until(io, [&] { return watch.has_event("repoint", "node" + std::to_string(other)); }, 20s));
  CHECK(poll_query(io, c, other, "SELECT sender_port FROM pg_stat_wal_receiver WHERE status = 'streaming'",
                   std::to_string(c.port(promoted)), 30s));
  frozen.thaw();
  // The old primary answers again, claiming primary on the old timeline: it stays fenced and is made read-only.
  CHECK(run_until(io, [&] {
    int fences = 0;
    for (const MonitorEvent& e : watch.events) fences += e.kind == "fence" && e.node == "node0" ? 1 : 0;
    return fences >= 2;
  }, 20s));
  CHECK(monitor.topology()->nodes[0].health == NodeHealth::kFenced);
  CHECK(poll_query(io, c, 0, "SHOW default_transaction_read_only", "on", 10s));
  monitor.stop();
  run_for(io, 100ms);
}

TEST_CASE("standbys that still stream from the primary stop a failover when only the monitor's path is broken",
          "[health]") {
  PgCluster c({.replicas = 2, .synchronous = false});
  std::atomic<bool> blackhole{false};
  baton::test::TcpRelay relay(c.port(0), [&] { return std::make_unique<SparesReplication>(blackhole); });
  // The standbys stream through the relay, so that they report it as their sender: the relay is node0.
  for (int k = 1; k <= 2; ++k) {
    c.query(k, "ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=" + std::to_string(relay.port()) +
                   " user=replicator application_name=node" + std::to_string(k) + "'");
    c.query(k, "SELECT pg_reload_conf()");
  }
  boost::asio::io_context io;
  for (int k = 1; k <= 2; ++k) {
    REQUIRE(poll_query(io, c, k, "SELECT sender_port FROM pg_stat_wal_receiver WHERE status = 'streaming'",
                       std::to_string(relay.port()), 30s));
  }
  std::vector<NodeSpec> nodes = specs(c);
  nodes[0].port = static_cast<std::uint16_t>(relay.port());
  Watch watch;
  MonitorOptions options;
  options.monitor = monitor_login(c);
  ClusterMonitor monitor(io, "main", nodes, options, watch.callbacks());
  PrintEvents print{watch};
  monitor.start();
  REQUIRE(run_until(io, [&] { return healthy_with_primary(monitor, 0, 3); }, 20s));

  blackhole = true;
  REQUIRE(run_until(io, [&] { return monitor.state() == FailoverState::kNoPrimary; }, 20s));
  run_for(io, 3000ms);  // the machine re-checks at every tick: still no failover
  CHECK(monitor.state() == FailoverState::kNoPrimary);
  CHECK_FALSE(watch.has_event("promote", "node1"));
  CHECK_FALSE(watch.has_event("promote", "node2"));
  bool alerted = false;
  for (const MonitorEvent& e : watch.events) {
    alerted = alerted || (e.kind == "alert" && e.text.find("broken") != std::string::npos);
  }
  CHECK(alerted);
  CHECK(c.query(1, "SELECT pg_is_in_recovery()") == "t");
  CHECK(c.query(2, "SELECT pg_is_in_recovery()") == "t");
  CHECK(monitor.topology()->epoch == 0);

  blackhole = false;  // the path heals: node0 is the primary again, no epoch change
  CHECK(run_until(io, [&] { return healthy_with_primary(monitor, 0, 3); }, 20s));
  CHECK(monitor.topology()->epoch == 0);
  monitor.stop();
  run_for(io, 100ms);
}

TEST_CASE("a planned switchover moves the primary with no write lost and fences the old one", "[health]") {
  PgCluster c({.replicas = 2, .synchronous = false});
  boost::asio::io_context io;
  Watch watch;
  MonitorOptions options;
  options.monitor = monitor_login(c);
  options.state_file = temp_state_path();
  ClusterMonitor monitor(io, "main", specs(c), options, watch.callbacks());
  PrintEvents print{watch};
  monitor.start();
  REQUIRE(run_until(io, [&] { return healthy_with_primary(monitor, 0, 3); }, 20s));
  const std::uint64_t epoch_before = monitor.topology()->epoch;
  c.query(0, "CREATE TABLE switch_t (v int); INSERT INTO switch_t SELECT g FROM generate_series(1, 1000) g");

  const auto asked_at = SteadyClock::now();
  monitor.command(Switchover{NodeId{2}});
  REQUIRE(run_until(io, [&] { return monitor.topology()->primary == NodeId{2}; }, 30s));
  const double seconds = std::chrono::duration<double>(watch.published.back().first - asked_at).count();
  std::cout << "[health] switchover command -> new primary published after " << seconds << " s" << std::endl;

  TopologyPtr t = monitor.topology();
  CHECK(t->epoch > epoch_before);
  CHECK(t->nodes[0].health == NodeHealth::kFenced);
  CHECK(monitor.failovers() == 1);
  CHECK(watch.pauses == 1);
  CHECK(watch.resumes == 1);
  CHECK(watch.has_event("read_only", "node0"));
  CHECK(c.query(2, "SELECT pg_is_in_recovery()") == "f");
  CHECK(c.query(2, "SELECT count(*) FROM switch_t") == "1000");  // everything the old primary had
  CHECK(c.query(0, "SHOW default_transaction_read_only") == "on");
  CHECK(read_state(options.state_file).primary == "node2");

  REQUIRE(run_until(io, [&] { return watch.has_event("repoint", "node1"); }, 20s));
  CHECK(poll_query(io, c, 1, "SELECT sender_port FROM pg_stat_wal_receiver WHERE status = 'streaming'",
                   std::to_string(c.port(2)), 30s));
  c.query(2, "INSERT INTO switch_t VALUES (1001)");
  CHECK(poll_query(io, c, 1, "SELECT count(*) FROM switch_t", "1001", 30s));
  monitor.stop();
  run_for(io, 100ms);
}

TEST_CASE("a corrupt state file stops the monitor from starting", "[health]") {
  const std::string path = temp_state_path();
  run("printf 'version=1\\nepoch=x\\n' > " + shell_quote(path), 10s);
  boost::asio::io_context io;
  std::vector<NodeSpec> nodes(1);
  nodes[0].name = "a";
  nodes[0].host = "127.0.0.1";
  MonitorOptions options;
  options.state_file = path;
  try {
    ClusterMonitor m(io, "main", nodes, options, {});
    FAIL("the monitor accepted a corrupt state file");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find(path + " line 2") != std::string::npos);
  }
}
