// Promote, wait for replay, re-point, make read-only/writable and fence, as SQL on the nodes (and hook commands).
#include "health/actuators/pg_actuator.hpp"

#include <algorithm>

#include "health/actuators/command.hpp"
#include "health/pg_text.hpp"

namespace baton::health {

namespace {

constexpr Duration kReplayPollEvery{20};
constexpr Duration kPromotePollEvery{100};
constexpr Duration kReloadSettle{100};  // backends take a reload when the postmaster signals them

std::string describe(const PgError& e) {
  std::string s = e.status == ProbeStatus::kTimeout ? "timeout: " : "";
  if (!e.sqlstate.empty()) s += "[" + e.sqlstate + "] ";
  return s + e.message;
}

std::optional<std::string> first_value(const PgResult& r) {
  if (r.rows.empty() || r.rows.front().empty()) return std::nullopt;
  return r.rows.front().front();
}

// Keyword/value conninfo as written; the URI form through libpq's own parser.
std::optional<std::vector<ConnParam>> parse_any_conninfo(const std::string& text) {
  if (!text.starts_with("postgresql://") && !text.starts_with("postgres://")) return parse_conninfo(text);
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(text.c_str(), &error);
  if (options == nullptr) {
    if (error != nullptr) PQfreemem(error);
    return std::nullopt;
  }
  std::vector<ConnParam> out;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr && *o->val != '\0') out.push_back({o->keyword, o->val});
  }
  PQconninfoFree(options);
  return out;
}

awaitable<void> sleep_for(asio::any_io_executor executor, Duration d) {
  asio::steady_timer t(executor);
  t.expires_after(d);
  co_await t.async_wait(use_tuple);
}

Duration remaining(TimePoint deadline) {
  return std::max(Duration{0}, std::chrono::duration_cast<Duration>(deadline - Clock::now()));
}

ActionOutcome failed(Event e, std::string detail) {
  ActionOutcome out;
  out.ok = false;
  out.events.push_back(std::move(e));
  out.detail = std::move(detail);
  return out;
}

}  // namespace

// One monitor connection to one node for the length of an action; cancel() reaches it through live_.
class PgActuator::Session {
 public:
  Session(PgActuator& owner, NodeId node) : owner_(owner), node_(node), conn_(owner.executor_) {
    owner_.live_.push_back(&conn_);
    if (owner_.cancelled_) conn_.cancel();
  }
  ~Session() { std::erase(owner_.live_, &conn_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // One statement, connecting first when needed; connect and statement share the deadline.
  awaitable<PgResult> run(std::string sql, std::vector<std::string> params, TimePoint deadline) {
    PgResult out;
    if (!conn_.connected()) {
      const NodeSpec& n = owner_.nodes_[node_];
      out.error = co_await conn_.connect(owner_.options_.conn, n.host, n.port, deadline);
      if (out.error) co_return out;
    }
    out = co_await conn_.query(std::move(sql), std::move(params), deadline);
    co_return out;
  }

 private:
  PgActuator& owner_;
  NodeId node_;
  PgConn conn_;
};

PgActuator::PgActuator(asio::any_io_executor executor, std::vector<NodeSpec> nodes, ActuatorOptions options)
    : executor_(executor), nodes_(std::move(nodes)), options_(std::move(options)) {}

void PgActuator::cancel() {
  cancelled_ = true;
  for (PgConn* c : live_) c->cancel();
}

TimePoint PgActuator::statement_deadline() const { return Clock::now() + options_.statement_timeout; }

std::vector<EnvVar> PgActuator::hook_env(NodeId node, const char* action) const {
  const NodeSpec& n = nodes_[node];
  return {{"BATON_ACTION", action},
          {"BATON_NODE_NAME", n.name},
          {"BATON_NODE_HOST", n.host},
          {"BATON_NODE_PORT", std::to_string(n.port)}};
}

awaitable<ActionOutcome> PgActuator::wait_replay(NodeId node, Lsn lsn, TimePoint deadline) {
  ActionOutcome out;
  if (lsn == 0) {
    out.detail = "nothing to wait for";
    co_return out;
  }
  Session s(*this, node);
  std::string last = "no answer";
  while (!cancelled_ && Clock::now() < deadline) {
    const TimePoint until = std::min(deadline, statement_deadline());
    PgResult r = co_await s.run("SELECT pg_last_wal_replay_lsn()", {}, until);
    std::optional<std::string> v = first_value(r);
    if (r.error) {
      last = describe(*r.error);
    } else if (!v || !parse_lsn(*v)) {
      last = "no replay position (not a standby?)";
    } else if (*parse_lsn(*v) >= lsn) {
      out.detail = "replayed " + *v + " (needed " + format_lsn(lsn) + ")";
      co_return out;
    } else {
      last = "replayed " + *v + " of " + format_lsn(lsn);
    }
    co_await sleep_for(executor_, kReplayPollEvery);
  }
  co_return failed(PromoteFailed{node, "WAL replay did not reach " + format_lsn(lsn) + ": " + last},
                   "wait for replay failed: " + last);
}

// The node's timeline when it answers as a primary; nullopt (and why) otherwise.
awaitable<std::optional<std::uint32_t>> PgActuator::primary_timeline(Session& s, TimePoint deadline,
                                                                     std::string& error) {
  PgResult r = co_await s.run(
      "SELECT pg_is_in_recovery(), CASE WHEN NOT pg_is_in_recovery() "
      "THEN substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END",
      {}, deadline);
  if (r.error) {
    error = describe(*r.error);
    co_return std::nullopt;
  }
  if (r.rows.size() != 1 || r.rows[0].size() != 2 || !r.rows[0][0]) {
    error = "unexpected answer to pg_is_in_recovery()";
    co_return std::nullopt;
  }
  if (*r.rows[0][0] != "f") {
    error = "still in recovery";
    co_return std::nullopt;
  }
  std::optional<std::uint32_t> tl = r.rows[0][1] ? parse_timeline_hex(*r.rows[0][1]) : std::nullopt;
  co_return tl.value_or(0);
}

awaitable<ActionOutcome> PgActuator::promote(NodeId node, TimePoint deadline) {
  Session s(*this, node);
  std::string error;
  std::string how;
  if (!options_.promote_command.empty()) {
    CommandResult c = co_await run_command(options_.promote_command, hook_env(node, "promote"), remaining(deadline),
                                           &cancelled_);
    if (c.exit_code != 0) {
      std::string why = c.timed_out ? "promote_command timed out" : "promote_command exited " + std::to_string(c.exit_code);
      if (!c.output.empty()) why += ": " + c.output;
      co_return failed(PromoteFailed{node, why}, why);
    }
    how = "promote_command";
    // The command may return before the promotion has ended: poll until the node answers as a primary.
    while (true) {
      const TimePoint until = std::min(deadline, statement_deadline());
      std::optional<std::uint32_t> tl = co_await primary_timeline(s, until, error);
      if (tl) {
        ActionOutcome out;
        out.events.push_back(PromoteSucceeded{node, *tl});
        out.detail = "promoted by promote_command; timeline " + std::to_string(*tl);
        co_return out;
      }
      if (cancelled_ || Clock::now() >= deadline) break;
      co_await sleep_for(executor_, kPromotePollEvery);
    }
  } else {
    const auto seconds = std::max<long>(1, std::chrono::duration_cast<std::chrono::seconds>(remaining(deadline)).count() - 1);
    PgResult r = co_await s.run("SELECT pg_promote(true, " + std::to_string(seconds) + ")", {}, deadline);
    std::optional<std::string> v = first_value(r);
    if (r.error) {
      error = "pg_promote: " + describe(*r.error);
    } else if (!v || *v != "t") {
      error = "pg_promote did not finish within " + std::to_string(seconds) + " s";
    }
    how = "pg_promote";
    // Whatever pg_promote said, the node's own answer decides (it may already be a primary).
    std::string verify_error;
    const TimePoint until = std::min(deadline, statement_deadline());
    std::optional<std::uint32_t> tl = co_await primary_timeline(s, until, verify_error);
    if (tl) {
      ActionOutcome out;
      out.events.push_back(PromoteSucceeded{node, *tl});
      out.detail = "promoted by pg_promote; timeline " + std::to_string(*tl);
      co_return out;
    }
    if (error.empty()) error = verify_error;
  }
  co_return failed(PromoteFailed{node, how + ": " + error}, how + " failed: " + error);
}

awaitable<ActionOutcome> PgActuator::repoint(NodeId standby, NodeId new_primary) {
  const NodeSpec& target = nodes_[new_primary];
  auto fail = [&](const std::string& why) { return failed(RepointFailed{standby, why}, "re-point failed: " + why); };
  Session s(*this, standby);
  PgResult r = co_await s.run("SELECT current_setting('primary_conninfo'), current_setting('primary_slot_name')", {},
                              statement_deadline());
  if (r.error) co_return fail("reading primary_conninfo: " + describe(*r.error));
  if (r.rows.size() != 1 || r.rows[0].size() != 2) co_return fail("unexpected answer reading primary_conninfo");
  const std::string conninfo = r.rows[0][0].value_or("");
  const std::string slot = r.rows[0][1].value_or("");
  std::optional<std::vector<ConnParam>> params = parse_any_conninfo(conninfo);
  if (!params) co_return fail("primary_conninfo cannot be parsed");
  const std::string moved = format_conninfo(repoint_conninfo(std::move(*params), target.host, target.port));

  if (!slot.empty()) {
    Session p(*this, new_primary);
    std::string create = "SELECT pg_create_physical_replication_slot($1, true) "
                         "WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = $1)";
    std::vector<std::string> args(1, slot);  // (a braced list here trips g++ 12's coroutine frames)
    PgResult c = co_await p.run(std::move(create), std::move(args), statement_deadline());
    if (c.error) co_return fail("creating slot " + slot + " on " + target.name + ": " + describe(*c.error));
  }
  r = co_await s.run("ALTER SYSTEM SET primary_conninfo = " + quote_literal(moved), {}, statement_deadline());
  if (r.error) co_return fail("ALTER SYSTEM SET primary_conninfo: " + describe(*r.error));
  r = co_await s.run("SELECT pg_reload_conf()", {}, statement_deadline());
  if (r.error) co_return fail("pg_reload_conf: " + describe(*r.error));
  ActionOutcome out;
  out.events.push_back(RepointDone{standby});
  out.detail = "primary_conninfo now names " + target.name + " (" + target.host + ":" + std::to_string(target.port) +
               ")" + (slot.empty() ? std::string() : ", slot " + slot);
  co_return out;
}

awaitable<ActionOutcome> PgActuator::make_read_only(NodeId node) {
  auto fail = [&](const std::string& why) { return failed(ReadOnlyFailed{node, why}, "read-only failed: " + why); };
  Session s(*this, node);
  PgResult r = co_await s.run("ALTER SYSTEM SET default_transaction_read_only = on", {}, statement_deadline());
  if (r.error) co_return fail("ALTER SYSTEM: " + describe(*r.error));
  r = co_await s.run("SELECT pg_reload_conf()", {}, statement_deadline());
  if (r.error) co_return fail("pg_reload_conf: " + describe(*r.error));
  co_await sleep_for(executor_, kReloadSettle);
  // Transactions begun before the reload may still write: end those that wrote or sit idle in one.
  r = co_await s.run(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
      "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
      "AND (backend_xid IS NOT NULL OR state LIKE 'idle in transaction%')",
      {}, statement_deadline());
  if (r.error) co_return fail("terminating writers: " + describe(*r.error));
  const std::string terminated = first_value(r).value_or("0");
  r = co_await s.run("CHECKPOINT", {}, statement_deadline());
  if (r.error) co_return fail("CHECKPOINT: " + describe(*r.error));
  r = co_await s.run("SELECT pg_current_wal_flush_lsn()", {}, statement_deadline());
  std::optional<std::string> v = first_value(r);
  std::optional<Lsn> lsn = v ? parse_lsn(*v) : std::nullopt;
  if (r.error) co_return fail("pg_current_wal_flush_lsn: " + describe(*r.error));
  if (!lsn) co_return fail("no WAL position");
  ActionOutcome out;
  out.events.push_back(ReadOnlyDone{node, *lsn});
  out.detail = "read-only; " + terminated + " writing backends terminated; final LSN " + format_lsn(*lsn);
  co_return out;
}

awaitable<ActionOutcome> PgActuator::make_writable(NodeId node) {
  ActionOutcome out;
  Session s(*this, node);
  PgResult r = co_await s.run("ALTER SYSTEM RESET default_transaction_read_only", {}, statement_deadline());
  if (!r.error) r = co_await s.run("SELECT pg_reload_conf()", {}, statement_deadline());
  if (r.error) {
    out.ok = false;
    out.detail = "making writable failed: " + describe(*r.error);
  } else {
    out.detail = "writable again";
  }
  co_return out;
}

awaitable<ActionOutcome> PgActuator::fence(NodeId node) {
  ActionOutcome out;
  out.events.push_back(FenceDone{node});
  if (!options_.fence_command.empty()) {
    CommandResult c =
        co_await run_command(options_.fence_command, hook_env(node, "fence"), options_.statement_timeout, &cancelled_);
    out.detail = c.timed_out ? "fence_command timed out" : "fence_command exited " + std::to_string(c.exit_code);
    if (!c.output.empty()) out.detail += " (" + c.output + ")";
    out.detail += "; ";
    out.ok = c.exit_code == 0;
  }
  Session s(*this, node);
  PgResult r = co_await s.run("ALTER SYSTEM SET default_transaction_read_only = on", {}, statement_deadline());
  if (!r.error) r = co_await s.run("SELECT pg_reload_conf()", {}, statement_deadline());
  if (r.error) {
    out.detail += "node not made read-only (" + describe(*r.error) + ")";
    co_return out;
  }
  out.detail += "node made read-only";
  // The read-only default binds no one who asks for read-write (BEGIN READ WRITE, SET
  // default_transaction_read_only = off), and sessions begun before the fence go on: end every
  // client session there but the monitor's own, so that nothing keeps writing to a node baton no
  // longer treats as the primary.
  co_await sleep_for(executor_, kReloadSettle);
  r = co_await s.run(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
      "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND usename IS DISTINCT FROM current_user",
      {}, statement_deadline());
  out.detail += r.error ? "; client sessions not ended (" + describe(*r.error) + ")"
                        : "; " + first_value(r).value_or("0") + " client sessions ended";
  co_return out;
}

}  // namespace baton::health
