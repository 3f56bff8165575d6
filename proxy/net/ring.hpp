// A worker's io_uring ring: the relay's reads and writes on plain sockets, handed to the kernel in
// one system call per batch instead of one call each.
//
// On this project's VM a system call costs 1.1 µs before it does anything (bench/io_probe.sh), and
// a relay on epoll makes four per request and answer (recv and send each way). With the ring, a
// read stays posted on the socket and the kernel fills it when bytes arrive; writes are copied
// into the ring's own memory and go out with the next submission. The worker's thread then enters
// the kernel once per batch: io_uring_enter() submits what the batch queued and waits for the next
// completions. Asio keeps everything else (timers, accepts, logins, TLS, parked clients): its
// epoll descriptor is polled through the ring, and the worker runs Asio's ready handlers after
// every batch (run()).
//
// Rules for a socket on the ring (a Channel):
// - at most one read at a time; its buffer and context stay valid until its callback runs, which
//   it always does: with the bytes, end of file, an error, or operation_aborted after
//   cancel_read() or close() (a cancelled read may still bring bytes that arrived first);
// - writes go out in order, one at a time, from copies: the caller's buffers are free as soon as
//   write() returns. A write that fails closes nothing itself: it shuts the socket down, so the
//   pending read (there always is one on a relay) ends, and write_error() says why;
// - close() before the descriptor is closed (queued work is submitted first, so no queued entry
//   names a descriptor number that may already belong to another socket); forget() when the owner
//   goes away (the channel lives until the kernel has finished with its last operation).
//
// One ring per worker thread, used from that thread only (IORING_SETUP_SINGLE_ISSUER).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "proxy/net/asio.hpp"

namespace baton::proxy {

class Ring {
 public:
  using ReadDone = void (*)(void* context, error_code ec, std::size_t n);
  using WriteDone = void (*)(void* context, error_code ec);
  struct Channel;

  // A ring for the calling thread, or null with the reason in `why` (a kernel without io_uring or
  // its DEFER_TASKRUN mode, before 6.1; a seccomp profile that forbids it, as container runtimes'
  // defaults do).
  static std::unique_ptr<Ring> open(std::string& why);
  // The ring whose run() is running on this thread, or null.
  static Ring* current();
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  Channel* attach(int fd);
  void close(Channel* ch);   // the descriptor is about to be closed (see above)
  void forget(Channel* ch);  // the owner is gone: no more callbacks; freed when its operations end

  void read(Channel* ch, asio::mutable_buffer buffer, void* context, ReadDone done);
  bool reading(const Channel* ch) const;
  void cancel_read(Channel* ch);

  // An idle socket watched for bytes or its end, as the epoll reactor watches every socket
  // (drained_read.hpp's drained_and_quiet() for sockets off the ring): watch() after a read that
  // emptied the socket (else it does nothing), quiet() before the socket is used again. quiet()
  // is true when the watch has seen nothing arrive, as of the last batch's completions; either way
  // the watch ends. No system call for either (a poll entry and its cancellation, submitted with
  // the batch).
  void watch(Channel* ch);
  bool quiet(Channel* ch);
  // The socket was read by other means (Asio, a direct recv): whether it is empty is not known.
  void read_elsewhere(Channel* ch);

  // Takes a copy of the bytes for sending: false (nothing taken) while the channel already holds
  // kMaxQueuedBytes or more not yet sent, for the caller to wait with write_then().
  bool write(Channel* ch, std::span<const asio::const_buffer> buffers);
  // Takes a copy and calls done(context, ec) once these bytes are sent or have failed.
  void write_then(Channel* ch, std::span<const asio::const_buffer> buffers, void* context, WriteDone done);
  error_code write_error(const Channel* ch) const;
  static constexpr std::size_t kMaxQueuedBytes = 256 * 1024;

  // Runs the worker: Asio's ready handlers, then one io_uring_enter() that submits the queued
  // entries and waits for a completion (of the ring's own operations, or Asio's epoll descriptor
  // turning readable), then their callbacks; until `io` is stopped. Then cancels what is still
  // pending and waits (at most a second) for the kernel to let go of it, without callbacks.
  void run(asio::io_context& io);

  // Operations in the kernel's hands (for tests).
  std::size_t pending() const { return in_kernel_; }

 private:
  struct Op;
  struct Impl;
  explicit Ring(std::unique_ptr<Impl> impl);
  Op* new_op(Channel* ch);
  void free_op(Op* op);
  void start_write(Channel* ch);
  void queue_write(Channel* ch, Op* op, std::span<const asio::const_buffer> buffers);
  void complete(std::uint64_t user_data, int res);
  void on_read(Op* op, int res);
  void on_write(Op* op, int res);
  void on_watch(Op* op, int res);
  void end_watch(Channel* ch);
  void release_if_done(Channel* ch);
  std::size_t reap();
  void submit_now();
  void arm_asio_poll();

  std::unique_ptr<Impl> impl_;
  std::vector<Op*> free_ops_;
  std::vector<Channel*> free_channels_;
  std::size_t in_kernel_ = 0;
  bool asio_poll_armed_ = false;
  bool asio_due_ = false;  // Asio's epoll descriptor turned readable since its last poll
  int asio_epoll_fd_ = -1;
};

}  // namespace baton::proxy
