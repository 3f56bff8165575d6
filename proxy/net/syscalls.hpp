// recv/send/sendmsg for the relay's hot path, as plain system calls.
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

#include <cstddef>

namespace baton::proxy::sys {

inline ssize_t recv(int fd, void* data, std::size_t size, int flags) {
  return ::syscall(SYS_recvfrom, fd, data, size, flags, nullptr, nullptr);
}

inline ssize_t send(int fd, const void* data, std::size_t size, int flags) {
  return ::syscall(SYS_sendto, fd, data, size, flags, nullptr, 0);
}

inline ssize_t sendmsg(int fd, const msghdr* message, int flags) { return ::syscall(SYS_sendmsg, fd, message, flags); }

}  // namespace baton::proxy::sys
