// A connection's byte stream: plain TCP or TLS, with error codes instead of exceptions.
#include "proxy/net/stream.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/write.hpp>

#include "proxy/net/drained_read.hpp"
#include "proxy/net/syscalls.hpp"

namespace baton::proxy {

using namespace asio::experimental::awaitable_operators;

struct Stream::RingWrite {
  asio::any_completion_handler<void(error_code)> handler;
};

Stream::Stream(tcp::socket socket)
    : plain_(std::make_unique<tcp::socket>(std::move(socket))),
      reactor_(&drained_reactor(*plain_)),
      ring_(Ring::current()) {
  error_code ignored;
  plain_->set_option(tcp::no_delay(true), ignored);
}

Stream::Stream(Stream&& o) noexcept
    : plain_(std::move(o.plain_)),
      tls_(std::move(o.tls_)),
      reactor_(o.reactor_),
      ring_(std::exchange(o.ring_, nullptr)),
      channel_(std::exchange(o.channel_, nullptr)),
      ring_write_(std::move(o.ring_write_)),
      reactor_left_(o.reactor_left_),
      writing_(o.writing_) {}

Stream& Stream::operator=(Stream&& o) noexcept {
  if (this != &o) {
    leave_ring();
    plain_ = std::move(o.plain_);
    tls_ = std::move(o.tls_);
    reactor_ = o.reactor_;
    ring_ = std::exchange(o.ring_, nullptr);
    channel_ = std::exchange(o.channel_, nullptr);
    ring_write_ = std::move(o.ring_write_);
    reactor_left_ = o.reactor_left_;
    writing_ = o.writing_;
  }
  return *this;
}

// The ring lets go of the descriptor before the socket (a member) closes it.
Stream::~Stream() { leave_ring(); }

Ring::Channel* Stream::channel() {
  if (channel_ == nullptr) channel_ = ring_->attach(plain_->native_handle());
  return channel_;
}

void Stream::rejoin() {
  if (!reactor_left_) return;
  reactor_left_ = false;
  rejoin_reactor(*plain_);
}

void Stream::leave_ring() {
  if (channel_ == nullptr) return;
  ring_->close(channel_);
  ring_->forget(channel_);
  channel_ = nullptr;
}

tcp::socket& Stream::socket() { return tls_ ? tls_->next_layer() : *plain_; }

asio::any_io_executor Stream::get_executor() { return socket().get_executor(); }

bool Stream::is_open() const { return tls_ ? tls_->next_layer().is_open() : (plain_ && plain_->is_open()); }

awaitable<void> Stream::close_after_final(std::chrono::milliseconds limit) {
  if (!is_open()) co_return;
  if (tls_) {
    close();
    co_return;
  }
  error_code ignored;
  if (channel_ != nullptr) ring_->close(channel_);  // what the ring holds goes out before the end of sending
  rejoin();
  plain_->shutdown(tcp::socket::shutdown_send, ignored);
  asio::steady_timer timer(co_await asio::this_coro::executor, limit);
  std::array<std::uint8_t, 512> sink;
  for (;;) {
    auto r = co_await (plain_->async_read_some(asio::buffer(sink), use_tuple) || timer.async_wait(use_tuple));
    if (r.index() == 1) break;
    auto [ec, n] = std::get<0>(r);
    if (ec || n == 0) break;
  }
  close();
}

void Stream::watch_idle() {
  if (channel_ != nullptr) ring_->watch(channel_);
}

bool Stream::idle_and_open() {
  if (!is_open()) return false;
  // Its last read emptied the socket and nothing has arrived since, as of the last epoll_wait (the
  // events of the batch being handled included), or as the ring's watch saw it: no system call.
  if (channel_ != nullptr) {
    if (ring_->quiet(channel_)) return true;
  } else if (!tls_ && drained_and_quiet(*plain_)) {
    return true;
  }
  std::uint8_t byte;
  ssize_t n = sys::recv(socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void Stream::close() {
  error_code ignored;
  if (!is_open()) return;
  if (channel_ != nullptr) ring_->close(channel_);  // (reads end with operation_aborted; queued writes go first)
  socket().shutdown(tcp::socket::shutdown_both, ignored);
  socket().close(ignored);
}

Stream::ReadSome Stream::read_some(asio::mutable_buffer buffer) { return ReadSome(*this, buffer, std::nullopt); }

Stream::ReadSome Stream::read_some(asio::mutable_buffer buffer, asio::cancellation_slot slot) {
  return ReadSome(*this, buffer, slot);
}

namespace {

// A read's completion as the awaiting coroutine takes it: {error, bytes} as one tuple. (asio::as_tuple
// copies the handler it wraps, and a coroutine's handler can only move.) Keeps the coroutine's
// executor and cancellation slot.
class TupleHandler {
 public:
  using executor_type = asio::any_io_executor;
  using cancellation_slot_type = asio::cancellation_slot;

  explicit TupleHandler(Stream::ReadHandler&& h) : h_(std::move(h)) {}
  executor_type get_executor() const noexcept { return h_.get_executor(); }
  cancellation_slot_type get_cancellation_slot() const noexcept { return h_.get_cancellation_slot(); }
  void operator()(error_code ec, std::size_t n) { std::move(h_)(std::tuple<error_code, std::size_t>(ec, n)); }

 private:
  Stream::ReadHandler h_;
};

}  // namespace

void Stream::start_read(ReadHandler&& handler, asio::mutable_buffer buffer, const asio::cancellation_slot* slot) {
  // Without a slot of its own the read keeps the handler's, which is the awaiting coroutine's.
  // Plain sockets go straight to the drained read with the handler made here.
  if (tls_) {
    if (slot != nullptr) tls_->async_read_some(buffer, asio::bind_cancellation_slot(*slot, TupleHandler(std::move(handler))));
    else tls_->async_read_some(buffer, TupleHandler(std::move(handler)));
    return;
  }
  rejoin();
  if (channel_ != nullptr) ring_->read_elsewhere(channel_);
  if (slot != nullptr) {
    start_read_drained(*reactor_, *plain_, buffer, asio::bind_cancellation_slot(*slot, TupleHandler(std::move(handler))));
  } else {
    start_read_drained(*reactor_, *plain_, buffer, TupleHandler(std::move(handler)));
  }
}

namespace {

// read_then()'s handler: a function and its argument.
struct ReadThen {
  void* context;
  Stream::ReadDone done;
  void operator()(error_code ec, std::size_t n) const { done(context, ec, n); }
};

}  // namespace

void Stream::read_then(asio::mutable_buffer buffer, void* context, ReadDone done) {
  if (ring_ != nullptr) {
    if (!reactor_left_) {  // (its bytes would raise epoll events nobody waits for)
      leave_reactor(*plain_);
      reactor_left_ = true;
    }
    return ring_->read(channel(), buffer, context, done);
  }
  start_read_drained(*reactor_, *plain_, buffer, ReadThen{context, done});
}

awaitable<error_code> Stream::wait_readable(asio::cancellation_slot slot) {
  if (tls_) co_return error_code{};
  rejoin();
  auto [ec] = co_await plain_->async_wait(tcp::socket::wait_read, asio::bind_cancellation_slot(slot, use_tuple));
  co_return ec;
}

void Stream::when_readable(std::function<void(error_code)> done) {
  rejoin();
  // std::allocator: not Asio's per-thread recycling, which may hand a long idle wait a block left
  // over from a much larger coroutine frame.
  plain_->async_wait(tcp::socket::wait_read,
                     asio::bind_allocator(std::allocator<void>(), [done = std::move(done)](const error_code& ec) {
                       done(ec);
                     }));
}

void Stream::cancel_wait() {
  error_code ignored;
  if (channel_ != nullptr) ring_->cancel_read(channel_);
  if (plain_) plain_->cancel(ignored);
}

awaitable<error_code> Stream::write_by_ring(std::span<const asio::const_buffer> buffers) {
  // The ring copies the bytes at once; the coroutine resumes when they are sent. (The initiation is
  // named before the co_await: see README, "Building by hand", on g++ 12.)
  auto start = [this, buffers](auto handler) {
    ring_write_ = std::make_unique<RingWrite>(RingWrite{std::move(handler)});
    ring_->write_then(channel(), buffers, this, [](void* self, error_code ec) {
      std::unique_ptr<RingWrite> w = std::move(static_cast<Stream*>(self)->ring_write_);
      std::move(w->handler)(ec);
    });
  };
  auto [ec] = co_await asio::async_initiate<decltype(use_tuple), void(error_code)>(start, use_tuple);
  co_return ec;
}

awaitable<error_code> Stream::write(const std::vector<asio::const_buffer>& buffers) {
  writing_ = true;
  if (ring_ != nullptr) {
    const error_code ec = co_await write_by_ring(buffers);
    writing_ = false;
    co_return ec;
  }
  if (tls_) {
    auto [ec, n] = co_await asio::async_write(*tls_, buffers, use_tuple);
    writing_ = false;
    co_return ec;
  }
  auto [ec, n] = co_await asio::async_write(*plain_, buffers, use_tuple);
  writing_ = false;
  co_return ec;
}

awaitable<error_code> Stream::write(asio::const_buffer buffer) {
  writing_ = true;
  if (ring_ != nullptr) {
    const error_code ec = co_await write_by_ring(std::span<const asio::const_buffer>(&buffer, 1));
    writing_ = false;
    co_return ec;
  }
  if (tls_) {
    auto [ec, n] = co_await asio::async_write(*tls_, buffer, use_tuple);
    writing_ = false;
    co_return ec;
  }
  std::vector<asio::const_buffer> rest{buffer};
  error_code ec;
  if (write_now(rest, ec)) {
    writing_ = false;
    co_return ec;
  }
  auto [wec, n] = co_await asio::async_write(*plain_, rest, use_tuple);
  writing_ = false;
  co_return wec;
}

bool Stream::write_now(std::vector<asio::const_buffer>& buffers, error_code& ec) {
  ec.clear();
  if (tls_ || !plain_) return false;
  if (ring_ != nullptr) {
    Ring::Channel* ch = channel();
    if (!ring_->write(ch, buffers)) return false;
    buffers.clear();
    ec = ring_->write_error(ch);
    return true;
  }
  std::array<iovec, 64> iov;
  while (!buffers.empty()) {
    const std::size_t count = std::min(buffers.size(), iov.size());
    for (std::size_t i = 0; i < count; ++i) {
      iov[i].iov_base = const_cast<void*>(buffers[i].data());
      iov[i].iov_len = buffers[i].size();
    }
    ssize_t sent = 0;
    if (count == 1) {
      // One piece (most answers, most requests): send() spares the kernel the message header.
      sent = sys::send(plain_->native_handle(), iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    } else {
      msghdr msg{};
      msg.msg_iov = iov.data();
      msg.msg_iovlen = count;
      sent = sys::sendmsg(plain_->native_handle(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
      ec = error_code(errno, asio::error::get_system_category());
      return true;
    }
    // Drop what was sent: whole buffers, then the front of a partly sent one.
    auto left = static_cast<std::size_t>(sent);
    std::size_t whole = 0;
    while (whole < buffers.size() && buffers[whole].size() <= left) left -= buffers[whole++].size();
    buffers.erase(buffers.begin(), buffers.begin() + static_cast<std::ptrdiff_t>(whole));
    if (left > 0) buffers.front() += left;
  }
  return true;
}

std::size_t Stream::read_now(asio::mutable_buffer buffer, error_code& ec) {
  ec.clear();
  if (tls_ || !plain_) {
    ec = asio::error::would_block;
    return 0;
  }
  if (channel_ != nullptr) ring_->read_elsewhere(channel_);
  for (;;) {
    const ssize_t n = sys::recv(plain_->native_handle(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n > 0) return static_cast<std::size_t>(n);
    if (n == 0) {
      ec = asio::error::eof;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      ec = asio::error::would_block;
    } else {
      ec = error_code(errno, asio::error::get_system_category());
    }
    return 0;
  }
}

awaitable<error_code> Stream::tls_accept(asio::ssl::context& context) {
  return tls_upgrade(context, asio::ssl::stream_base::server, {}, false);
}

awaitable<error_code> Stream::tls_connect(asio::ssl::context& context, const std::string& server_name,
                                          bool verify_host_name) {
  return tls_upgrade(context, asio::ssl::stream_base::client, server_name, verify_host_name);
}

awaitable<error_code> Stream::tls_upgrade(asio::ssl::context& context, asio::ssl::stream_base::handshake_type type,
                                          const std::string& server_name, bool verify_host_name) {
  if (channel_ != nullptr) {  // (nothing pending: the handshake is the socket's first exchange after startup)
    ring_->forget(channel_);
    channel_ = nullptr;
  }
  rejoin();
  ring_ = nullptr;
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(*plain_), context);
  plain_.reset();
  if (type == asio::ssl::stream_base::client) {
    if (!server_name.empty()) SSL_set_tlsext_host_name(tls_->native_handle(), server_name.c_str());
    if (verify_host_name) tls_->set_verify_callback(asio::ssl::host_name_verification(server_name));
  }
  auto [ec] = co_await tls_->async_handshake(type, use_tuple);
  co_return ec;
}

}  // namespace baton::proxy
