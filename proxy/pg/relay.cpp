// The PostgreSQL relay: a client's messages to its server and the answers back, two pumps at once,
// with prepared statements renamed and the server given back at transaction boundaries.
#include <array>
#include <tuple>
#include <utility>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "protocol/pg/be.hpp"
#include "protocol/pg/fe.hpp"
#include "protocol/pg/frame.hpp"
#include "protocol/pg/sqlstate.hpp"
#include "proxy/app.hpp"
#include "proxy/log/log.hpp"
#include "proxy/net/worker.hpp"
#include "proxy/pg/io.hpp"
#include "proxy/pg/session.hpp"
#include "health/pg_text.hpp"
#include "routing/classifier.hpp"
#include "routing/deallocate.hpp"
#include "routing/replica_policy.hpp"

namespace baton::proxy::pg {

namespace pgp = protocol::pg;
namespace be = protocol::pg::be;
namespace fe = protocol::pg::fe;
namespace sqlstate = protocol::pg::sqlstate;
using namespace asio::experimental::awaitable_operators;

namespace {

// Baton answers some messages itself, always by sending the server something that gets a
// predictable answer and replacing that answer, so its own answers keep the server's order:
// a no-op Close (CloseComplete) for a Parse the server already has, an empty query
// (EmptyQueryResponse) for a DEALLOCATE of a renamed statement, a Parse that fails (ErrorResponse,
// and the server skips to Sync as PostgreSQL would) for a duplicate statement name.
constexpr std::string_view kNoopStatement = "baton_noop";  // a statement name no client can have
constexpr std::string_view kFailingQuery = "baton: statement name already in use";

using Replacement = std::shared_ptr<const std::vector<std::uint8_t>>;

const Replacement& parse_complete() {
  static const Replacement bytes = std::make_shared<const std::vector<std::uint8_t>>(
      std::vector<std::uint8_t>{'1', 0, 0, 0, 4});
  return bytes;
}

const Replacement& deallocate_complete() {
  static const Replacement bytes = [] {
    std::vector<std::uint8_t> out;
    protocol::Writer w(out);
    be::encode_command_complete(w, "DEALLOCATE");
    return std::make_shared<const std::vector<std::uint8_t>>(std::move(out));
  }();
  return bytes;
}

Replacement duplicate_statement_error(std::string_view name) {
  std::vector<std::uint8_t> out;
  protocol::Writer w(out);
  std::string message = "prepared statement \"" + std::string(name) + "\" already exists";
  be::encode_error(w, be::ErrorSpec{.severity = "ERROR", .sqlstate = sqlstate::kDuplicatePreparedStatement,
                                    .message = message});
  return std::make_shared<const std::vector<std::uint8_t>>(std::move(out));
}

// Server messages are streamed, never buffered whole, so their only limit is PostgreSQL's own (1 GiB).
constexpr std::uint32_t kMaxServerMessage = 0x40000000;

bool ends_with_sync(Expect::Kind k) {
  return k == Expect::Kind::kSync || k == Expect::Kind::kQuery || k == Expect::Kind::kFunctionCall;
}

// Server messages the relay reads whole (small, and their bodies matter); others may stream.
bool needs_whole(char type) {
  return type == be::kReadyForQuery || type == be::kParameterStatus || type == be::kCommandComplete;
}

}  // namespace

// ---- the main loop -------------------------------------------------------------------------

// What a hot wait reads into: most requests of a transaction-pooled client fit (pgbench's
// select-only transaction is 60 bytes simple, about 120 extended).
constexpr std::size_t kHotReadBytes = 256;

// One long coroutine on purpose: every co_await of another coroutine allocates, awaits and frees a
// frame (moving the relay in turn into this one saved about 300 instructions per transaction,
// bench/callgrind_tx.sh: 4,804 -> 4,499 select-simple), so the idle wait, the attachment and the
// relay in turn stay in this one frame.
awaitable<bool> Session::serve() {
  const Config& cfg = worker_.config();
  bool answered = false;  // a request was relayed in this coroutine: the client is active
  TurnAt resume = TurnAt::kNone;  // where a hot cycle left a relay in turn to this coroutine
  bool align = false;             // a server connection was attached: give it the client's parameters
  for (;;) {
    if (resume == TurnAt::kNone) {
      if (!server_) {
        if (draining_) {
          co_await send_fatal(sqlstate::kAdminShutdown, "terminating connection due to administrator command");
          co_return false;
        }
        // Idle: wait for the next message without holding a server connection (or a buffer).
        auto head = pgp::decode_header(client_in_.readable(), cfg.general.max_message_size);
        if (std::holds_alternative<protocol::Malformed>(head)) {
          co_await send_fatal(sqlstate::kProtocolViolation, "invalid message length or type from client");
          co_return false;
        }
        // A request goes on once its first message is here whole: process_client_frames() forwards
        // nothing less (only COPY data streams, and that never starts a request). A long Query
        // arrives over several reads.
        std::size_t need = 5;
        if (!whole_client_message_buffered(need)) {
          client_in_.release_if_empty();
          if (std::exchange(woken_, false)) {
            // Back from parking: the socket is readable (or drain() woke it).
            if (draining_) continue;
          } else if (cfg.pool.client_idle_timeout.count() > 0 && client_in_.empty()) {
            asio::steady_timer timer(co_await asio::this_coro::executor, cfg.pool.client_idle_timeout);
            auto r = co_await (client_.wait_readable(client_read_cancel_.slot()) || timer.async_wait(use_tuple));
            if (draining_) continue;
            if (r.index() == 1) {
              co_await send_fatal(sqlstate::kIdleSessionTimeout, "terminating connection due to client_idle_timeout");
              co_return false;
            }
          } else if (client_in_.empty()) {
            if (!client_.is_tls() && answered) {
              // Hot: the next request of an active client comes soon. The hot cycle waits for it
              // with a read, which costs no parking and resuming, and no re-arming of the socket's
              // readiness; and it relays the requests that go plainly without resuming this
              // coroutine (see start_hot_cycle()). The read goes to a small array in this frame,
              // not to a 16 KiB buffer: a hot client holds its coroutine frames only.
              std::array<std::uint8_t, kHotReadBytes> first_bytes;
              const HotExit x = co_await HotCycle(*this, asio::buffer(first_bytes));
              if (x.kind == HotExit::Kind::kRead) {
                if (draining_) continue;
                if (x.ec == asio::error::operation_aborted) {
                  answered = false;  // idle for a maintenance tick (end_hot_wait): park
                  continue;
                }
                co_return false;  // (the cycle ends with kRead only on an error or end of file)
              }
              align = x.kind == HotExit::Kind::kAlign;
              resume = x.at;  // (kNone unless kTurn)
              continue;
            }
            if (!client_.is_tls()) {
              parked_ = true;  // the coroutine ends here; spawn() parks the session when it has
              co_return true;
            }
            error_code wait_ec = co_await client_.wait_readable(client_read_cancel_.slot());
            if (draining_) continue;
            if (wait_ec) co_return false;
          }
          // The socket was readable: its bytes are most likely there to take without an Asio operation.
          error_code ec;
          std::size_t n = client_.read_now(client_in_.prepare(need), ec);
          if (ec == asio::error::would_block) {
            std::tie(ec, n) = co_await client_.read_some(client_in_.prepare(need), client_read_cancel_.slot());
          }
          if (draining_ && (ec || n == 0)) continue;
          if (ec || n == 0) co_return false;
          worker_.metrics().on_client_bytes_received(listener_slot_, n);
          client_in_.commit(n);
          continue;
        }
        char type = static_cast<char>(client_in_.readable()[0]);
        if (type == fe::kTerminate) co_return false;
        if (skip_to_sync_) {
          // Drop what is left of a batch whose server was lost (we already answered it).
          auto whole = pgp::decode_frame(client_in_.readable(), cfg.general.max_message_size);
          if (auto* f = std::get_if<protocol::Decoded<pgp::Frame>>(&whole)) {
            const bool sync = f->value.type == fe::kSync;
            client_in_.consume(f->consumed);
            if (sync) {
              skip_to_sync_ = false;
              if (rfq_after_skip_) {
                rfq_after_skip_ = false;
                std::vector<std::uint8_t> out;
                protocol::Writer w(out);
                be::encode_ready_for_query(w, be::TxStatus::kIdle);
                if (co_await write_all(client_, out)) co_return false;
              }
            }
            continue;
          }
          auto [ec, n] = co_await client_.read_some(client_in_.prepare(1));
          if (ec || n == 0) co_return false;
          client_in_.commit(n);
          continue;
        }
        // Mostly an idle pooled connection is there to take: no coroutine; else acquire_server()
        // waits for one (or for a primary).
        // (Not a conditional expression around the co_await: GCC 12 miscompiles that.)
        ServerError e;
        std::optional<Pick> picked;
        if (!attach_now(picked)) {
          const TimePoint since = SteadyClock::now();
          std::size_t node = 0;
          if (ServerPool* full = full_primary_pool(picked, node)) {
            // Clients outnumber the primary's connections: in line here, one coroutine frame fewer
            // per transaction. Woken without a connection: acquire_server() goes on.
            ServerPool::Waiter w(since + cfg.pool.query_wait_timeout);
            set_client_state(metrics::ClientState::kWaiting);
            co_await full->wait(w);
            if (w.conn) attach_waited(*full, std::move(w.conn), node, picked, since);
          }
          if (!server_) e = co_await acquire_server(std::move(picked), since);
        }
        if (!e.empty()) {
          // A server that refused our login, or a pool that stayed full: as PgBouncer, end the client.
          // No primary to be had (a failover that did not finish in time): an error, and go on.
          if (e.from_server || e.sqlstate == sqlstate::kProtocolViolation) {
            co_await send_fatal(e.sqlstate, e.message);
            co_return false;
          }
          if (co_await fail_request(e) == End::kClose) co_return false;
          continue;
        }
        align = true;
      }
      if (std::exchange(align, false)) {
        const std::string sql = alignment_sql();
        if (!sql.empty()) {
          const ServerError e = co_await align_server(sql);
          if (!e.empty()) {
            co_await send_fatal(e.sqlstate, e.message);
            co_return false;
          }
        }
      }
      begin_relay();
      if (mode_ == PoolMode::kTransaction && pin_ == routing::PinReason::kNone) resume = TurnAt::kForward;
    }
    bool done = false;  // the attachment is over (else the pumps go on)
    if (resume != TurnAt::kNone) {
      // Relaying in turn (see after_answers()), here and not in a coroutine of its own: that would
      // allocate and free a frame per transaction. The steps are the hot cycle's; here the waits
      // are co_awaits.
      while (resume != TurnAt::kOver && resume != TurnAt::kPumps) {
        switch (resume) {
          case TurnAt::kForward:
            resume = turn_forward();
            break;
          case TurnAt::kFlush: {
            const error_code ec = co_await server_->stream.write(server_gather_);
            resume = turn_flushed(ec);
            break;
          }
          case TurnAt::kAnswers: {
            // No cancellation slot (binding one costs each read): nothing cancels this read, since
            // drain() stops only a relay with nothing in flight, and a closed socket ends it anyway.
            auto [ec, n] = co_await server_->stream.read_some(server_->in.prepare(server_read_need()));
            resume = turn_answers(ec, n);
            break;
          }
          case TurnAt::kClientWrite: {
            const error_code ec = co_await client_.write(client_gather_);
            resume = turn_answers_written(ec);
            break;
          }
          case TurnAt::kNextRead: {
            // (No cancellation slot, as above: drain() does not stop a relay inside a transaction.)
            auto [ec, n] = co_await client_.read_some(client_in_.prepare(client_read_need()));
            resume = turn_next_read(ec, n);
            break;
          }
          default:
            break;
        }
      }
      done = resume == TurnAt::kOver;
      resume = TurnAt::kNone;
      if (done && released_plainly()) {
        // The common end of a transaction-pooled request, without another coroutine.
        finish_server(true);
        answered = true;
        continue;
      }
    }
    if (co_await finish_relay(done) == End::kClose) co_return false;
    answered = true;
  }
}

void Session::begin_relay() {
  releasing_ = false;
  server_gone_ = false;
  client_processed_ = 0;
  server_processed_ = 0;
  copy_in_ = false;
}

bool Session::released_plainly() const {
  return !fatal_client_error_ && !server_gone_ && !client_gone_ && mode_ == PoolMode::kTransaction &&
         pin_ == routing::PinReason::kNone && !(listener_.read_your_writes && routed_write_);
}

awaitable<Session::End> Session::finish_relay(bool done) {
  if (!done) co_await (client_pump() && server_pump());

  if (fatal_client_error_) {
    finish_server(false);
    co_await send_fatal(client_error_sqlstate_, client_error_message_);
    co_return End::kClose;
  }
  if (server_gone_) {
    bool in_flight = !expects_.empty() || tx_ != be::TxStatus::kIdle || unsynced_;
    const std::string node = server_ ? server_->target->node_name : std::string();
    if (server_ && server_lost_reason_.empty()) {
      // A standby that failed under a read leaves rotation; the next read goes elsewhere.
      const health::Topology& t = *worker_.topology(cluster_index_);
      const std::size_t n = server_->target->node_index;
      if (!(t.primary && *t.primary == n)) worker_.exclude_standby(cluster_index_, n);
      worker_.app().report_node_trouble(cluster_index_, n);  // its monitor probes it now
    }
    finish_server(false);
    if (client_gone_) co_return End::kClose;
    std::string reason = std::move(server_lost_reason_);
    server_lost_reason_.clear();
    if (in_flight) {
      // The transaction is lost with its server; the client's connection to baton goes on.
      std::vector<std::uint8_t> out;
      protocol::Writer w(out);
      std::string msg = "server connection lost: the transaction on node \"" + node + "\" was aborted (" +
                        (reason.empty() ? std::string("if the node is down, baton fails over to a standby") : reason) +
                        "); the session continues on another server connection";
      be::encode_error(w, be::ErrorSpec{.severity = "ERROR", .sqlstate = sqlstate::kConnectionFailure, .message = msg});
      count_error(sqlstate::kConnectionFailure, msg);
      // Mid-batch, PostgreSQL would answer the Sync still to come: so does baton.
      if (unsynced_) {
        skip_to_sync_ = true;
        rfq_after_skip_ = true;
      } else {
        be::encode_ready_for_query(w, be::TxStatus::kIdle);
      }
      expects_.clear();
      tx_ = be::TxStatus::kIdle;
      unsynced_ = false;
      if (co_await write_all(client_, out)) co_return End::kClose;
    }
    co_return End::kContinue;
  }
  if (client_gone_) co_return End::kClose;
  if (listener_.read_your_writes && routed_write_ && server_) {
    // A transaction ran on the primary: reads wait for standbys that have replayed its position.
    std::string lsn;
    ServerError e = co_await run_internal_query(*server_, "SELECT pg_current_wal_insert_lsn()", &lsn);
    if (auto parsed = health::parse_lsn(lsn); e.empty() && parsed) ryw_lsn_ = std::max(ryw_lsn_, *parsed);
  }
  if (mode_ == PoolMode::kSession || pin_ != routing::PinReason::kNone) {
    co_await detach_server();  // only a drain ends a session-mode relay between transactions
  } else {
    finish_server(true);
  }
  co_return End::kContinue;
}

bool Session::may_release() const {
  return mode_ == PoolMode::kTransaction && pin_ == routing::PinReason::kNone && expects_.empty() &&
         tx_ == be::TxStatus::kIdle && !unsynced_ && client_stream_left_ == 0 && server_stream_left_ == 0;
}

// ---- one direction at a time ---------------------------------------------------------------
// (Relaying in turn, its steps and the hot cycle: in_turn.cpp.)

bool Session::whole_client_message_buffered(std::size_t& need) const {
  auto head = pgp::decode_header(client_in_.readable(), worker_.config().general.max_message_size);
  auto* h = std::get_if<protocol::Decoded<pgp::FrameHeader>>(&head);
  if (h == nullptr) return false;
  if (h->value.total() > client_in_.size()) {
    need = h->value.total() - client_in_.size();
    return false;
  }
  return true;
}

bool Session::write_to_server_now(error_code& ec) {
  ec.clear();
  server_gather_.clear();
  if (to_server_.empty()) return true;
  for (const Piece& p : to_server_) {
    server_gather_.emplace_back(p.data ? p.data : to_server_scratch_.data() + p.offset, p.size);
  }
  return server_->stream.write_now(server_gather_, ec);
}

bool Session::flushed(error_code ec) {
  to_server_.clear();
  if (ec) {
    server_gone_ = true;
    server_->stream.close();
  }
  // Consumed also when the write failed: the request is lost with the server and answered with an
  // error, and must not run again on the next server connection (outside its transaction).
  client_in_.consume(client_processed_);
  client_processed_ = 0;
  return !ec;
}

std::size_t Session::server_read_need() const {
  protocol::Bytes have = server_->in.readable();
  if (have.size() >= 5 && server_stream_left_ == 0) {
    auto head = pgp::decode_header(have, kMaxServerMessage);
    if (auto* h = std::get_if<protocol::Decoded<pgp::FrameHeader>>(&head)) {
      if (needs_whole(h->value.type) && h->value.total() > have.size()) return h->value.total() - have.size();
    }
  }
  return 1;
}

bool Session::take_answers(error_code ec, std::size_t n, bool& write_rest) {
  write_rest = false;
  if (ec == asio::error::operation_aborted && (client_gone_ || fatal_client_error_ || releasing_)) return true;
  if (ec || n == 0) {
    server_gone_ = true;
    log::warn("session", "server connection to \"", server_->target->node_name, "\" lost: ",
              ec ? ec.message() : std::string("closed by server"));
    return false;
  }
  server_->in.commit(n);
  if (!process_server_bytes()) {
    server_gone_ = true;
    server_->stream.close();
    return false;
  }
  error_code wec;
  if (!to_client_.empty() && !client_gone_) {
    client_gather_.clear();
    std::size_t bytes = 0;
    for (const Piece& p : to_client_) {
      client_gather_.emplace_back(p.data, p.size);
      bytes += p.size;
    }
    worker_.metrics().on_client_bytes_sent(listener_slot_, bytes);
    if (!client_.write_now(client_gather_, wec)) {
      write_rest = true;  // the pieces point into the server's buffer: nothing consumed yet
      return false;
    }
  }
  answers_written(wec);
  return false;
}

void Session::answers_written(error_code ec) {
  if (ec) client_gone_ = true;
  to_client_.clear();
  to_client_hold_.clear();
  server_->in.consume(server_processed_);
  server_processed_ = 0;
}

awaitable<bool> Session::relay_server_answers() {
  const std::size_t need = server_read_need();
  auto [ec, n] = co_await server_->stream.read_some(server_->in.prepare(need), server_read_cancel_.slot());
  bool write_rest = false;
  const bool aborted = take_answers(ec, n, write_rest);
  if (write_rest) answers_written(co_await client_.write(client_gather_));
  co_return aborted;
}

// ---- client to server ----------------------------------------------------------------------

awaitable<void> Session::client_pump() {
  for (;;) {
    // Once the server pump gave the connection back, bytes read stay buffered for the next transaction.
    if (releasing_) co_return;
    // (The request that took the standby was judged by acquire_server already: not twice.)
    if (on_standby_ && role_ == ListenerRole::kSplit && !unsynced_ && !client_in_.empty() &&
        !std::exchange(request_judged_, false) && !request_is_read()) {
      // A pipelined request that must not run on this standby: once the answers before it are in,
      // give the standby back and let serve() route it anew (to the primary). If a transaction is
      // open by then (BEGIN READ ONLY), the request belongs to it and runs here, as on PostgreSQL.
      for (;;) {
        if (releasing_ || server_gone_ || client_gone_ || fatal_client_error_) co_return;
        if (expects_.empty()) {
          if (may_release()) {
            releasing_ = true;
            server_read_cancel_.emit(asio::cancellation_type::terminal);
            co_return;
          }
          break;
        }
        asio::steady_timer wait(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
        defer_wait_ = &wait;
        co_await wait.async_wait(use_tuple);  // the server pump wakes it after each batch of answers
        defer_wait_ = nullptr;
      }
    }
    if (!process_client_frames()) {
      fatal_client_error_ = true;
      server_read_cancel_.emit(asio::cancellation_type::terminal);
      co_return;
    }
    error_code wec;
    if (!write_to_server_now(wec)) wec = co_await server_->stream.write(server_gather_);
    if (!flushed(wec)) co_return;
    if (client_gone_) {
      // Terminate, or the client closed: stop the server pump unless an answer is still coming.
      if (expects_.empty()) server_read_cancel_.emit(asio::cancellation_type::terminal);
      co_return;
    }
    if (releasing_ || server_gone_) co_return;
    // A partly received message: make room for all of it.
    std::size_t need = 1;
    // A whole message still buffered on a standby (processing stopped at a request boundary): go on with it.
    if (whole_client_message_buffered(need) && on_standby_) continue;
    auto [ec, n] = co_await client_.read_some(client_in_.prepare(need), client_read_cancel_.slot());
    if (ec == asio::error::operation_aborted && (releasing_ || server_gone_)) co_return;
    // A read that completed just as the release was decided (its cancellation came too late).
    if (!ec && n > 0 && (releasing_ || server_gone_)) {
      client_in_.commit(n);
      co_return;
    }
    if (ec || n == 0) {
      client_gone_ = true;
      if (expects_.empty()) server_read_cancel_.emit(asio::cancellation_type::terminal);
      co_return;
    }
    worker_.metrics().on_client_bytes_received(listener_slot_, n);
    client_in_.commit(n);
  }
}

void Session::to_server_bytes(protocol::Bytes bytes) {
  if (!to_server_.empty()) {
    Piece& last = to_server_.back();
    if (last.data != nullptr && last.data + last.size == bytes.data()) {
      last.size += bytes.size();
      return;
    }
  }
  to_server_.push_back(Piece{bytes.data(), 0, bytes.size()});
}

void Session::to_server_scratch(std::size_t from) {
  to_server_.push_back(Piece{nullptr, from, to_server_scratch_.size() - from});
}

bool Session::process_client_frames() {
  const std::uint32_t max = worker_.config().general.max_message_size;
  auto fail = [this](std::string_view code, std::string message) {
    client_error_sqlstate_ = std::string(code);
    client_error_message_ = std::move(message);
    return false;
  };
  protocol::Bytes data = client_in_.readable();
  std::size_t pos = 0;
  to_server_scratch_.clear();
  const bool was_waiting = !expects_.empty();
  if (client_stream_left_ > 0) {
    std::size_t n = std::min(client_stream_left_, data.size());
    to_server_bytes(data.first(n));
    client_stream_left_ -= n;
    pos = n;
  }
  while (pos < data.size() && client_stream_left_ == 0 && !client_gone_) {
    protocol::Bytes rest = data.subspan(pos);
    auto head = pgp::decode_header(rest, max);
    if (std::holds_alternative<protocol::NeedMore>(head)) break;
    if (std::holds_alternative<protocol::Malformed>(head)) {
      return fail(sqlstate::kProtocolViolation, "invalid message length (over max_message_size or below 4)");
    }
    const pgp::FrameHeader h = std::get<protocol::Decoded<pgp::FrameHeader>>(head).value;
    if (rest.size() < h.total()) {
      // COPY data may be larger than any buffer: forward it as it comes.
      if (h.type == fe::kCopyData) {
        to_server_bytes(rest);
        client_stream_left_ = h.total() - rest.size();
        pos = data.size();
      }
      break;
    }
    protocol::Bytes whole = rest.first(h.total());
    protocol::Bytes body = whole.subspan(5);
    switch (h.type) {
      case fe::kQuery: {
        auto q = fe::decode_query(body);
        if (!protocol::is_ok(q)) return fail(sqlstate::kProtocolViolation, "malformed Query message");
        std::string_view sql = std::get<protocol::Decoded<fe::Query>>(q).value.sql;
        if (take_deallocate(sql)) {
          std::size_t from = to_server_scratch_.size();
          protocol::Writer w(to_server_scratch_);
          fe::encode_query(w, "");
          to_server_scratch(from);
          Expect x{.kind = Expect::Kind::kQuery, .action = Expect::Action::kReplace,
                   .replace_type = be::kEmptyQueryResponse};
          x.more().replacement = deallocate_complete();
          expects_.push_back(std::move(x));
          break;
        }
        Expect x{.kind = Expect::Kind::kQuery};
        if (auto sets = note_statement(sql, false)) x.more().sets = std::move(sets);
        expects_.push_back(std::move(x));
        to_server_bytes(whole);
        break;
      }
      case fe::kParse: {
        if (!protocol::is_ok(fe::decode_parse(body))) return fail(sqlstate::kProtocolViolation, "malformed Parse message");
        forward_parse(body, whole);
        unsynced_ = true;
        break;
      }
      case fe::kBind:
        if (!forward_bind(body, whole)) return fail(sqlstate::kProtocolViolation, "malformed Bind message");
        unsynced_ = true;
        break;
      case fe::kDescribe:
        if (!forward_describe(body, whole)) return fail(sqlstate::kProtocolViolation, "malformed Describe message");
        unsynced_ = true;
        break;
      case fe::kExecute: {
        auto e = fe::decode_execute(body);
        if (!protocol::is_ok(e)) return fail(sqlstate::kProtocolViolation, "malformed Execute message");
        Expect x{.kind = Expect::Kind::kExecute};
        if (std::get<protocol::Decoded<fe::Execute>>(e).value.portal.empty()) {
          if (bound_sets_) x.more().sets = bound_sets_;
          if (bound_deallocate_) {
            x.action = Expect::Action::kReplace;
            x.replace_type = be::kEmptyQueryResponse;
            x.more().replacement = deallocate_complete();
          }
        }
        expects_.push_back(std::move(x));
        to_server_bytes(whole);
        unsynced_ = true;
        break;
      }
      case fe::kClose:
        if (!protocol::is_ok(fe::decode_close(body))) return fail(sqlstate::kProtocolViolation, "malformed Close message");
        forward_close(body, whole);
        unsynced_ = true;
        break;
      case fe::kSync:
        expects_.push_back(Expect{.kind = Expect::Kind::kSync});
        to_server_bytes(whole);
        unsynced_ = false;
        break;
      case fe::kFlush:
        to_server_bytes(whole);
        break;
      case fe::kFunctionCall:
        expects_.push_back(Expect{.kind = Expect::Kind::kFunctionCall});
        to_server_bytes(whole);
        break;
      case fe::kCopyData:
      case fe::kCopyDone:
      case fe::kCopyFail:
        to_server_bytes(whole);
        break;
      case fe::kTerminate:
        client_gone_ = true;
        break;
      default:
        return fail(sqlstate::kProtocolViolation,
                    "invalid frontend message type " + std::to_string(static_cast<unsigned char>(h.type)));
    }
    pos += h.total();
    // On a standby, one request at a time: the next one is judged before it is forwarded.
    if (on_standby_ && role_ == ListenerRole::kSplit && (h.type == fe::kSync || h.type == fe::kQuery)) break;
  }
  client_processed_ = pos;
  if (!was_waiting && !expects_.empty()) {
    batch_start_ = SteadyClock::now();
    if (tx_ == be::TxStatus::kIdle) tx_start_ = batch_start_;
  }
  return true;
}

bool Session::request_is_read() const {
  // The request waiting in the buffer: a simple Query, or extended-protocol messages up to their
  // Sync. It may go to a standby only if every statement in it is surely read-only (or hinted so).
  auto readable = [&](std::string_view sql, bool repeats) {
    routing::Classification c = worker_.classify(cluster_index_, sql, repeats);
    if (c.hint) return *c.hint == routing::Target::kReplica;
    return c.read_only && c.pin == routing::PinReason::kNone && c.cls != routing::StatementClass::kEmpty;
  };
  protocol::Bytes data = client_in_.readable();
  const std::uint32_t max = worker_.config().general.max_message_size;
  bool any = false;
  std::size_t pos = 0;
  while (pos < data.size()) {
    auto f = pgp::decode_frame(data.subspan(pos), max);
    auto* ok = std::get_if<protocol::Decoded<pgp::Frame>>(&f);
    if (ok == nullptr) return false;  // not all here yet: the primary is always right
    const pgp::Frame& frame = ok->value;
    pos += ok->consumed;
    switch (frame.type) {
      case fe::kQuery: {
        auto q = fe::decode_query(frame.body);
        if (!protocol::is_ok(q)) return false;
        return !any && readable(std::get<protocol::Decoded<fe::Query>>(q).value.sql, false);
      }
      case fe::kParse: {
        auto p = fe::decode_parse(frame.body);
        if (!protocol::is_ok(p) || !readable(std::get<protocol::Decoded<fe::Parse>>(p).value.query, true)) return false;
        any = true;
        break;
      }
      case fe::kBind: {
        auto b = fe::decode_bind_head(frame.body);
        auto* head = std::get_if<protocol::Decoded<fe::BindHead>>(&b);
        if (head == nullptr) return false;
        if (head->value.statement.empty()) {
          if (!any) return false;  // an unnamed statement parsed in an earlier request: unknown here
          break;
        }
        auto it = statements_.find(std::string(head->value.statement));
        if (it == statements_.end() || !readable(it->second->query, true)) return false;
        any = true;
        break;
      }
      case fe::kDescribe:
      case fe::kExecute:
      case fe::kFlush:
        break;
      case fe::kSync:
        return any;
      default:
        return false;  // Close, FunctionCall, COPY data...: the primary
    }
  }
  return false;
}

std::shared_ptr<const std::vector<routing::SessionSet>> Session::note_statement(std::string_view sql, bool repeats) {
  routing::Classification c = worker_.classify(cluster_index_, sql, repeats);
  if (c.pin != routing::PinReason::kNone && pin_ == routing::PinReason::kNone && mode_ == PoolMode::kTransaction) {
    pin_ = c.pin;
    worker_.metrics().session_pinned(listener_slot_);
    log::info("session", "session pinned to its server connection: ", routing::to_string(c.pin));
  }
  if (c.sets.empty()) return nullptr;
  return std::make_shared<const std::vector<routing::SessionSet>>(std::move(c.sets));
}

// ---- prepared statements ---------------------------------------------------------------------

void Session::forward_parse(protocol::Bytes body, protocol::Bytes whole) {
  fe::Parse p = std::get<protocol::Decoded<fe::Parse>>(fe::decode_parse(body)).value;
  auto sets = note_statement(p.query, true);
  std::size_t from = to_server_scratch_.size();
  protocol::Writer w(to_server_scratch_);
  if (p.name.empty()) {
    unnamed_sets_ = std::move(sets);
    unnamed_deallocate_ = take_deallocate(p.query);
    expects_.push_back(Expect{.kind = Expect::Kind::kParse});
    if (!unnamed_deallocate_) {
      to_server_bytes(whole);
      return;
    }
    // The client deallocates a statement the server knows by another name: an empty query instead.
    fe::encode_parse(w, fe::Parse{"", "", p.param_types});
    to_server_scratch(from);
    return;
  }
  if (server_->target->max_prepared_statements == 0) {
    expects_.push_back(Expect{.kind = Expect::Kind::kParse});
    to_server_bytes(whole);
    return;
  }
  std::string name(p.name);
  if (statements_.count(name) != 0) {
    fe::encode_parse(w, fe::Parse{"", kFailingQuery, {}});
    to_server_scratch(from);
    Expect x{.kind = Expect::Kind::kParse, .action = Expect::Action::kReplace, .replace_type = be::kErrorResponse};
    x.more().replacement = duplicate_statement_error(name);
    expects_.push_back(std::move(x));
    return;
  }
  StatementPtr def = worker_.statements().intern(p.query, p.param_types);
  statements_[name] = def;
  if (server_->prepared.contains(def->id)) {
    // Already prepared on this server: a no-op Close whose answer the client sees as ParseComplete.
    server_->prepared.touch(def->id);
    fe::encode_close(w, fe::Close{'S', kNoopStatement});
    Expect x{.kind = Expect::Kind::kClose, .action = Expect::Action::kReplace, .replace_type = be::kCloseComplete};
    x.more() =
        Expect::Rare{.replacement = parse_complete(), .client_name = std::move(name), .client_statement = def->id};
    expects_.push_back(std::move(x));
  } else {
    if (StatementPtr evicted = server_->prepared.add(def)) {
      fe::encode_close(w, fe::Close{'S', evicted->server_name});
      expects_.push_back(Expect{.kind = Expect::Kind::kClose, .action = Expect::Action::kSwallow});
    }
    fe::encode_parse(w, fe::Parse{def->server_name, def->query, def->param_types});
    Expect x{.kind = Expect::Kind::kParse, .forget_on_error = def->id};
    x.more() = Expect::Rare{.client_name = std::move(name), .client_statement = def->id};
    expects_.push_back(std::move(x));
  }
  to_server_scratch(from);
}

void Session::ensure_prepared(const StatementPtr& def) {
  if (server_->prepared.contains(def->id)) {
    server_->prepared.touch(def->id);
    return;
  }
  std::size_t from = to_server_scratch_.size();
  protocol::Writer w(to_server_scratch_);
  if (StatementPtr evicted = server_->prepared.add(def)) {
    fe::encode_close(w, fe::Close{'S', evicted->server_name});
    expects_.push_back(Expect{.kind = Expect::Kind::kClose, .action = Expect::Action::kSwallow});
  }
  fe::encode_parse(w, fe::Parse{def->server_name, def->query, def->param_types});
  expects_.push_back(Expect{.kind = Expect::Kind::kParse, .action = Expect::Action::kSwallow, .forget_on_error = def->id});
  worker_.metrics().on_reprepare(listener_slot_);
  to_server_scratch(from);
}

bool Session::forward_bind(protocol::Bytes body, protocol::Bytes whole) {
  auto r = fe::decode_bind_head(body);
  auto* ok = std::get_if<protocol::Decoded<fe::BindHead>>(&r);
  if (ok == nullptr) return false;
  const fe::BindHead& b = ok->value;
  auto it = b.statement.empty() ? statements_.end() : statements_.find(std::string(b.statement));
  bound_deallocate_ = b.statement.empty() && unnamed_deallocate_;
  if (it == statements_.end() || server_->target->max_prepared_statements == 0) {
    bound_sets_ = b.statement.empty() ? unnamed_sets_ : nullptr;
    expects_.push_back(Expect{.kind = Expect::Kind::kBind});
    to_server_bytes(whole);
    return true;
  }
  bound_sets_ = nullptr;
  ensure_prepared(it->second);
  std::size_t from = to_server_scratch_.size();
  protocol::Writer w(to_server_scratch_);
  fe::encode_bind(w, b.portal, it->second->server_name, b.rest);
  to_server_scratch(from);
  expects_.push_back(Expect{.kind = Expect::Kind::kBind});
  return true;
}

bool Session::forward_describe(protocol::Bytes body, protocol::Bytes whole) {
  auto r = fe::decode_describe(body);
  auto* ok = std::get_if<protocol::Decoded<fe::Describe>>(&r);
  if (ok == nullptr) return false;
  const fe::Describe& d = ok->value;
  expects_.push_back(Expect{.kind = Expect::Kind::kDescribe});
  auto it = (d.kind == 'S' && !d.name.empty()) ? statements_.find(std::string(d.name)) : statements_.end();
  if (it == statements_.end() || server_->target->max_prepared_statements == 0) {
    to_server_bytes(whole);
    return true;
  }
  // The Describe's answer must follow any Parse we inject: move its expectation behind them.
  expects_.pop_back();
  ensure_prepared(it->second);
  std::size_t from = to_server_scratch_.size();
  protocol::Writer w(to_server_scratch_);
  fe::encode_describe(w, fe::Describe{'S', it->second->server_name});
  to_server_scratch(from);
  expects_.push_back(Expect{.kind = Expect::Kind::kDescribe});
  return true;
}

void Session::forward_close(protocol::Bytes body, protocol::Bytes whole) {
  fe::Close c = std::get<protocol::Decoded<fe::Close>>(fe::decode_close(body)).value;
  expects_.push_back(Expect{.kind = Expect::Kind::kClose});
  if (c.kind != 'S' || c.name.empty() || server_->target->max_prepared_statements == 0) {
    to_server_bytes(whole);
    return;
  }
  // The server keeps its copy (other clients may share it); the client's name goes away.
  statements_.erase(std::string(c.name));
  std::size_t from = to_server_scratch_.size();
  protocol::Writer w(to_server_scratch_);
  fe::encode_close(w, fe::Close{'S', kNoopStatement});
  to_server_scratch(from);
}

bool Session::take_deallocate(std::string_view sql) {
  if (server_->target->max_prepared_statements == 0 || statements_.empty()) return false;
  auto d = routing::parse_deallocate(sql);
  if (!d) return false;
  if (d->all) {
    // Forwarded: the server drops every statement (its "DEALLOCATE ALL" clears baton's cache).
    statements_.clear();
    return false;
  }
  auto it = statements_.find(d->name);
  if (it == statements_.end()) return false;  // an SQL-level PREPARE: the server has it by that name
  statements_.erase(it);
  return true;
}

void Session::forget_client_statement(const Expect& x) {
  if (!x.rare || x.rare->client_name.empty()) return;
  auto it = statements_.find(x.rare->client_name);
  if (it != statements_.end() && it->second->id == x.rare->client_statement) statements_.erase(it);
}

// ---- server to client ----------------------------------------------------------------------

awaitable<void> Session::server_pump() {
  for (;;) {
    if (client_gone_ && expects_.empty()) co_return;
    if (fatal_client_error_ || server_gone_) co_return;
    const bool aborted = co_await relay_server_answers();
    if (aborted) co_return;
    if (server_gone_) {
      client_read_cancel_.emit(asio::cancellation_type::terminal);
      co_return;
    }
    if (client_gone_) client_read_cancel_.emit(asio::cancellation_type::terminal);
    if (defer_wait_ != nullptr) defer_wait_->cancel();
    if (may_release()) {
      releasing_ = true;
      client_read_cancel_.emit(asio::cancellation_type::terminal);
      co_return;
    }
  }
}

bool Session::process_server_bytes() {
  const std::uint32_t max = kMaxServerMessage;
  protocol::Bytes data = server_->in.readable();
  std::size_t pos = 0;
  auto forward = [this](protocol::Bytes b) {
    if (!to_client_.empty()) {
      Piece& last = to_client_.back();
      if (last.data + last.size == b.data()) {
        last.size += b.size();
        return;
      }
    }
    to_client_.push_back(Piece{b.data(), 0, b.size()});
  };
  if (server_stream_left_ > 0) {
    std::size_t n = std::min(server_stream_left_, data.size());
    forward(data.first(n));
    server_stream_left_ -= n;
    pos = n;
  }
  while (pos < data.size() && server_stream_left_ == 0) {
    protocol::Bytes rest = data.subspan(pos);
    auto head = pgp::decode_header(rest, max);
    if (std::holds_alternative<protocol::NeedMore>(head)) break;
    if (std::holds_alternative<protocol::Malformed>(head)) {
      log::error("session", "malformed message from server \"", server_->target->node_name, "\"");
      return false;
    }
    const pgp::FrameHeader h = std::get<protocol::Decoded<pgp::FrameHeader>>(head).value;
    bool complete = rest.size() >= h.total();
    if (!complete && needs_whole(h.type)) break;
    protocol::Bytes whole = rest.first(std::min(rest.size(), h.total()));
    bool pass = true;
    if (!expects_.empty() && expects_.front().action == Expect::Action::kReplace &&
        expects_.front().replace_type == h.type && expects_.front().rare) {
      const Replacement& r = expects_.front().rare->replacement;
      to_client_.push_back(Piece{r->data(), 0, r->size()});
      to_client_hold_.push_back(r);
      pass = false;
    }

    auto front_is = [this](Expect::Kind k) { return !expects_.empty() && expects_.front().kind == k; };
    switch (h.type) {
      case be::kReadyForQuery: {
        auto r = be::decode_ready_for_query(whole.subspan(5));
        if (!protocol::is_ok(r)) return false;
        tx_ = std::get<protocol::Decoded<be::ReadyForQuery>>(r).value.status;
        // Messages forwarded after an extended-protocol error, up to this Sync: the server skipped them.
        if (std::exchange(skipping_to_sync_, false)) drop_unsynced_expects();
        if (expects_.empty() || !ends_with_sync(expects_.front().kind)) {
          log::error("session", "unexpected ReadyForQuery from server \"", server_->target->node_name, "\"");
          return false;
        }
        Expect::Rare* rare = expects_.front().rare.get();
        auto sets = rare != nullptr ? std::move(rare->sets) : nullptr;
        expects_.pop_front();
        if (expects_.empty()) {
          const auto now = SteadyClock::now();
          const int node = server_->target->metrics_node;
          worker_.metrics().on_query(listener_slot_, node, now - batch_start_);
          if (tx_ == be::TxStatus::kIdle) worker_.metrics().on_transaction(listener_slot_, node, now - tx_start_);
          batch_start_ = now;
        }
        if (tx_ == be::TxStatus::kIdle) {
          if (commit_seen_) apply_sets(tx_sets_);
          tx_sets_.clear();
        }
        if (sets && !query_failed_) {
          if (tx_ == be::TxStatus::kIdle) apply_sets(*sets);
          else tx_sets_.insert(tx_sets_.end(), sets->begin(), sets->end());
        }
        commit_seen_ = false;
        query_failed_ = false;
        break;
      }
      case be::kErrorResponse: {
        if (!expects_.empty() && ends_with_sync(expects_.front().kind)) {
          query_failed_ = true;
          break;
        }
        // An extended-protocol message failed: the server skips everything up to Sync, also what
        // the client sends after it and baton forwards before the Sync (a batch that arrives in
        // pieces), so statements those messages would have created exist neither there nor for the client.
        if (expects_.empty() && !unsynced_) {
          query_failed_ = true;  // (nothing of the client's in flight: an error of the server's own)
          break;
        }
        skipping_to_sync_ = true;
        drop_unsynced_expects();
        break;
      }
      case be::kParseComplete:
      case be::kBindComplete:
      case be::kCloseComplete: {
        Expect::Kind want = h.type == be::kParseComplete  ? Expect::Kind::kParse
                            : h.type == be::kBindComplete ? Expect::Kind::kBind
                                                          : Expect::Kind::kClose;
        if (!front_is(want)) {
          log::error("session", "unexpected message '", std::string(1, h.type), "' from server");
          return false;
        }
        if (expects_.front().action == Expect::Action::kSwallow) pass = false;
        expects_.pop_front();
        break;
      }
      case be::kRowDescription:
      case be::kNoData:
        if (front_is(Expect::Kind::kDescribe)) expects_.pop_front();
        break;
      case be::kCommandComplete: {
        // Only COMMIT, DISCARD ALL and DEALLOCATE ALL matter here: tags starting otherwise (SELECT 1,
        // UPDATE 1, ...) are not decoded.
        const std::uint8_t first = whole.size() > 5 ? whole[5] : 0;
        if (first == 'C' || first == 'D') {
          auto r = be::decode_command_complete(whole.subspan(5));
          if (auto* ok = std::get_if<protocol::Decoded<be::CommandComplete>>(&r)) {
            std::string_view tag = ok->value.tag;
            if (tag == "COMMIT") commit_seen_ = true;
            if (tag == "DISCARD ALL" || tag == "DEALLOCATE ALL") server_->prepared.clear();
          }
        }
        if (front_is(Expect::Kind::kExecute)) {
          if (const auto* sets = expects_.front().sets()) {
            // Extended-protocol SET: applied with the transaction that ran it, at the next Sync.
            for (const auto& s : *sets) tx_sets_.push_back(s);
            commit_seen_ = commit_seen_ || tx_ == be::TxStatus::kIdle;
          }
          expects_.pop_front();
        }
        break;
      }
      case be::kEmptyQueryResponse:
      case be::kPortalSuspended:
        // (an EmptyQueryResponse may have been replaced above: a DEALLOCATE baton answered)
        if (front_is(Expect::Kind::kExecute)) expects_.pop_front();
        break;
      case be::kCopyInResponse:
      case be::kCopyBothResponse:
        copy_in_ = true;  // the server now waits for the client's data
        break;
      case be::kParameterStatus: {
        auto r = be::decode_parameter_status(whole.subspan(5));
        if (auto* ok = std::get_if<protocol::Decoded<be::ParameterStatus>>(&r)) {
          server_->state.reported.set(ok->value.name, ok->value.value);
          wanted_.reported.set(ok->value.name, ok->value.value);  // (a tracked one only)
        }
        break;
      }
      default:
        break;
    }
    if (pass) forward(whole);
    if (!complete) {
      server_stream_left_ = h.total() - rest.size();
      pos = data.size();
      break;
    }
    pos += h.total();
  }
  server_processed_ = pos;
  return true;
}

void Session::drop_unsynced_expects() {
  // Up to the Sync itself: PostgreSQL skips a Query or FunctionCall message there too.
  while (!expects_.empty() && expects_.front().kind != Expect::Kind::kSync) {
    if (expects_.front().forget_on_error != 0) server_->prepared.forget(expects_.front().forget_on_error);
    forget_client_statement(expects_.front());
    expects_.pop_front();
  }
}

void Session::apply_sets(const std::vector<routing::SessionSet>& sets) {
  for (const routing::SessionSet& s : sets) {
    switch (s.kind) {
      case routing::SessionSet::Kind::kSet:
        if (is_tracked_reported(s.name)) break;  // ParameterStatus carries these
        wanted_.other.set(s.name, s.value);
        if (server_) server_->state.other.set(s.name, s.value);
        break;
      case routing::SessionSet::Kind::kReset:
        wanted_.other.erase(s.name);
        if (server_) server_->state.other.erase(s.name);
        break;
      case routing::SessionSet::Kind::kResetAll:
        wanted_.other.clear();
        if (server_) server_->state.other.clear();
        break;
    }
  }
}

// (Routing a request to a node and attaching its server connection: attach.cpp.)

}  // namespace baton::proxy::pg
