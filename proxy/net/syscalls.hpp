// recv/send/sendmsg for the relay's hot path, as plain system calls; and the eventfd signal that wakes a worker.
//
// glibc's recv(), send() and sendmsg() are thread cancellation points: in a process with more than
// one thread each call switches asynchronous cancellation on and off around the system call (two
// atomic updates of the thread's cancel state, ~140 instructions per transaction by callgrind).
// baton never cancels a thread, so these call the kernel directly; results and errno are as for
// the libc functions.
#pragma once

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace baton::proxy::sys {

inline ssize_t recv(int fd, void* data, std::size_t size, int flags) {
  return ::syscall(SYS_recvfrom, fd, data, size, flags, nullptr, nullptr);
}

inline ssize_t send(int fd, const void* data, std::size_t size, int flags) {
  return ::syscall(SYS_sendto, fd, data, size, flags, nullptr, 0);
}

inline ssize_t sendmsg(int fd, const msghdr* message, int flags) { return ::syscall(SYS_sendmsg, fd, message, flags); }

// Adds one to an eventfd's counter, which makes it readable: how another thread wakes a worker's
// reactor (the worker's inbox, a host-name lookup that finished).
inline void signal_eventfd(int fd) {
  const std::uint64_t one = 1;
  while (::write(fd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

}  // namespace baton::proxy::sys
