// Relaying in turn: a transaction-pooled client's request to the server, the answers back, the
// client's next request, one direction at a time; and the hot cycle, which runs that relay for
// plain requests by callbacks, without resuming serve() (relay.cpp) per transaction.
#include <cstring>
#include <exception>
#include <optional>

#include "protocol/pg/be.hpp"
#include "protocol/pg/fe.hpp"
#include "proxy/log/log.hpp"
#include "proxy/net/worker.hpp"
#include "proxy/pg/session.hpp"

namespace baton::proxy::pg {

namespace be = protocol::pg::be;
namespace fe = protocol::pg::fe;

// Most transactions in transaction pooling are one round trip, or a few inside BEGIN ... COMMIT:
// the client sends a request and waits for its answers. For those the relay goes in turn (request
// to the server, answers to the client, the client's next request) at a fraction of the cost of
// running the two pumps. PostgreSQL itself reads the next request only after answering the last,
// so a client sees no difference. The turn ends when the attachment is over (kOver: released, or
// a side gone), or when what follows needs both directions at once (kPumps: COPY, messages not
// yet ended by Sync, a pinned session, the next request on a standby, judged by the client pump).
// The pumps then go on from the same state. Each step below does what needs no waiting and says
// where the relay goes next; serve() and the hot cycle do the waits.

Session::TurnAt Session::turn_forward() {
  if (!process_client_frames()) {
    fatal_client_error_ = true;
    return TurnAt::kOver;
  }
  request_judged_ = false;  // (acquire_server judged the request now forwarded; the pumps judge the next)
  error_code ec;
  if (!write_to_server_now(ec)) return TurnAt::kFlush;
  return turn_flushed(ec);
}

Session::TurnAt Session::turn_flushed(error_code ec) {
  if (!flushed(ec)) return TurnAt::kOver;
  if (unsynced_ || client_stream_left_ > 0) return TurnAt::kPumps;
  return turn_next();
}

Session::TurnAt Session::turn_answers(error_code ec, std::size_t n) {
  bool write_rest = false;
  turn_aborted_ = take_answers(ec, n, write_rest);
  if (write_rest) return TurnAt::kClientWrite;
  return turn_taken();
}

Session::TurnAt Session::turn_answers_written(error_code ec) {
  answers_written(ec);
  return turn_taken();
}

Session::TurnAt Session::turn_taken() {
  if (turn_aborted_ || server_gone_) return TurnAt::kOver;
  if (copy_in_ && !expects_.empty()) return TurnAt::kPumps;
  return turn_next();
}

Session::TurnAt Session::turn_next() {
  if (!expects_.empty()) return TurnAt::kAnswers;
  if (client_gone_) return TurnAt::kOver;
  if (may_release()) {
    releasing_ = true;
    return TurnAt::kOver;
  }
  if (on_standby_ || tx_ == be::TxStatus::kIdle || pin_ != routing::PinReason::kNone || server_stream_left_ > 0) {
    return TurnAt::kPumps;
  }
  // Inside a transaction: the client's next request (the server has nothing to say meanwhile).
  std::size_t need = 1;
  return whole_client_message_buffered(need) ? TurnAt::kForward : TurnAt::kNextRead;
}

Session::TurnAt Session::turn_next_read(error_code ec, std::size_t n) {
  if (ec || n == 0) {
    client_gone_ = true;
    return TurnAt::kOver;
  }
  worker_.metrics().on_client_bytes_received(listener_slot_, n);
  client_in_.commit(n);
  return TurnAt::kForward;
}

std::size_t Session::client_read_need() const {
  std::size_t need = 1;
  whole_client_message_buffered(need);
  return need;
}

// ---- the hot cycle -------------------------------------------------------------------------

template <typename Step>
void Session::hot_guarded(Step step) {
  // A callback's exception would reach the worker's run loop: it ends the session, as it would
  // have ended serve().
  try {
    step(*this);
  } catch (const std::exception& ex) {
    // (Not from serve() itself, which the cycle resumes last: co_spawn keeps its exceptions.)
    if (!hot_handler_) throw;
    log::error("session", "session ended by an unexpected exception: ", ex.what());
    hot_exit(HotExit{.kind = HotExit::Kind::kRead, .ec = asio::error::fault});
  }
}

void Session::start_hot_cycle(HotHandler&& handler, asio::mutable_buffer buffer, TurnAt from) {
  hot_handler_.emplace(std::move(handler));
  hot_buffer_ = buffer;
  // Either start ends in a read whose callback comes later: the cycle never ends inside its start.
  if (from == TurnAt::kAnswers) return hot_turn(TurnAt::kAnswers);
  hot_wait();
}

bool Session::after_hot_cycle(const HotExit& x, bool& answered, bool& align, TurnAt& resume) {
  if (x.kind == HotExit::Kind::kRead) {
    if (draining_) return true;
    if (x.ec == asio::error::operation_aborted) {
      answered = false;  // idle for a maintenance tick (end_hot_wait): park
      return true;
    }
    return false;  // (the cycle ends with kRead only on an error or end of file)
  }
  align = x.kind == HotExit::Kind::kAlign;
  resume = x.at;  // (kNone unless kTurn)
  return true;
}

void Session::hot_wait() {
  // No cancellation slot (binding one costs each read): end_hot_wait() and drain() cancel the
  // socket's operations, this read being the only one.
  worker_.hot_wait_begin(this);
  client_.read_then(hot_buffer_, this, [](void* self, error_code ec, std::size_t n) {
    static_cast<Session*>(self)->hot_guarded([=](Session& s) { s.hot_read(ec, n); });
  });
}

void Session::hot_read(error_code ec, std::size_t n) {
  worker_.hot_wait_end(this);
  if (ec || n == 0) return hot_exit(HotExit{.kind = HotExit::Kind::kRead, .ec = ec, .n = n});
  worker_.metrics().on_client_bytes_received(listener_slot_, n);
  std::memcpy(client_in_.prepare(n).data(), hot_buffer_.data(), n);
  client_in_.commit(n);
  hot_request();
}

void Session::hot_request() {
  // serve()'s way for a request that goes plainly: anything else is serve()'s again.
  std::size_t need = 5;
  if (draining_ || skip_to_sync_ || may_route() || !whole_client_message_buffered(need) ||
      static_cast<char>(client_in_.readable()[0]) == fe::kTerminate) {
    return hot_exit(HotExit{});
  }
  std::optional<Pick> picked;
  if (!attach_now(picked)) return hot_exit(HotExit{});  // (without routing, attach_now() may run again)
  if (!alignment_sql().empty()) return hot_exit(HotExit{.kind = HotExit::Kind::kAlign});
  begin_relay();
  if (mode_ != PoolMode::kTransaction || pin_ != routing::PinReason::kNone) return hot_exit(HotExit{});
  hot_turn(TurnAt::kForward);
}

void Session::hot_turn(TurnAt at) {
  for (;;) {
    switch (at) {
      case TurnAt::kForward:
        at = turn_forward();
        break;
      case TurnAt::kAnswers:
        server_->stream.read_then(server_->in.prepare(server_read_need()), this,
                                  [](void* self, error_code ec, std::size_t n) {
                                    static_cast<Session*>(self)->hot_guarded(
                                        [=](Session& s) { s.hot_turn(s.turn_answers(ec, n)); });
                                  });
        return;
      case TurnAt::kNextRead:
        client_.read_then(client_in_.prepare(client_read_need()), this, [](void* self, error_code ec, std::size_t n) {
          static_cast<Session*>(self)->hot_guarded([=](Session& s) { s.hot_turn(s.turn_next_read(ec, n)); });
        });
        return;
      case TurnAt::kOver:
        if (!released_plainly()) return hot_exit(HotExit{.kind = HotExit::Kind::kTurn, .at = at});
        finish_server(true);
        return hot_next();
      default:  // kPumps, or a write that must wait (kFlush, kClientWrite)
        return hot_exit(HotExit{.kind = HotExit::Kind::kTurn, .at = at});
    }
  }
}

void Session::hot_next() {
  // As serve()'s loop goes on after a plain release: the next request if it is here, else a hot wait.
  if (!client_in_.empty()) return hot_request();
  if (draining_ || worker_.config().pool.client_idle_timeout.count() > 0) return hot_exit(HotExit{});
  client_in_.release_if_empty();
  hot_wait();
}

void Session::hot_exit(HotExit x) {
  // Out of the member first: serve() may start the next cycle (or end the session) before this returns.
  HotHandler handler = std::move(*hot_handler_);
  hot_handler_.reset();
  std::move(handler)(x);
}

}  // namespace baton::proxy::pg
