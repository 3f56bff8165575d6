// One PostgreSQL client session: startup, authentication, then the relay loop over pooled server connections.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/cancellation_signal.hpp>

#include "health/topology.hpp"
#include "protocol/pg/be.hpp"
#include "proxy/config/config.hpp"
#include "proxy/metrics/metrics.hpp"
#include "proxy/net/byte_buffer.hpp"
#include "proxy/net/stream.hpp"
#include "proxy/pg/expect_queue.hpp"
#include "proxy/pg/io.hpp"
#include "proxy/pg/params.hpp"
#include "proxy/pg/prepared.hpp"
#include "proxy/pg/server_conn.hpp"
#include "routing/replica_policy.hpp"
#include "routing/statement.hpp"

namespace baton::proxy {
class Worker;
}

namespace baton::proxy::pg {

// What the relay expects back from the server for a message it forwarded, and what to do with it.
// Every forwarded statement puts one in the queue and takes it out again: what only a few messages
// need (a replacement, a named Parse, SETs) lives apart, so most entries are 24 bytes with no
// destructor work.
struct Expect {
  enum class Kind : std::uint8_t { kParse, kBind, kClose, kDescribe, kExecute, kSync, kQuery, kFunctionCall };
  enum class Action : std::uint8_t { kPass, kSwallow, kReplace };
  struct Rare {
    std::shared_ptr<const std::vector<std::uint8_t>> replacement;  // kReplace: the bytes the client sees instead
    // A named Parse: the client's name and its statement, forgotten if the Parse fails or is skipped.
    std::string client_name;
    std::uint64_t client_statement = 0;
    // Session SET/RESET statements this message runs, applied to the session's state when it succeeds.
    std::shared_ptr<const std::vector<routing::SessionSet>> sets;
  };
  Kind kind = Kind::kSync;
  Action action = Action::kPass;
  char replace_type = 0;              // kReplace: the server message type the client does not see
  std::uint64_t forget_on_error = 0;  // a statement id to drop from the server cache if this fails
  std::unique_ptr<Rare> rare;         // null while all of its fields are empty

  Rare& more() {
    if (!rare) rare = std::make_unique<Rare>();
    return *rare;
  }
  const std::vector<routing::SessionSet>* sets() const { return rare ? rare->sets.get() : nullptr; }
};

// A piece of a write: a range of an input buffer, or a range of the pump's scratch bytes (which
// may still move while the write is assembled).
struct Piece {
  const std::uint8_t* data = nullptr;  // null: scratch
  std::size_t offset = 0;
  std::size_t size = 0;
};

class Session {
 public:
  Session(Worker& worker, const ListenerConfig& listener, tcp::socket socket);
  ~Session();

  // Runs the session (login, then requests) on its worker; deletes it when it ends.
  void launch();
  // A CancelRequest named this session (called on the worker's thread).
  void cancel(std::uint32_t secret);
  // The control plane published a new topology of cluster `cluster`: a session attached to a node
  // that may no longer take its traffic loses that server connection (its transaction fails with
  // 08006, the session goes on). On the worker's thread.
  void on_topology(std::size_t cluster, const health::Topology& topology);
  // In the middle of a transaction or a query on cluster `cluster` (pausing writes waits for these).
  bool busy_in(std::size_t cluster) const;
  const std::string& listener_name() const { return listener_.name; }
  metrics::ClientState client_state() const { return client_state_; }
  // Shutting down: an idle session ends now (FATAL 57P01), a busy one at its transaction's end.
  void drain();
  // The shutdown grace is over, as PostgreSQL's fast shutdown: the client is told FATAL 57P01 (at
  // once, if nothing else is being written to it and it is not TLS), then both connections close;
  // the server rolls back what was left open.
  void terminate();
  // Its place in the worker's list of hot waits (Worker::hot_wait_begin), and the tick it began in.
  void set_hot(std::size_t index, std::uint64_t round, bool in_wait) {
    hot_index_ = index;
    hot_round_ = round;
    in_hot_wait_ = in_wait;
  }
  std::size_t hot_index() const { return hot_index_; }
  bool in_hot_wait() const { return in_hot_wait_; }
  std::uint64_t hot_round() const { return hot_round_; }
  // The client stayed idle: the hot wait's read is cancelled and the session parks.
  void end_hot_wait() { client_.cancel_wait(); }  // the hot wait's read is the socket's only operation

 private:
  enum class End { kContinue, kClose };

  // Startup and authentication (session.cpp).
  awaitable<End> login();
  awaitable<End> startup();
  awaitable<End> authenticate();
  awaitable<End> greet();
  awaitable<void> handle_cancel_request(protocol::Bytes body);
  awaitable<FrameRead> read_auth_message(std::string_view what);  // 'p', or 08P01 and kMalformed

  awaitable<void> run();     // login, greeting, then serve_or_park()
  awaitable<void> resume();  // the client of a parked session sent something
  void spawn(awaitable<void> body);  // on the worker; at its end the session parks or is deleted
  void park();               // idle without a coroutine until the client's socket is readable

  // The main loop and the relay (relay.cpp; the pumps: from_client.cpp, from_server.cpp).
  awaitable<bool> serve();  // true: parked (idle, nothing held), the coroutine ends
  // A request's relay on the attached server connection: begin_relay(); in transaction pooling
  // serve() relays in turn first, and when that ended plainly (released_plainly()) finish_server(true);
  // else finish_relay(done: the turn ended the attachment) runs the pumps if needed and ends it.
  void begin_relay();
  bool released_plainly() const;
  awaitable<End> finish_relay(bool done);
  awaitable<void> client_pump();
  awaitable<void> server_pump();
  // Relaying in turn (in_turn.cpp): where the relay goes next. kOver: the attachment is over
  // (released, or a side gone); kPumps: the pumps go on; the others wait for something: the rest
  // of a write to the server (kFlush), answers (kAnswers), the rest of a write to the client
  // (kClientWrite), the client's next request in its transaction (kNextRead); kForward forwards
  // what the client sent. The steps do what needs no waiting; serve() and the hot cycle wait.
  enum class TurnAt : std::uint8_t { kNone, kForward, kFlush, kAnswers, kClientWrite, kNextRead, kOver, kPumps };
  TurnAt turn_forward();
  TurnAt turn_flushed(error_code ec);
  TurnAt turn_answers(error_code ec, std::size_t n);
  TurnAt turn_answers_written(error_code ec);
  TurnAt turn_taken();  // after a read of answers (and its write to the client)
  TurnAt turn_next();   // answers awaited, or the attachment's end, or the client's next request
  TurnAt turn_next_read(error_code ec, std::size_t n);
  std::size_t client_read_need() const;  // bytes the client's next message still lacks (at least 1)

  // The hot cycle (in_turn.cpp): serve()'s wait for an active client's next request, which also relays the
  // requests that go plainly (an idle pooled connection to the primary, no parameters to set,
  // every read answered at once by the relay in turn, a plain release) by callbacks from the
  // reads, resuming serve() only when something else is needed: no coroutine resumption per
  // transaction. `co_await HotCycle(*this, buffer)` gives what ended it (`HotCycle(*this, buffer,
  // TurnAt::kAnswers)` starts it at the answers to a request serve() forwarded): kRead, the hot wait's
  // read failed or was cancelled (ec, n); kTop, serve()'s loop goes on from its top (a request
  // to judge, a server to wait for, draining); kAlign, a server connection was attached that
  // needs the client's parameters; kTurn, serve() goes on relaying in turn at `at`.
  struct HotExit {
    enum class Kind : std::uint8_t { kTop, kRead, kAlign, kTurn };
    Kind kind = Kind::kTop;
    TurnAt at = TurnAt::kNone;
    error_code ec;
    std::size_t n = 0;
  };
  class HotCycle;
  using HotHandler = asio::detail::awaitable_async_op_handler<void(HotExit), asio::any_io_executor>;
  void start_hot_cycle(HotHandler&& handler, asio::mutable_buffer buffer, TurnAt from);
  // What serve() does after a hot cycle ended with x: go on from its loop's top, or end (false).
  bool after_hot_cycle(const HotExit& x, bool& answered, bool& align, TurnAt& resume);
  void hot_wait();                          // the client's next request, read into hot_buffer_
  void hot_read(error_code ec, std::size_t n);
  void hot_request();                       // a request is buffered and no server attached
  void hot_turn(TurnAt at);                 // the relay in turn, from `at`
  void hot_next();                          // a plain release: the next request
  void hot_exit(HotExit x);                 // resumes serve(): the last thing a callback does
  template <typename Step>
  void hot_guarded(Step step);              // a callback's body
  // Forwarding the processed client bytes, without a coroutine when the socket takes them at once:
  //   error_code ec; if (!write_to_server_now(ec)) ec = co_await server_->stream.write(server_gather_);
  //   if (!flushed(ec)) ... the server connection failed.
  bool write_to_server_now(error_code& ec);  // true: nothing left to write (or failed: ec)
  bool flushed(error_code ec);               // consumes what was forwarded; false: the server is gone
  awaitable<bool> relay_server_answers();  // one read of answers, relayed; true: the read was cancelled
  // Its parts, for serve()'s relay in turn to run without a coroutine of their own:
  //   read server_read_need() bytes or more; take_answers(ec, n, rest) (true: the read was cancelled);
  //   if rest: answers_written(co_await client_.write(client_gather_)).
  std::size_t server_read_need() const;
  bool take_answers(error_code ec, std::size_t n, bool& write_rest);
  void answers_written(error_code ec);  // what was written to the client consumed from the server's buffer
  bool whole_client_message_buffered(std::size_t& need) const;  // else `need`: bytes still missing
  bool process_client_frames();   // forwards what is buffered; false on a fatal client error
  bool process_server_bytes();    // builds the client-bound write; false on a protocol mismatch
  void drop_unsynced_expects();   // answers the server will not send: it skips to the next Sync
  bool may_release() const;
  void finish_server(bool reusable);
  awaitable<void> detach_server();  // at session end: reset a dirty connection, then give it back
  // The request's server connection: attach_now() when an idle pooled connection to the node it
  // goes to is there (true: attached), else acquire_server(), which waits, going on with what
  // attach_now() judged and picked (when the request could go to a standby).
  struct Pick {
    routing::Access access;
    routing::Route route;
  };
  bool attach_now(std::optional<Pick>& picked);
  // `since`: when the request began to wait (a wait in line in serve() that ended without a connection).
  awaitable<ServerError> acquire_server(std::optional<Pick> picked = std::nullopt,
                                        std::optional<TimePoint> since = std::nullopt);
  // The common wait under load, which serve() does without acquire_server()'s coroutine: the
  // request goes to the primary, whose pool has no idle connection and no room for another. Then
  // that pool, with the primary's node index in `node`; else null.
  ServerPool* full_primary_pool(const std::optional<Pick>& picked, std::size_t& node);
  // Attaches a connection full_primary_pool()'s pool handed over, counted as acquire_server() counts.
  void attach_waited(ServerPool& pool, ServerPool::Ptr conn, std::size_t node, const std::optional<Pick>& picked,
                     TimePoint since);
  bool may_route() const;  // the request may go to a standby (if it is a read)
  routing::Route pick_standby(routing::Access access);
  // An idle pooled connection to `node` attached at once, without a coroutine (pool_ is then that
  // node's pool, whether or not one was there: the caller waits on pool_->acquire() and take()s).
  bool attach_idle(std::size_t node);
  ServerError take(ServerPool::Opened r, std::size_t node);  // attaches what acquire() gave, or its error
  ServerPool& node_pool(std::size_t node);
  void attach(ServerPool::Ptr conn, std::size_t node);
  awaitable<End> fail_request(const ServerError& e);
  void note_route(const routing::Route& r, bool first);
  // A server connection was had (a standby for a read, or the primary): routing state and metrics.
  void attached(bool standby, bool write, std::chrono::steady_clock::duration waited);
  // The attached server connection's session parameters made the client's: the SQL that does it
  // (empty: nothing to do, mostly), then running it.
  std::string alignment_sql() const;
  awaitable<ServerError> align_server(const std::string& sql);  // sql outlives the await

  // Prepared statements (from_client.cpp).
  void forward_parse(protocol::Bytes body, protocol::Bytes whole);
  bool forward_bind(protocol::Bytes body, protocol::Bytes whole);
  bool forward_describe(protocol::Bytes body, protocol::Bytes whole);
  void forward_close(protocol::Bytes body, protocol::Bytes whole);
  void ensure_prepared(const StatementPtr& def);
  bool take_deallocate(std::string_view sql);  // true when it named a statement baton renamed
  void forget_client_statement(const Expect& x);

  // Output helpers.
  void to_server_bytes(protocol::Bytes bytes);
  void to_server_scratch(std::size_t from);  // scratch bytes from `from` to the end
  void apply_sets(const std::vector<routing::SessionSet>& sets);
  static std::vector<std::uint8_t> error_message(std::string_view severity, std::string_view sqlstate,
                                                 std::string_view message);  // an ErrorResponse's bytes
  awaitable<void> send_error(std::string_view severity, std::string_view sqlstate, std::string_view message);
  awaitable<void> send_fatal(std::string_view sqlstate, std::string_view message);
  std::shared_ptr<const std::vector<routing::SessionSet>> note_statement(std::string_view sql, bool repeats);
  bool request_is_read() const;  // the buffered request may go to a standby
  bool set_target_session_attrs(std::string_view value);  // false: not a value libpq knows

  Worker& worker_;
  const ListenerConfig& listener_;
  Stream client_;
  ByteBuffer client_in_;
  std::uint32_t pid_ = 0;
  std::uint32_t secret_ = 0;
  bool admitted_ = false;
  // An idle session on a plain connection waits with no coroutine, only a socket wait: its
  // coroutine frames would cost more memory than the rest of the session.
  bool parked_ = false;
  bool woken_ = false;  // resumed from parking: the client's socket is readable
  bool in_hot_wait_ = false;
  std::size_t hot_index_ = 0;
  std::uint64_t hot_round_ = 0;

  // Metrics: this session's listener slot, its state as counted, batch and transaction start times.
  void set_client_state(metrics::ClientState s);
  void count_error(std::string_view sqlstate, std::string_view message);
  int listener_slot_ = -1;
  bool counted_ = false;  // client_opened was called
  metrics::ClientState client_state_ = metrics::ClientState::kIdle;
  std::chrono::steady_clock::time_point batch_start_{};
  std::chrono::steady_clock::time_point tx_start_{};

  // Who the client is.
  std::string user_name_;
  std::string database_;
  const UserConfig* user_ = nullptr;
  const ClusterConfig* cluster_ = nullptr;
  std::size_t cluster_index_ = 0;  // in the configuration (and the worker's cluster state)
  PoolMode mode_ = PoolMode::kTransaction;
  ListenerRole role_;        // the listener's role, or what the client asked with target_session_attrs
  bool replica_fallback_;
  ClientParams wanted_;  // parameters this client's server connections must have

  // The server connection, while attached.
  std::unique_ptr<ServerConn> server_;
  ServerPool* pool_ = nullptr;
  std::vector<ServerPool*> node_pools_;  // by node index, filled as used
  FifoQueue<Expect> expects_;
  protocol::pg::be::TxStatus tx_ = protocol::pg::be::TxStatus::kIdle;
  bool unsynced_ = false;        // extended-protocol messages forwarded since the last Sync
  bool releasing_ = false;       // the server pump decided to give the connection back
  bool copy_in_ = false;         // the server sent CopyInResponse: it waits for the client's data
  bool draining_ = false;        // baton shuts down: end the session at the next transaction boundary
  bool client_gone_ = false;     // client closed, sent Terminate, or broke the protocol
  bool server_gone_ = false;     // the server connection failed
  bool fatal_client_error_ = false;
  std::string client_error_sqlstate_;
  std::string client_error_message_;
  routing::PinReason pin_ = routing::PinReason::kNone;
  std::size_t client_processed_ = 0;    // bytes of client_in_ handled and queued for the server
  std::size_t server_processed_ = 0;    // bytes of the server's buffer handled and queued for the client
  bool commit_seen_ = false;            // CommandComplete "COMMIT" since the last ReadyForQuery
  std::size_t client_stream_left_ = 0;  // bytes of a large pass-through client message still to forward
  std::size_t server_stream_left_ = 0;  // bytes of a large server message still to forward
  bool skip_to_sync_ = false;           // after a lost server mid-batch: drop client messages up to Sync
  bool rfq_after_skip_ = false;         // ...then answer that Sync with ReadyForQuery
  std::string server_lost_reason_;      // why baton broke the server connection (a failover), for the client
  // Read-your-writes: how the current transaction was routed, and the primary's WAL position after
  // this session's last write transaction (reads need a standby that has replayed it).
  bool routed_write_ = false;
  bool on_standby_ = false;  // attached to a standby for a read
  bool request_judged_ = false;  // the buffered request was classified when the standby was chosen
  asio::steady_timer* defer_wait_ = nullptr;  // the client pump waits for answers before judging a request
  health::Lsn ryw_lsn_ = 0;
  bool turn_aborted_ = false;           // the relay in turn's read of answers was cancelled
  std::optional<HotHandler> hot_handler_;  // serve(), waiting in a hot cycle
  asio::mutable_buffer hot_buffer_;        // what the hot wait reads into (in serve()'s frame)
  bool query_failed_ = false;           // an ErrorResponse arrived for the statement at the front
  bool skipping_to_sync_ = false;       // an extended-protocol message failed: the server skips to Sync
  std::vector<routing::SessionSet> tx_sets_;  // SETs inside an open transaction, kept on COMMIT
  std::shared_ptr<const std::vector<routing::SessionSet>> unnamed_sets_;  // of the last unnamed Parse
  std::shared_ptr<const std::vector<routing::SessionSet>> bound_sets_;    // of the last Bind
  bool unnamed_deallocate_ = false;  // the unnamed statement is a DEALLOCATE baton answers itself
  bool bound_deallocate_ = false;    // the unnamed portal runs it
  asio::cancellation_signal client_read_cancel_;
  asio::cancellation_signal server_read_cancel_;

  // Prepared statements this client has, by its own names.
  std::unordered_map<std::string, StatementPtr> statements_;

  // Write assembly, one set per direction (the two pumps run at once).
  std::vector<Piece> to_server_;
  std::vector<std::uint8_t> to_server_scratch_;
  std::vector<Piece> to_client_;
  std::vector<std::shared_ptr<const std::vector<std::uint8_t>>> to_client_hold_;  // replacement bytes in flight
  std::vector<asio::const_buffer> server_gather_;
  std::vector<asio::const_buffer> client_gather_;
};

class Session::HotCycle {
 public:
  HotCycle(Session& session, asio::mutable_buffer buffer, TurnAt from = TurnAt::kNone)
      : session_(&session), buffer_(buffer), from_(from) {}

  // An asynchronous operation as Asio's await_transform takes it (see Stream::ReadSome).
  template <typename Token>
    requires asio::completion_token_for<Token, void(HotExit)>
  auto operator()(Token&& token) && {
    return asio::async_initiate<Token, void(HotExit)>(
        [](auto&& handler, Session* s, asio::mutable_buffer b, TurnAt from) {
          s->start_hot_cycle(std::move(handler), b, from);
        },
        token, session_, buffer_, from_);
  }

 private:
  Session* session_;
  asio::mutable_buffer buffer_;
  TurnAt from_;
};

}  // namespace baton::proxy::pg
