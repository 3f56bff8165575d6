// A PostgreSQL client session's first phases: TLS negotiation, StartupMessage, authentication, greeting.
#include "proxy/pg/session.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "protocol/common/crypto.hpp"
#include "protocol/pg/fe.hpp"
#include "protocol/pg/frame.hpp"
#include "protocol/pg/md5.hpp"
#include "protocol/pg/scram.hpp"
#include "protocol/pg/sqlstate.hpp"
#include "proxy/app.hpp"
#include "proxy/log/log.hpp"
#include "proxy/net/worker.hpp"
#include "proxy/pg/io.hpp"

namespace baton::proxy::pg {

namespace pgp = protocol::pg;
namespace be = protocol::pg::be;
namespace fe = protocol::pg::fe;
namespace sqlstate = protocol::pg::sqlstate;
using namespace asio::experimental::awaitable_operators;

namespace {
// Authentication messages are small; a longer one is refused before it is buffered.
constexpr std::uint32_t kMaxAuthMessage = 16384;
}  // namespace

Session::Session(Worker& worker, const ListenerConfig& listener, tcp::socket socket)
    : worker_(worker),
      listener_(listener),
      client_(std::move(socket)),
      role_(listener.role),
      replica_fallback_(listener.replica_fallback) {
  listener_slot_ = worker_.app().metrics().listener_slot(listener_.name);
}

Session::~Session() {
  worker_.hot_wait_end(this);  // (a no-op: every hot wait ends before its coroutine does)
  if (pid_ != 0) worker_.unregister_session(pid_);
  if (server_) finish_server(false);
  if (admitted_) worker_.app().release_client();
  if (counted_) worker_.metrics().client_closed(listener_slot_, client_state_);
  if (pin_ != routing::PinReason::kNone && mode_ == PoolMode::kTransaction) worker_.metrics().session_unpinned(listener_slot_);
}

void Session::set_client_state(metrics::ClientState s) {
  if (!counted_ || s == client_state_) return;
  worker_.metrics().client_changed(listener_slot_, client_state_, s);
  client_state_ = s;
}

void Session::count_error(std::string_view code, std::string_view message) {
  using metrics::ErrorKind;
  std::optional<ErrorKind> kind;
  if (code == sqlstate::kInvalidPassword) kind = ErrorKind::kAuthFailed;
  else if (code == sqlstate::kTooManyConnections) kind = ErrorKind::kTooManyClients;
  else if (message.find("query_wait_timeout") != std::string_view::npos) kind = ErrorKind::kQueryWaitTimeout;
  else if (message.find("client_login_timeout") != std::string_view::npos) kind = ErrorKind::kClientLoginTimeout;
  else if (message.starts_with("server connection lost")) kind = ErrorKind::kServerLost;
  else if (code.starts_with("08") && code != sqlstate::kProtocolViolation) kind = ErrorKind::kServerUnreachable;
  else if (code == sqlstate::kCannotConnectNow) kind = ErrorKind::kServerUnreachable;
  else if (code == sqlstate::kProtocolViolation) kind = ErrorKind::kProtocolViolation;
  if (kind) worker_.metrics().on_error(*kind);
}

void Session::launch() { spawn(run()); }

void Session::spawn(awaitable<void> body) {
  asio::co_spawn(worker_.io(), std::move(body), [this](std::exception_ptr e) {
    if (e) {
      parked_ = false;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::error("session", "session ended by an unexpected exception: ", ex.what());
      }
    }
    if (parked_) {
      park();
      return;
    }
    delete this;
  });
}

void Session::park() {
  client_.when_readable([this](error_code) {
    // Readable, or cancelled by drain(): serve() reads (or says goodbye) either way.
    parked_ = false;
    woken_ = true;
    spawn(resume());
  });
  // drain() may have run between the end of the coroutine and now, finding nothing to cancel.
  if (draining_) client_.cancel_wait();
}

awaitable<void> Session::resume() {
  const bool parked = co_await serve();
  if (!parked) co_await detach_server();
}

awaitable<void> Session::run() {
  const Config& cfg = worker_.config();
  // Startup and authentication must finish within client_login_timeout.
  asio::steady_timer login_timer(co_await asio::this_coro::executor, cfg.general.client_login_timeout);
  auto login_result = co_await (login() || login_timer.async_wait(use_tuple));
  if (login_result.index() == 1) {
    log::info("session", "client did not finish login within client_login_timeout");
    co_await send_fatal(sqlstate::kProtocolViolation, "client did not finish login within client_login_timeout");
    co_return;
  }
  if (std::get<0>(login_result) == End::kClose) co_return;
  const End greeted = co_await greet();
  if (greeted == End::kClose) co_return;
  const bool parked = co_await serve();
  if (!parked) co_await detach_server();
}

awaitable<Session::End> Session::login() {
  if (co_await startup() == End::kClose) co_return End::kClose;
  // Never `co_return co_await`: g++ 12 miscompiles it after an if (co_await ...) in the same coroutine.
  End result = co_await authenticate();
  co_return result;
}

awaitable<Session::End> Session::startup() {
  bool tls_tried = false;
  bool gss_tried = false;
  for (;;) {
    StartupRead sr = co_await read_startup(client_, client_in_);
    if (sr.status == ReadStatus::kClosed) co_return End::kClose;
    if (sr.status != ReadStatus::kOk) {
      co_await send_fatal(sqlstate::kProtocolViolation, "invalid startup packet layout");
      co_return End::kClose;
    }
    std::uint32_t code = sr.frame.code;
    if (code == pgp::kSslRequestCode || code == pgp::kGssEncRequestCode) {
      client_in_.consume(sr.size);
      if (!client_in_.empty()) {
        // Bytes after SSLRequest before our answer: a client trying to inject plaintext.
        co_await send_fatal(sqlstate::kProtocolViolation, "received unencrypted data after SSL request");
        co_return End::kClose;
      }
      asio::ssl::context* tls = worker_.app().client_tls(listener_);
      bool accept_tls = code == pgp::kSslRequestCode && tls != nullptr && !tls_tried;
      if (code == pgp::kSslRequestCode) tls_tried = true;
      if (code == pgp::kGssEncRequestCode) {
        if (gss_tried) co_return End::kClose;
        gss_tried = true;
      }
      std::uint8_t answer = accept_tls ? 'S' : 'N';
      if (co_await client_.write(asio::buffer(&answer, 1))) co_return End::kClose;
      if (accept_tls) {
        if (auto ec = co_await client_.tls_accept(*tls)) {
          log::info("session", "client TLS handshake failed: ", ec.message());
          co_return End::kClose;
        }
      }
      continue;
    }
    if (code == pgp::kCancelRequestCode) {
      std::vector<std::uint8_t> body(sr.frame.body.begin(), sr.frame.body.end());
      client_in_.consume(sr.size);
      co_await handle_cancel_request(body);
      co_return End::kClose;
    }
    if ((code >> 16) != 3) {
      co_await send_fatal(sqlstate::kFeatureNotSupported,
                          "unsupported frontend protocol " + std::to_string(code >> 16) + "." +
                              std::to_string(code & 0xffff) + ": server supports 3.0 to 3.0");
      co_return End::kClose;
    }
    auto r = fe::decode_startup(sr.frame);
    auto* ok = std::get_if<protocol::Decoded<fe::StartupMessage>>(&r);
    if (ok == nullptr) {
      co_await send_fatal(sqlstate::kProtocolViolation, "invalid startup packet layout: expected terminator as last byte");
      co_return End::kClose;
    }
    const fe::StartupMessage& msg = ok->value;
    user_name_ = std::string(msg.get("user"));
    database_ = std::string(msg.get("database"));
    if (database_.empty()) database_ = user_name_;
    for (const auto& [name, value] : msg.parameters) {
      if (name == "user" || name == "database" || name == "replication") continue;
      if (name == "options") {
        std::vector<std::pair<std::string, std::string>> opts;
        if (!parse_startup_options(value, opts)) {
          client_in_.consume(sr.size);
          co_await send_fatal(sqlstate::kProtocolViolation, "invalid options in startup packet");
          co_return End::kClose;
        }
        for (auto& [n, v] : opts) {
          if (n == "target_session_attrs") {
            if (!set_target_session_attrs(v)) {
              client_in_.consume(sr.size);
              const std::string message = "invalid value for parameter \"target_session_attrs\": \"" + v + "\"";
              co_await send_fatal(sqlstate::kInvalidParameterValue, message);
              co_return End::kClose;
            }
            continue;
          }
          if (!wanted_.reported.set(n, v)) wanted_.other.set(n, quote_literal(v));
        }
        continue;
      }
      if (name == "target_session_attrs") {
        if (!set_target_session_attrs(value)) {
          const std::string message =
              "invalid value for parameter \"target_session_attrs\": \"" + std::string(value) + "\"";
          client_in_.consume(sr.size);  // (value points into the buffer: used above, not below)
          co_await send_fatal(sqlstate::kInvalidParameterValue, message);
          co_return End::kClose;
        }
        continue;
      }
      if (!wanted_.reported.set(name, value)) wanted_.other.set(name, quote_literal(value));
    }
    bool replication = !msg.get("replication").empty() && msg.get("replication") != "false" && msg.get("replication") != "0";
    client_in_.consume(sr.size);
    if (user_name_.empty()) {
      co_await send_fatal(sqlstate::kInvalidAuthorizationSpecification, "no PostgreSQL user name specified in startup packet");
      co_return End::kClose;
    }
    if (replication) {
      co_await send_fatal(sqlstate::kFeatureNotSupported, "baton does not proxy replication connections");
      co_return End::kClose;
    }
    if (listener_.tls_mode == ClientTlsMode::kRequire && !client_.is_tls()) {
      co_await send_fatal(sqlstate::kInvalidAuthorizationSpecification,
                          "SSL connection is required for user \"" + user_name_ + "\"");
      co_return End::kClose;
    }
    if (!worker_.app().try_admit_client()) {
      co_await send_fatal(sqlstate::kTooManyConnections, "sorry, too many clients already");
      co_return End::kClose;
    }
    admitted_ = true;
    co_return End::kContinue;
  }
}

awaitable<Session::End> Session::authenticate() {
  const Config& cfg = worker_.config();
  user_ = cfg.find_user(user_name_);
  cluster_ = cfg.find_cluster(listener_.cluster);
  if (cluster_ != nullptr) cluster_index_ = static_cast<std::size_t>(cluster_ - cfg.clusters.data());
  std::string failed = "password authentication failed for user \"" + user_name_ + "\"";
  std::vector<std::uint8_t> out;
  protocol::Writer w(out);
  AuthMethod method = user_ ? user_->auth : AuthMethod::kScramSha256;

  if (method == AuthMethod::kTrust) {
    co_return End::kContinue;
  }
  if (method == AuthMethod::kMd5) {
    std::uint8_t salt[4];
    protocol::crypto::random_bytes(salt);
    be::encode_auth_md5(w, salt);
    if (co_await write_all(client_, out)) co_return End::kClose;
    FrameRead fr = co_await read_auth_message("password");
    if (fr.status != ReadStatus::kOk) co_return End::kClose;
    auto r = fe::decode_password(fr.frame.body);
    auto* ok = std::get_if<protocol::Decoded<fe::PasswordMessage>>(&r);
    std::string given = ok ? std::string(ok->value.password) : std::string();
    client_in_.consume(fr.size);
    std::string expected = user_ ? (user_->password.starts_with("md5") && user_->password.size() == 35
                                        ? pgp::md5::client_response_from_hash(user_->password, salt)
                                        : pgp::md5::client_response(user_->password, user_->name, salt))
                                 : std::string();
    if (user_ == nullptr || !protocol::crypto::constant_time_equal(protocol::as_bytes(given), protocol::as_bytes(expected))) {
      log::info("session", "authentication failed for user \"", user_name_, "\" (md5)");
      co_await send_fatal(sqlstate::kInvalidPassword, failed);
      co_return End::kClose;
    }
    co_return End::kContinue;
  }

  // SCRAM-SHA-256. An unknown user runs the exchange against a random verifier, so failure looks
  // the same as a wrong password.
  pgp::scram::ServerExchange exchange(worker_.scram_verifier(user_), pgp::scram::make_nonce());
  be::encode_auth_sasl(w, {"SCRAM-SHA-256"});
  if (co_await write_all(client_, out)) co_return End::kClose;

  FrameRead fr = co_await read_auth_message("SASL");
  if (fr.status != ReadStatus::kOk) co_return End::kClose;
  auto r1 = fe::decode_sasl_initial(fr.frame.body);
  auto* init = std::get_if<protocol::Decoded<fe::SaslInitialResponse>>(&r1);
  if (init == nullptr) {
    co_await send_fatal(sqlstate::kProtocolViolation, "malformed SASLInitialResponse message");
    co_return End::kClose;
  }
  auto step = exchange.on_client_first(init->value.mechanism, init->value.data);
  client_in_.consume(fr.size);
  if (step.kind != pgp::scram::Step::Kind::kSend) {
    co_await send_fatal(sqlstate::kProtocolViolation, "malformed SCRAM message: " + step.error);
    co_return End::kClose;
  }
  out.clear();
  be::encode_auth_sasl_continue(w, protocol::as_bytes(step.bytes));
  if (co_await write_all(client_, out)) co_return End::kClose;

  fr = co_await read_auth_message("SASL");
  if (fr.status != ReadStatus::kOk) co_return End::kClose;
  auto r2 = fe::decode_sasl_response(fr.frame.body);
  auto* resp = std::get_if<protocol::Decoded<fe::SaslResponse>>(&r2);
  if (resp == nullptr) {
    co_await send_fatal(sqlstate::kProtocolViolation, "malformed SASLResponse message");
    co_return End::kClose;
  }
  step = exchange.on_client_final(resp->value.data);
  client_in_.consume(fr.size);
  if (step.kind != pgp::scram::Step::Kind::kDone || user_ == nullptr) {
    bool malformed = step.kind == pgp::scram::Step::Kind::kFail && step.failure == pgp::scram::Failure::kMalformed;
    log::info("session", "authentication failed for user \"", user_name_, "\" (scram-sha-256)");
    // Built outside the co_await: g++ 12 destroys ?: temporaries inside a co_await twice.
    std::string_view code = malformed ? sqlstate::kProtocolViolation : sqlstate::kInvalidPassword;
    std::string message = malformed ? "malformed SCRAM message: " + step.error : failed;
    co_await send_fatal(code, message);
    co_return End::kClose;
  }
  out.clear();
  be::encode_auth_sasl_final(w, protocol::as_bytes(step.bytes));
  if (co_await write_all(client_, out)) co_return End::kClose;
  co_return End::kContinue;
}

awaitable<Session::End> Session::greet() {
  if (cluster_ == nullptr) {
    co_await send_fatal(sqlstate::kInternalError, "listener names an unknown cluster");
    co_return End::kClose;
  }
  const Config& cfg = worker_.config();
  mode_ = user_->pool_mode.value_or(listener_.pool_mode.value_or(cfg.pool.mode));

  // A server connection tells us the parameters to report; it also proves the database exists.
  if (ServerError e = co_await acquire_server(); !e.empty()) {
    co_await send_fatal(e.sqlstate, e.message);
    co_return End::kClose;
  }
  // The client's own startup parameters win over the pool's defaults.
  for (const auto& [name, value] : server_->login_params.items()) {
    const int slot = tracked_reported_index(name);
    if (slot >= 0 && !wanted_.reported.has(static_cast<std::size_t>(slot))) {
      wanted_.reported.set(static_cast<std::size_t>(slot), value);
    }
  }
  const std::string sql = alignment_sql();
  if (ServerError e = co_await align_server(sql); !e.empty()) {
    co_await send_fatal(e.sqlstate, e.message);
    co_return End::kClose;
  }
  // Report what the server now has (normalised values, e.g. DateStyle "ISO, MDY").
  for (std::size_t slot = 0; slot < kTrackedReported; ++slot) {
    const std::string* have = server_->state.reported.tracked(slot);
    if (have != nullptr && wanted_.reported.has(slot)) wanted_.reported.set(slot, *have);
  }
  std::vector<std::uint8_t> out;
  protocol::Writer w(out);
  be::encode_auth_ok(w);
  for (const auto& [name, value] : server_->state.reported.items()) be::encode_parameter_status(w, name, value);
  pid_ = worker_.register_session(this);
  if (worker_.draining()) draining_ = true;
  counted_ = true;
  client_state_ = server_ && mode_ == PoolMode::kSession ? metrics::ClientState::kActive : metrics::ClientState::kIdle;
  worker_.metrics().client_opened(listener_slot_, client_state_);
  protocol::crypto::random_bytes(std::span(reinterpret_cast<std::uint8_t*>(&secret_), sizeof secret_));
  be::encode_backend_key_data(w, be::BackendKeyData{pid_, secret_});
  be::encode_ready_for_query(w, be::TxStatus::kIdle);
  if (mode_ == PoolMode::kTransaction) finish_server(true);
  if (co_await write_all(client_, out)) co_return End::kClose;
  log::debug("session", "client logged in user=", user_name_, " db=", database_);
  co_return End::kContinue;
}

awaitable<FrameRead> Session::read_auth_message(std::string_view what) {
  FrameRead fr = co_await read_frame(client_, client_in_, kMaxAuthMessage);
  if (fr.status == ReadStatus::kOk && fr.frame.type != fe::kPassword) fr.status = ReadStatus::kMalformed;
  if (fr.status != ReadStatus::kOk && fr.status != ReadStatus::kClosed) {
    std::string message = "expected " + std::string(what) + " response";
    co_await send_fatal(sqlstate::kProtocolViolation, message);
  }
  co_return fr;
}

awaitable<void> Session::handle_cancel_request(protocol::Bytes body) {
  pgp::StartupFrame f{pgp::kCancelRequestCode, body};
  auto r = fe::decode_cancel(f);
  auto* ok = std::get_if<protocol::Decoded<fe::CancelRequest>>(&r);
  if (ok == nullptr) co_return;
  std::uint32_t pid = ok->value.process_id;
  std::uint32_t secret = ok->value.secret_key;
  int target = static_cast<int>(pid >> 24);
  App& app = worker_.app();
  if (target < 0 || target >= app.worker_count()) co_return;
  Worker& owner = app.worker(target);
  owner.post([&owner, pid, secret] { owner.cancel(pid, secret); });
}

void Session::cancel(std::uint32_t secret) {
  if (secret != secret_ || !server_) return;
  const ServerTarget& t = *server_->target;
  log::info("session", "forwarding cancel to server \"", t.node_name, "\"");
  asio::co_spawn(worker_.io(), send_cancel(worker_.io().get_executor(), t.host, t.port, server_->key, t.connect_timeout),
                 asio::detached);
}

void Session::on_topology(std::size_t cluster, const health::Topology& topology) {
  if (!server_ || server_->target->cluster_index != cluster) return;
  const std::size_t node = server_->target->node_index;
  if (node >= topology.nodes.size()) return;
  const health::NodeState& n = topology.nodes[node];
  const bool gone = n.health == health::NodeHealth::kDown || n.health == health::NodeHealth::kFenced;
  // A write transaction runs on the primary: if that node is no longer the primary (a switchover,
  // or fenced), it must not go on there. Reads on a standby go on while the standby is up.
  const bool demoted = routed_write_ && topology.primary != node && n.role != health::NodeRole::kUnknown;
  if (!gone && !demoted) return;
  server_lost_reason_ = "node \"" + n.name + "\" is " + std::string(gone ? health::to_string(n.health) : "no longer the primary");
  if (topology.primary && *topology.primary != node && *topology.primary < topology.nodes.size()) {
    server_lost_reason_ += "; failed over: the primary is now \"" + topology.nodes[*topology.primary].name +
                           "\" (epoch " + std::to_string(topology.epoch) + ")";
  } else {
    server_lost_reason_ += "; baton fails over to a standby";
  }
  log::info("session", "breaking server connection: ", server_lost_reason_);
  server_->stream.close();
}

bool Session::set_target_session_attrs(std::string_view v) {
  // As libpq's target_session_attrs, asked of baton (through a startup parameter or
  // options='-c target_session_attrs=...'): which nodes this client's transactions may use.
  if (v == "any") {
    role_ = listener_.role;
    replica_fallback_ = listener_.replica_fallback;
  } else if (v == "read-write" || v == "primary") {
    role_ = ListenerRole::kPrimary;
  } else if (v == "read-only" || v == "standby") {
    role_ = ListenerRole::kReplica;
    replica_fallback_ = false;
  } else if (v == "prefer-standby") {
    role_ = ListenerRole::kReplica;
    replica_fallback_ = true;
  } else {
    return false;
  }
  return true;
}

void Session::drain() {
  if (draining_) return;
  draining_ = true;
  if (!server_) {
    if (parked_ || in_hot_wait_) client_.cancel_wait();  // the session resumes and says goodbye
    client_read_cancel_.emit(asio::cancellation_type::terminal);  // wakes the other waits in serve()
    return;
  }
  const bool busy = !expects_.empty() || tx_ != be::TxStatus::kIdle || unsynced_ || client_stream_left_ > 0 ||
                    server_stream_left_ > 0;
  if (!busy) {
    // Attached between transactions (session mode, a pinned session): stop both pumps.
    releasing_ = true;
    client_read_cancel_.emit(asio::cancellation_type::terminal);
    server_read_cancel_.emit(asio::cancellation_type::terminal);
  }
}

void Session::terminate() {
  // Not in the middle of a message to the client: an asynchronous write under way, or a large
  // server message forwarded in pieces.
  if (client_.is_open() && !client_.is_tls() && !client_.writing() && server_stream_left_ == 0) {
    const std::vector<std::uint8_t> out =
        error_message("FATAL", sqlstate::kAdminShutdown, "terminating connection due to administrator command");
    std::vector<asio::const_buffer> buffers{asio::buffer(out)};
    error_code ignored;
    client_.write_now(buffers, ignored);  // what the socket takes now; nothing is waited for
  }
  client_.close();
  if (server_) server_->stream.close();
}

bool Session::busy_in(std::size_t cluster) const {
  return server_ && cluster_index_ == cluster &&
         (!expects_.empty() || tx_ != be::TxStatus::kIdle || unsynced_) && mode_ == PoolMode::kTransaction;
}

std::vector<std::uint8_t> Session::error_message(std::string_view severity, std::string_view sqlstate,
                                                 std::string_view message) {
  std::vector<std::uint8_t> out;
  protocol::Writer w(out);
  be::encode_error(w, be::ErrorSpec{.severity = severity, .sqlstate = sqlstate, .message = message});
  return out;
}

awaitable<void> Session::send_error(std::string_view severity, std::string_view sqlstate, std::string_view message) {
  const std::vector<std::uint8_t> out = error_message(severity, sqlstate, message);  // (named: GCC 12)
  co_await write_all(client_, out);
}

awaitable<void> Session::send_fatal(std::string_view sqlstate, std::string_view message) {
  count_error(sqlstate, message);
  co_await send_error("FATAL", sqlstate, message);
  co_await client_.close_after_final(std::chrono::milliseconds(500));
}

}  // namespace baton::proxy::pg
