// A connection's byte stream: a TCP socket, optionally upgraded to TLS in place.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "proxy/net/asio.hpp"
#include "proxy/net/ring.hpp"

namespace boost::asio::detail {
class epoll_reactor;
}  // namespace boost::asio::detail

namespace baton::proxy {

class Stream {
 public:
  // A plain socket created under a worker's ring (Ring::current()) reads and writes by it on the
  // relay's paths (read_then, write_now, write); everything else goes by Asio as before.
  explicit Stream(tcp::socket socket);
  // (Moved only while nothing is pending: a write() in flight points back at its stream.)
  Stream(Stream&& o) noexcept;
  Stream& operator=(Stream&& o) noexcept;
  ~Stream();

  // One read, awaited as an operation: `co_await stream.read_some(buffer)` reads what is available
  // (at least one byte) and gives {error, bytes}. Not a coroutine: the awaiting coroutine resumes
  // straight from the socket's (or TLS stream's) operation, with no frame of the read's own (as a
  // use_awaitable call would allocate, push and pop per read).
  class ReadSome;
  // The handler of a coroutine awaiting a ReadSome (Asio's own type: the only one a ReadSome takes).
  using ReadHandler =
      asio::detail::awaitable_async_op_handler<void(std::tuple<error_code, std::size_t>), asio::any_io_executor>;
  // Cancelled with the awaiting coroutine (e.g. inside `||`).
  ReadSome read_some(asio::mutable_buffer buffer);
  // Cancellable through `slot` only (the relay stops a pump this way).
  ReadSome read_some(asio::mutable_buffer buffer, asio::cancellation_slot slot);
  // A read without a coroutine (plain sockets only, as read_now()): `done(context, error, bytes)`
  // runs on the socket's io_context when it completes, with operation_aborted after cancel_wait()
  // or close(). A drained read (drained_read.hpp), or a read on the worker's ring (ring.hpp: after
  // cancel_wait() it may still bring bytes that arrived first); no cancellation slot.
  using ReadDone = void (*)(void* context, error_code ec, std::size_t n);
  void read_then(asio::mutable_buffer buffer, void* context, ReadDone done);
  // Waits until the socket is readable without reading (no buffer held while idle). Plain only:
  // with TLS it returns at once, since decrypted bytes may already be buffered.
  awaitable<error_code> wait_readable(asio::cancellation_slot slot);
  // The same without a coroutine (plain only): `done` runs once the socket is readable, or with an
  // error (operation_aborted after cancel_wait()). Its operation is allocated to its exact size.
  void when_readable(std::function<void(error_code)> done);
  // Cancels every pending operation of the plain socket (a when_readable() wait, a read): each
  // completes with operation_aborted.
  void cancel_wait();
  // Writes every byte of the buffer sequence.
  awaitable<error_code> write(const std::vector<asio::const_buffer>& buffers);
  awaitable<error_code> write(asio::const_buffer buffer);
  // An asynchronous write() is under way (bytes written now would land inside its message).
  bool writing() const { return writing_; }

  // Without waiting, for the relay's hot path on plain sockets: no Asio operation, no completion to
  // schedule, no coroutine. Neither may run while an asynchronous operation of the same direction
  // is pending on this stream.
  // Writes what the socket takes now and drops it from the front of `buffers`. True when done:
  // everything written, or an error in `ec`. False when bytes are left (the socket's send buffer is
  // full, or TLS, which writes nothing here): co_await write(buffers) for the rest. On the ring,
  // "written" is "copied for the ring's next submission" (false when the ring already holds
  // Ring::kMaxQueuedBytes for this socket), and `ec` is the error of an earlier write, if any.
  bool write_now(std::vector<asio::const_buffer>& buffers, error_code& ec);
  // Reads what the socket holds now: the byte count, or 0 with `ec` set: would_block when nothing
  // is there yet (and always with TLS), eof when the peer closed, else the error.
  std::size_t read_now(asio::mutable_buffer buffer, error_code& ec);

  // TLS upgrade as the server side (a client connecting to baton) or the client side (baton to a server).
  awaitable<error_code> tls_accept(asio::ssl::context& context);
  awaitable<error_code> tls_connect(asio::ssl::context& context, const std::string& server_name,
                                    bool verify_host_name);
  bool is_tls() const { return tls_ != nullptr; }

  void close();
  // After a final message (FATAL): stop sending, discard what the peer still sends until it closes
  // or `limit` passes, then close. Closing at once with unread bytes would reset the connection,
  // and the peer's TCP stack could drop the final message before its application read it.
  awaitable<void> close_after_final(std::chrono::milliseconds limit);
  bool is_open() const;
  // An idle connection's check before reuse: false when the peer closed it or sent something
  // unasked (a server's FATAL before it exits). No system call when the reactor has seen nothing
  // arrive since the last read emptied the socket (drained_and_quiet), or the ring's watch, set by
  // watch_idle() when the connection went idle, has not (Ring::quiet); else one non-blocking peek.
  bool idle_and_open();
  void watch_idle();
  tcp::socket& socket();
  asio::any_io_executor get_executor();

 private:
  void start_read(ReadHandler&& handler, asio::mutable_buffer buffer, const asio::cancellation_slot* slot);
  Ring::Channel* channel();  // this socket on ring_, attached on first use
  awaitable<error_code> write_by_ring(std::span<const asio::const_buffer> buffers);
  void leave_ring();         // the socket leaves the ring (closed, or upgraded to TLS)
  void rejoin();             // back in Asio's reactor before an Asio read or wait (drained_read.hpp)

  awaitable<error_code> tls_upgrade(asio::ssl::context& context, asio::ssl::stream_base::handshake_type type,
                                    const std::string& server_name, bool verify_host_name);

  std::unique_ptr<tcp::socket> plain_;
  std::unique_ptr<asio::ssl::stream<tcp::socket>> tls_;
  asio::detail::epoll_reactor* reactor_;  // the socket's, for reads on plain sockets (drained_read.hpp)
  Ring* ring_ = nullptr;                   // the worker's ring, for a plain socket under one
  Ring::Channel* channel_ = nullptr;
  struct RingWrite;                        // a write() waiting for the ring
  std::unique_ptr<RingWrite> ring_write_;
  bool reactor_left_ = false;              // out of the reactor's epoll set while the ring reads it
  bool writing_ = false;
};

class Stream::ReadSome {
 public:
  ReadSome(Stream& stream, asio::mutable_buffer buffer, std::optional<asio::cancellation_slot> slot)
      : stream_(&stream), buffer_(buffer), slot_(slot) {}

  // An asynchronous operation as Asio's await_transform takes it: called with the completion token.
  // (Constrained: Asio's await_transform also probes whether an awaited object takes a frame pointer.)
  template <typename Token>
    requires asio::completion_token_for<Token, void(std::tuple<error_code, std::size_t>)>
  auto operator()(Token&& token) && {
    return asio::async_initiate<Token, void(std::tuple<error_code, std::size_t>)>(
        [](auto&& handler, Stream* s, asio::mutable_buffer b, std::optional<asio::cancellation_slot> slot) {
          s->start_read(std::move(handler), b, slot ? &*slot : nullptr);
        },
        token, stream_, buffer_, slot_);
  }

 private:
  Stream* stream_;
  asio::mutable_buffer buffer_;
  std::optional<asio::cancellation_slot> slot_;
};

}  // namespace baton::proxy
