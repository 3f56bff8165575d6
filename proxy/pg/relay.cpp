// The PostgreSQL relay's main loop: a client's requests, each relayed on a server connection (in
// turn, or by two pumps at once) and the connection given back at transaction boundaries.
// What each direction does with the bytes: from_client.cpp, from_server.cpp; the relay in turn
// and the hot cycle: in_turn.cpp; the server connection: attach.cpp.
#include <array>
#include <tuple>
#include <utility>

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
#include "routing/replica_policy.hpp"

namespace baton::proxy::pg {

namespace pgp = protocol::pg;
namespace be = protocol::pg::be;
namespace fe = protocol::pg::fe;
namespace sqlstate = protocol::pg::sqlstate;
using namespace asio::experimental::awaitable_operators;

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
  std::array<std::uint8_t, kHotReadBytes> hot_bytes;  // what a hot wait reads into (see below)
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
              const HotExit x = co_await HotCycle(*this, asio::buffer(hot_bytes));
              if (!after_hot_cycle(x, answered, align, resume)) co_return false;
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
    if (resume == TurnAt::kForward && !client_.is_tls()) {
      // A request this coroutine attached a server for (a session's first, one that waited for a
      // connection, one whose connection needed the client's parameters): forwarded here, its
      // answers and the rest of its transaction go by the hot cycle's callbacks, as for a request
      // that found an idle connection in the cycle, not by the co_awaits below (bench/README.md,
      // "Fourteenth round": about 1,900 instructions fewer per tpcb-like transaction at 64 clients).
      const TurnAt at = turn_forward();
      if (at == TurnAt::kAnswers) {
        answered = true;
        resume = TurnAt::kNone;  // (a kRead end leaves it so: the loop's top)
        const HotExit x = co_await HotCycle(*this, asio::buffer(hot_bytes), TurnAt::kAnswers);
        if (!after_hot_cycle(x, answered, align, resume)) co_return false;
        continue;
      }
      resume = at;
    }
    bool done = false;  // the attachment is over (else the pumps go on)
    if (resume != TurnAt::kNone) {
      // Relaying in turn (its steps: in_turn.cpp), here and not in a coroutine of its own: that would
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

}  // namespace baton::proxy::pg
