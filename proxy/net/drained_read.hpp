// A socket read that remembers when it emptied the socket: no failed recv() before the next wait.
//
// Asio 1.26's epoll reactor tries every read at once ("speculatively") unless the last one read
// end-of-file. On a relay that is one recv() per wait that fails with EAGAIN: the client's next
// request and the server's answer are never there yet when the read starts. perf counted 4.7
// recvfrom calls per transaction through baton against PgBouncer's 2 (`pgbench -S -M simple`,
// 16 clients). This read returns fewer bytes than its buffer holds only when the socket had no
// more (a stream socket's recv copies all that is queued, up to the buffer's size), and then tells
// the reactor so, as it does for end-of-file: the next read on this socket waits for the socket's
// next readiness event instead of calling recv() first. Sockets are registered edge-triggered, and
// every byte that arrives after this recv() raises a new event, which turns the speculative read
// back on; so no data can be left waiting unseen. (nginx reads the same way: a short read clears
// its "ready" flag.)
//
// The operation is built on the reactor's own operation type (boost/asio/detail): Boost is pinned
// to Debian 12's 1.81, and the static_assert below stops a build against another version until
// this file is reviewed for it. Completion and cancellation behave as for async_read_some: the
// handler runs on the socket's io_context, operation_aborted on cancellation through the handler's
// slot or socket.cancel(), eof when the peer closed. Plain TCP sockets only; an empty buffer is
// passed to async_read_some (which completes at once).
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/asio/detail/handler_cont_helpers.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/detail/socket_ops.hpp>
#include <boost/version.hpp>

#include "proxy/net/asio.hpp"
#include "proxy/net/syscalls.hpp"

static_assert(BOOST_VERSION / 100 == 1081,
              "proxy/net/drained_read.hpp uses Boost 1.81's Asio reactor internals: review it for this version");

namespace baton::proxy {

// (stream.hpp names the reactor type without including Asio's detail headers.)
static_assert(std::is_same_v<asio::detail::reactor, asio::detail::epoll_reactor>,
              "baton's drained reads expect Asio's epoll reactor (Linux)");

namespace drained_read_detail {

namespace ad = asio::detail;

// basic_socket keeps its implementation (descriptor, state, reactor data) protected.
struct SocketAccess : tcp::socket {
  static auto& implementation(tcp::socket& socket) { return (socket.*(&SocketAccess::impl_)).get_implementation(); }
};

// The reactor of the socket's io_context (a service lookup under the registry's mutex: look it up
// once per socket, not per read).
inline ad::reactor& reactor_of(tcp::socket& socket) {
  return asio::use_service<ad::reactor>(asio::query(socket.get_executor(), asio::execution::context));
}

// Cancellation through the handler's slot: the reactor completes the operation with this key.
class CancelRead {
 public:
  CancelRead(ad::reactor* reactor, ad::reactor::per_descriptor_data* data, int descriptor)
      : reactor_(reactor), data_(data), descriptor_(descriptor) {}
  void operator()(asio::cancellation_type_t type) {
    if (!!(type & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                   asio::cancellation_type::total))) {
      reactor_->cancel_ops_by_key(descriptor_, *data_, ad::reactor::read_op, this);
    }
  }

 private:
  ad::reactor* reactor_;
  ad::reactor::per_descriptor_data* data_;
  int descriptor_;
};

template <typename Handler>
class DrainedReadOp final : public ad::reactor_op {
 public:
  using Allocator = asio::recycling_allocator<DrainedReadOp>;

  DrainedReadOp(int descriptor, asio::mutable_buffer buffer, Handler&& handler)
      : ad::reactor_op(error_code(), &DrainedReadOp::perform_read, &DrainedReadOp::complete),
        descriptor_(descriptor),
        buffer_(buffer),
        handler_(std::move(handler)) {}

 private:
  // Runs in the reactor with the descriptor's lock held: reading and reporting "exhausted" are one step.
  static status perform_read(ad::reactor_op* base) {
    auto* op = static_cast<DrainedReadOp*>(base);
    for (;;) {
      const ssize_t n = sys::recv(op->descriptor_, op->buffer_.data(), op->buffer_.size(), MSG_DONTWAIT);
      if (n > 0) {
        op->bytes_transferred_ = static_cast<std::size_t>(n);
        return op->bytes_transferred_ < op->buffer_.size() ? done_and_exhausted : done;
      }
      if (n == 0) {
        op->ec_ = asio::error::eof;
        return done_and_exhausted;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;
      op->ec_ = error_code(errno, asio::error::get_system_category());
      return done;
    }
  }

  // owner is null when the io_context is destroyed with the operation pending: destroy, no call.
  static void complete(void* owner, ad::operation* base, const error_code& /*ec*/, std::size_t /*n*/) {
    auto* op = static_cast<DrainedReadOp*>(base);
    Handler handler(std::move(op->handler_));
    const error_code ec = op->ec_;
    const std::size_t n = op->bytes_transferred_;
    Allocator allocator;
    op->~DrainedReadOp();
    allocator.deallocate(op, 1);
    // The handler's executor is the socket's io_context, whose thread this is: call it directly,
    // as Asio's own operations do for a handler on the same executor.
    if (owner != nullptr) std::move(handler)(ec, n);
  }

  int descriptor_;
  asio::mutable_buffer buffer_;
  Handler handler_;
};

template <typename Handler>  // (a forwarding reference: the handler is moved once, into the operation)
void start_drained_read(ad::reactor& reactor, tcp::socket& socket, asio::mutable_buffer buffer, Handler&& handler) {
  auto& impl = SocketAccess::implementation(socket);
  const bool continuation = boost_asio_handler_cont_helpers::is_continuation(handler);
  auto slot = asio::get_associated_cancellation_slot(handler);

  using Op = DrainedReadOp<std::decay_t<Handler>>;
  typename Op::Allocator allocator;
  Op* op = allocator.allocate(1);
  try {
    new (op) Op(impl.socket_, buffer, std::forward<Handler>(handler));
  } catch (...) {
    allocator.deallocate(op, 1);
    throw;
  }
  if (slot.is_connected()) {
    op->cancellation_key_ = &slot.template emplace<CancelRead>(&reactor, &impl.reactor_data_, impl.socket_);
  }
  // As reactive_socket_service_base::start_op: the descriptor must be in non-blocking mode.
  if ((impl.state_ & ad::socket_ops::non_blocking) != 0 ||
      ad::socket_ops::set_internal_non_blocking(impl.socket_, impl.state_, true, op->ec_)) {
    reactor.start_op(ad::reactor::read_op, impl.socket_, impl.reactor_data_, op, continuation, true);
  } else {
    reactor.post_immediate_completion(op, continuation);
  }
}

}  // namespace drained_read_detail

// The reactor a socket's drained reads go through: its io_context's (see reactor_of).
using DrainedReactor = drained_read_detail::ad::reactor;
inline DrainedReactor& drained_reactor(tcp::socket& socket) { return drained_read_detail::reactor_of(socket); }

// Starts a drained read that completes with handler(error_code, bytes) — see the top of this file.
// For a completion handler already made (no token to resolve: Stream::read_some's, which each
// layer of async_initiate would move once more). `reactor` is drained_reactor(socket), looked up
// once by the caller.
template <typename Handler>
void start_read_drained(DrainedReactor& reactor, tcp::socket& socket, asio::mutable_buffer buffer, Handler&& handler) {
  if (buffer.size() == 0) {
    socket.async_read_some(buffer, std::forward<Handler>(handler));  // completes at once
    return;
  }
  drained_read_detail::start_drained_read(reactor, socket, buffer, std::forward<Handler>(handler));
}

// The same as an asynchronous operation: async_read_some with any completion token.
template <typename CompletionToken>
auto async_read_drained(DrainedReactor& reactor, tcp::socket& socket, asio::mutable_buffer buffer,
                        CompletionToken&& token) {
  return asio::async_initiate<CompletionToken, void(error_code, std::size_t)>(
      [](auto handler, DrainedReactor* r, tcp::socket* s, asio::mutable_buffer b) {
        start_read_drained(*r, *s, b, std::move(handler));
      },
      token, &reactor, &socket, buffer);
}

// True when this socket's last read was a drained read that emptied it (a short read) and the
// reactor has seen no readiness event on it since: no byte, end-of-file or error has arrived, as of
// the reactor's last epoll_wait. That includes the events of the batch being handled whose turn
// has not come yet (the socket waits in the scheduler's queue): when a primary dies, its backends'
// FINs arrive in the same batches as the clients' next requests (7895039 looked at the flag alone
// and counted more client errors at failover; reverted in 55447c9). Then a pooled connection
// needs no peek before reuse. False in every other case (a new socket, a read that filled its
// buffer, a read by other means, anything arrived since): ask the socket itself. Only on the
// socket's own io_context thread (the reactor's state is unlocked in our single-threaded io_contexts).
bool drained_and_quiet(tcp::socket& socket);

// A socket whose reads go by the worker's io_uring ring (ring.hpp) leaves its reactor's epoll set,
// so that its bytes raise no epoll events nobody waits for (each would wake the worker's loop and
// cost an epoll_wait); it rejoins before any Asio read or wait starts on it. Only between
// operations of the reactor (none pending on the socket); on the socket's own io_context thread.
// rejoin_reactor() registers the events Asio registered, and the kernel reports at once what is
// already there (EPOLLET reports the current state when a descriptor is added).
void leave_reactor(tcp::socket& socket);
void rejoin_reactor(tcp::socket& socket);
// The reactor's epoll descriptor (the ring polls it).
int epoll_descriptor(DrainedReactor& reactor);

}  // namespace baton::proxy
