// The worker's io_uring ring (see ring.hpp): operations, their completions, and the worker's loop.
#include "proxy/net/ring.hpp"

#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>
#include <utility>

#include <boost/asio/detail/epoll_reactor.hpp>
#include <boost/asio/detail/op_queue.hpp>
#include <boost/asio/detail/scheduler.hpp>
#include <boost/version.hpp>

#include "proxy/net/drained_read.hpp"

static_assert(BOOST_VERSION / 100 == 1081,
              "proxy/net/ring.cpp reads Boost 1.81's scheduler internals: review it for this version");

namespace baton::proxy {

namespace {

// user_data of entries that are not operations (operations carry their Op's address, aligned to 8).
constexpr std::uint64_t kAsioPoll = 1;  // Asio's epoll descriptor turned readable
constexpr std::uint64_t kIgnore = 2;    // a cancellation that failed (its target completes anyway)

constexpr unsigned kEntries = 1024;

thread_local Ring* current_ring = nullptr;

// Whether Asio's scheduler holds handlers ready to run: its queue and the marker of its reactor
// task are private. An explicit instantiation may name a private member ([temp.spec.general]),
// and the friend it defines hands the member pointer out (as drained_read.cpp does for the
// reactor). Boost is pinned by the static_assert above.
struct QueueTag {
  friend auto queue_member(QueueTag);
};
template <auto M>
struct ExposeQueue {
  friend auto queue_member(QueueTag) { return M; }
};
template struct ExposeQueue<&asio::detail::scheduler::op_queue_>;
struct TaskTag {
  friend auto task_member(TaskTag);
};
template <auto M>
struct ExposeTask {
  friend auto task_member(TaskTag) { return M; }
};
template struct ExposeTask<&asio::detail::scheduler::task_operation_>;

// Outside its run functions the scheduler's queue holds the reactor task's marker and whatever
// was posted since (from this thread: a ring callback resuming a coroutine that posts; from others:
// never, workers take functions through their inbox, an eventfd Asio's reactor watches).
bool handlers_ready(asio::detail::scheduler& s) {
  auto& queue = s.*queue_member(QueueTag{});
  asio::detail::scheduler_operation* task = &(s.*task_member(TaskTag{}));
  asio::detail::scheduler_operation* front = queue.front();
  if (front == nullptr) return false;
  return front != task || asio::detail::op_queue_access::next(task) != nullptr;
}

error_code from_errno(int e) { return error_code(e, asio::error::get_system_category()); }

}  // namespace

struct Ring::Impl {
  io_uring ring;
  bool stopped = false;  // run() has ended: nothing more goes to the kernel
  // Callbacks owed without a completion from the kernel (a read or write refused at once, writes
  // dropped by close()): run after the next batch's completions, never inside the call that owes them.
  struct Owed {
    ReadDone read = nullptr;
    WriteDone write = nullptr;
    void* context = nullptr;
    error_code ec;
  };
  std::vector<Owed> owed;
};

struct Ring::Channel {
  int fd = -1;
  Op* read = nullptr;            // the pending read
  bool read_cancelled = false;   // a cancellation of it is queued
  bool drained = false;          // the last read took fewer bytes than it could: the socket was empty
  Op* watch = nullptr;           // the pending watch (a poll) of an idle socket
  bool watch_cancelled = false;
  bool arrived = false;          // the watch saw bytes, an end or an error
  Op* writes = nullptr;          // writes not yet done, oldest first; the first is in the kernel's hands
  Op* last_write = nullptr;
  std::size_t queued_bytes = 0;  // in `writes`
  error_code write_error;        // the first write that failed
  bool closed = false;
  bool forgotten = false;
};

struct Ring::Op {
  enum class Kind : std::uint8_t { kRead, kWrite, kWatch };
  Kind kind = Kind::kRead;
  Channel* ch = nullptr;
  void* context = nullptr;
  std::size_t size = 0;  // a read's buffer
  ReadDone read_done = nullptr;
  WriteDone write_done = nullptr;
  std::vector<std::uint8_t> bytes;  // a write's copy
  Op* next = nullptr;               // the channel's next write
};

Ring::Ring(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<Ring> Ring::open(std::string& why) {
  auto impl = std::make_unique<Impl>();
  io_uring_params params{};
  // Completions are processed only when this thread asks for them in io_uring_enter(): the kernel
  // never interrupts the thread to deliver them, and a batch is one call.
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  const int r = io_uring_queue_init_params(kEntries, &impl->ring, &params);
  if (r < 0) {
    why = std::string("io_uring_setup: ") + std::strerror(-r);
    if (r == -EPERM) {
      why += " (Docker's and containerd's default seccomp profiles forbid io_uring, as does the sysctl "
             "kernel.io_uring_disabled)";
    } else if (r == -EINVAL || r == -ENOSYS) {
      why += " (io_uring with IORING_SETUP_DEFER_TASKRUN needs Linux 6.1 or later)";
    }
    return nullptr;
  }
  if ((params.features & IORING_FEAT_NODROP) == 0) {
    io_uring_queue_exit(&impl->ring);
    why = "io_uring without IORING_FEAT_NODROP (a kernel before 5.5)";
    return nullptr;
  }
  return std::unique_ptr<Ring>(new Ring(std::move(impl)));
}

Ring* Ring::current() { return current_ring; }

Ring::~Ring() {
  io_uring_queue_exit(&impl_->ring);
  for (Op* op : free_ops_) delete op;
  for (Channel* ch : free_channels_) delete ch;
}

// ---- channels ------------------------------------------------------------------------------

Ring::Channel* Ring::attach(int fd) {
  Channel* ch = nullptr;
  if (free_channels_.empty()) {
    ch = new Channel;
  } else {
    ch = free_channels_.back();
    free_channels_.pop_back();
    *ch = Channel{};
  }
  ch->fd = fd;
  return ch;
}

void Ring::close(Channel* ch) {
  if (ch->closed) return;
  ch->closed = true;
  if (ch->read != nullptr) cancel_read(ch);  // its callback says operation_aborted (on_read)
  end_watch(ch);
  // Writes not yet in the kernel's hands are dropped, as a write pending on a socket closed under
  // it: their callbacks say operation_aborted.
  if (ch->writes != nullptr) {
    Op* rest = ch->writes->next;
    ch->writes->next = nullptr;
    ch->last_write = ch->writes;
    while (rest != nullptr) {
      Op* op = rest;
      rest = op->next;
      ch->queued_bytes -= op->bytes.size();
      if (op->write_done != nullptr && !ch->forgotten) {
        impl_->owed.push_back({.write = op->write_done, .context = op->context, .ec = asio::error::operation_aborted});
      }
      free_op(op);
    }
  }
  // Entries still queued may name this descriptor: the kernel takes them before it is closed.
  if (!impl_->stopped && io_uring_sq_ready(&impl_->ring) > 0) submit_now();
}

void Ring::forget(Channel* ch) {
  ch->forgotten = true;
  if (!impl_->stopped) {
    if (ch->read != nullptr && !ch->read_cancelled) cancel_read(ch);
    end_watch(ch);
  }
  release_if_done(ch);
}

void Ring::release_if_done(Channel* ch) {
  if (!ch->forgotten || ch->read != nullptr || ch->writes != nullptr || ch->watch != nullptr) return;
  free_channels_.push_back(ch);
}

Ring::Op* Ring::new_op(Channel* ch) {
  Op* op = nullptr;
  if (free_ops_.empty()) {
    op = new Op;
  } else {
    op = free_ops_.back();
    free_ops_.pop_back();
  }
  op->ch = ch;
  return op;
}

void Ring::free_op(Op* op) {
  op->ch = nullptr;
  op->kind = Op::Kind::kRead;
  op->size = 0;
  op->context = nullptr;
  op->read_done = nullptr;
  op->write_done = nullptr;
  op->next = nullptr;
  // Keep a small copy buffer for the next write; give a large one back.
  if (op->bytes.capacity() > 64 * 1024) std::vector<std::uint8_t>().swap(op->bytes);
  op->bytes.clear();
  free_ops_.push_back(op);
}

namespace {

io_uring_sqe* next_sqe(io_uring& ring) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  if (sqe == nullptr) {  // the submission queue is full: the kernel takes it now
    io_uring_submit(&ring);
    sqe = io_uring_get_sqe(&ring);
  }
  return sqe;
}

}  // namespace

void Ring::submit_now() { io_uring_submit(&impl_->ring); }

// ---- reads ---------------------------------------------------------------------------------

void Ring::read(Channel* ch, asio::mutable_buffer buffer, void* context, ReadDone done) {
  if (ch->closed || buffer.size() == 0) {
    // As Asio: a read on a closed socket fails, an empty one completes; later, not inside this call.
    impl_->owed.push_back({.read = done, .context = context,
                           .ec = ch->closed ? error_code(asio::error::bad_descriptor) : error_code()});
    return;
  }
  end_watch(ch);  // (the read sees what arrives now)
  Op* op = new_op(ch);
  op->kind = Op::Kind::kRead;
  op->context = context;
  op->size = buffer.size();
  op->read_done = done;
  ch->read = op;
  ch->read_cancelled = false;
  io_uring_sqe* sqe = next_sqe(impl_->ring);
  io_uring_prep_recv(sqe, ch->fd, buffer.data(), buffer.size(), 0);
  io_uring_sqe_set_data(sqe, op);
  ++in_kernel_;
}

bool Ring::reading(const Channel* ch) const { return ch->read != nullptr; }

void Ring::cancel_read(Channel* ch) {
  if (ch->read == nullptr || ch->read_cancelled) return;
  ch->read_cancelled = true;
  io_uring_sqe* sqe = next_sqe(impl_->ring);
  io_uring_prep_cancel(sqe, ch->read, 0);
  io_uring_sqe_set_data64(sqe, kIgnore);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

void Ring::on_read(Op* op, int res) {
  Channel* ch = op->ch;
  ch->read = nullptr;
  error_code ec;
  std::size_t n = 0;
  if (ch->closed) {
    ec = asio::error::operation_aborted;  // as for a read pending on a socket closed under it
  } else if (res > 0) {
    n = static_cast<std::size_t>(res);
  } else if (res == 0) {
    ec = asio::error::eof;
  } else if (res == -ECANCELED) {
    ec = asio::error::operation_aborted;
  } else {
    ec = from_errno(-res);
  }
  ch->drained = !ec && n < op->size;  // (a stream socket's recv takes all it holds, up to the buffer)
  const ReadDone done = op->read_done;
  void* context = op->context;
  const bool call = !ch->forgotten;
  free_op(op);
  release_if_done(ch);
  if (call) done(context, ec, n);  // last: it may start the next read, close or forget the channel
}

// ---- watches of idle sockets -----------------------------------------------------------------

void Ring::watch(Channel* ch) {
  if (!ch->drained || ch->closed || ch->read != nullptr || ch->watch != nullptr) return;
  Op* op = new_op(ch);
  op->kind = Op::Kind::kWatch;
  ch->watch = op;
  ch->watch_cancelled = false;
  ch->arrived = false;
  io_uring_sqe* sqe = next_sqe(impl_->ring);
  io_uring_prep_poll_add(sqe, ch->fd, POLLIN | POLLRDHUP);  // (errors and hang-ups are always reported)
  io_uring_sqe_set_data(sqe, op);
  ++in_kernel_;
}

bool Ring::quiet(Channel* ch) {
  const bool quiet = ch->watch != nullptr && !ch->watch_cancelled && !ch->arrived;
  ch->arrived = false;
  end_watch(ch);
  return quiet;
}

void Ring::read_elsewhere(Channel* ch) { ch->drained = false; }

void Ring::end_watch(Channel* ch) {
  if (ch->watch == nullptr || ch->watch_cancelled) return;
  ch->watch_cancelled = true;
  io_uring_sqe* sqe = next_sqe(impl_->ring);
  io_uring_prep_cancel(sqe, ch->watch, 0);
  io_uring_sqe_set_data64(sqe, kIgnore);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

void Ring::on_watch(Op* op, int res) {
  Channel* ch = op->ch;
  ch->watch = nullptr;
  if (res != -ECANCELED) ch->arrived = true;  // bytes, an end, an error: quiet() says no
  free_op(op);
  release_if_done(ch);
}

// ---- writes --------------------------------------------------------------------------------

void Ring::queue_write(Channel* ch, Op* op, std::span<const asio::const_buffer> buffers) {
  std::size_t total = 0;
  for (const asio::const_buffer& b : buffers) total += b.size();
  op->bytes.resize(total);
  std::size_t at = 0;
  for (const asio::const_buffer& b : buffers) {
    if (b.size() == 0) continue;
    std::memcpy(op->bytes.data() + at, b.data(), b.size());
    at += b.size();
  }
  ch->queued_bytes += total;
  if (ch->writes == nullptr) {
    ch->writes = ch->last_write = op;
    start_write(ch);
  } else {
    ch->last_write->next = op;
    ch->last_write = op;
  }
}

void Ring::start_write(Channel* ch) {
  // One write at a time per socket: a send the kernel has to retry later (the socket's buffer was
  // full) could otherwise be overtaken by the next one. MSG_WAITALL: the kernel sends all of it.
  Op* op = ch->writes;
  io_uring_sqe* sqe = next_sqe(impl_->ring);
  io_uring_prep_send(sqe, ch->fd, op->bytes.data(), op->bytes.size(), MSG_WAITALL | MSG_NOSIGNAL);
  io_uring_sqe_set_data(sqe, op);
  ++in_kernel_;
}

bool Ring::write(Channel* ch, std::span<const asio::const_buffer> buffers) {
  if (ch->closed) {
    if (!ch->write_error) ch->write_error = asio::error::bad_descriptor;
    return true;
  }
  if (ch->write_error) return true;  // (dropped: the connection has failed, write_error() says so)
  std::size_t total = 0;
  for (const asio::const_buffer& b : buffers) total += b.size();
  if (total == 0) return true;
  if (ch->queued_bytes > 0 && ch->queued_bytes + total > kMaxQueuedBytes) return false;
  Op* op = new_op(ch);
  op->kind = Op::Kind::kWrite;
  queue_write(ch, op, buffers);
  return true;
}

void Ring::write_then(Channel* ch, std::span<const asio::const_buffer> buffers, void* context, WriteDone done) {
  if (ch->closed || ch->write_error) {
    impl_->owed.push_back({.write = done, .context = context,
                           .ec = ch->closed ? error_code(asio::error::bad_descriptor) : ch->write_error});
    return;
  }
  Op* op = new_op(ch);
  op->kind = Op::Kind::kWrite;
  op->context = context;
  op->write_done = done;
  queue_write(ch, op, buffers);
}

error_code Ring::write_error(const Channel* ch) const { return ch->write_error; }

void Ring::on_write(Op* op, int res) {
  Channel* ch = op->ch;
  ch->writes = op->next;
  if (ch->writes == nullptr) ch->last_write = nullptr;
  ch->queued_bytes -= op->bytes.size();
  error_code ec;
  if (res < 0) {
    ec = from_errno(-res);
  } else if (static_cast<std::size_t>(res) < op->bytes.size()) {
    ec = asio::error::broken_pipe;  // (MSG_WAITALL ends short only when the connection failed)
  }
  if (ec && !ch->write_error) {
    ch->write_error = ec;
    // The pending read on this socket (a relay always has one) ends, and its owner sees the side gone.
    if (!ch->closed) ::shutdown(ch->fd, SHUT_RDWR);
  }
  // Writes queued behind it: the next goes to the kernel, or all fail with the first error.
  while (ch->writes != nullptr && ch->write_error) {
    Op* failed = ch->writes;
    ch->writes = failed->next;
    if (ch->writes == nullptr) ch->last_write = nullptr;
    ch->queued_bytes -= failed->bytes.size();
    if (failed->write_done != nullptr && !ch->forgotten) {
      impl_->owed.push_back({.write = failed->write_done, .context = failed->context, .ec = ch->write_error});
    }
    free_op(failed);
  }
  if (ch->writes != nullptr && !ch->closed) start_write(ch);
  const WriteDone done = op->write_done;
  void* context = op->context;
  const bool call = done != nullptr && !ch->forgotten;
  free_op(op);
  release_if_done(ch);
  if (call) done(context, ec);  // last, as in on_read
}

// ---- the loop ------------------------------------------------------------------------------

void Ring::complete(std::uint64_t user_data, int res) {
  if (user_data == kAsioPoll) {
    asio_poll_armed_ = false;
    asio_due_ = true;
    return;
  }
  if (user_data == kIgnore) return;
  --in_kernel_;
  Op* op = reinterpret_cast<Op*>(user_data);
  if (impl_->stopped) {  // shutting down: no callbacks, the owners are going away
    Channel* ch = op->ch;
    if (ch->read == op) ch->read = nullptr;
    if (ch->watch == op) ch->watch = nullptr;
    if (ch->writes == op) {
      ch->writes = op->next;
      if (ch->writes == nullptr) ch->last_write = nullptr;
    }
    free_op(op);
    return;
  }
  switch (op->kind) {
    case Op::Kind::kRead: return on_read(op, res);
    case Op::Kind::kWrite: return on_write(op, res);
    case Op::Kind::kWatch: return on_watch(op, res);
  }
}

std::size_t Ring::reap() {
  std::size_t handled = 0;
  for (;;) {
    // Copied out and marked seen before any callback runs: a callback may submit (close()), and
    // the kernel may then post more completions.
    struct Done {
      std::uint64_t user_data;
      int res;
    } batch[64];
    unsigned count = 0;
    unsigned head;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&impl_->ring, head, cqe) {
      batch[count++] = {cqe->user_data, cqe->res};
      if (count == 64) break;
    }
    io_uring_cq_advance(&impl_->ring, count);
    for (unsigned i = 0; i < count; ++i) complete(batch[i].user_data, batch[i].res);
    handled += count;
    if (!impl_->owed.empty()) {
      std::vector<Impl::Owed> owed;
      owed.swap(impl_->owed);
      for (const Impl::Owed& o : owed) {
        if (impl_->stopped) break;
        if (o.read != nullptr) o.read(o.context, o.ec, 0);
        else o.write(o.context, o.ec);
      }
      continue;
    }
    if (count < 64) return handled;
  }
}

void Ring::arm_asio_poll() {
  io_uring_sqe* sqe = next_sqe(impl_->ring);
  io_uring_prep_poll_add(sqe, asio_epoll_fd_, POLLIN);
  io_uring_sqe_set_data64(sqe, kAsioPoll);
  asio_poll_armed_ = true;
}

void Ring::run(asio::io_context& io) {
  current_ring = this;
  impl_->stopped = false;
  asio_epoll_fd_ = epoll_descriptor(asio::use_service<asio::detail::epoll_reactor>(io));
  asio::detail::scheduler& scheduler = asio::use_service<asio::detail::scheduler>(io);
  asio_due_ = true;
  for (;;) {
    // Asio's ready handlers, and its epoll descriptor read without waiting (timers, accepts,
    // logins, parked clients, functions from other threads): when the descriptor turned readable
    // or something was posted, not on every batch (an epoll_wait each time).
    if (asio_due_ || handlers_ready(scheduler)) {
      asio_due_ = false;
      io.poll();
    }
    if (io.stopped()) break;
    if (!asio_poll_armed_) arm_asio_poll();
    // (Callbacks owed without a completion: no waiting, they run right after this submission.)
    const int r = io_uring_submit_and_wait(&impl_->ring, impl_->owed.empty() ? 1 : 0);
    if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY && r != -ETIME) {
      current_ring = nullptr;
      throw std::system_error(-r, std::system_category(), "io_uring_enter");
    }
    reap();
  }
  // Stopped: what is still in the kernel's hands is cancelled, and the kernel's answers are
  // awaited (at most a second), so that no operation still writes into memory its owner frees.
  impl_->stopped = true;
  impl_->owed.clear();
  io_uring_sqe* sqe = next_sqe(impl_->ring);
  io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
  io_uring_sqe_set_data64(sqe, kIgnore);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while ((in_kernel_ > 0 || asio_poll_armed_) && std::chrono::steady_clock::now() < deadline) {
    __kernel_timespec wait{.tv_sec = 0, .tv_nsec = 100'000'000};
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(&impl_->ring, &cqe, 1, &wait, nullptr);
    reap();
  }
  current_ring = nullptr;
}

}  // namespace baton::proxy
