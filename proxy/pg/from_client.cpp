// What a client sends, forwarded to its server: requests judged (reads that may go to a standby,
// session parameters set), prepared statements renamed per server connection, DEALLOCATE answered.
#include <utility>

#include "protocol/pg/be.hpp"
#include "protocol/pg/fe.hpp"
#include "protocol/pg/frame.hpp"
#include "protocol/pg/sqlstate.hpp"
#include "proxy/log/log.hpp"
#include "proxy/net/worker.hpp"
#include "proxy/pg/io.hpp"
#include "proxy/pg/session.hpp"
#include "routing/classifier.hpp"
#include "routing/deallocate.hpp"
#include "routing/replica_policy.hpp"
#include "routing/shortcuts.hpp"

namespace baton::proxy::pg {

namespace pgp = protocol::pg;
namespace be = protocol::pg::be;
namespace fe = protocol::pg::fe;
namespace sqlstate = protocol::pg::sqlstate;

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

}  // namespace

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
  // Most statements: nothing to note, told without the classifier (read or write does not matter here).
  if (routing::leaves_session_alone(sql)) return nullptr;
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

}  // namespace baton::proxy::pg
