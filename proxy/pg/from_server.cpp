// What a server answers, relayed to its client: messages streamed, the answers baton stands in for
// replaced, the transaction status and the end of each request followed.
#include <utility>

#include "protocol/pg/be.hpp"
#include "protocol/pg/frame.hpp"
#include "proxy/log/log.hpp"
#include "proxy/net/worker.hpp"
#include "proxy/pg/io.hpp"
#include "proxy/pg/session.hpp"

namespace baton::proxy::pg {

namespace pgp = protocol::pg;
namespace be = protocol::pg::be;

namespace {

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
      const auto& r = expects_.front().rare->replacement;
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

}  // namespace baton::proxy::pg
