// bench/io_probe.cpp: what the I/O mechanism alone costs a relay per transaction, epoll or io_uring.
//
//   io_probe epoll|uring LISTEN_PORT UPSTREAM_PORT
//   io_probe syscall
//
// A one-to-one TCP relay on 127.0.0.1: every client connection gets a connection of its own to
// 127.0.0.1:UPSTREAM_PORT and bytes go both ways unchanged, with no parsing and no pooling. Two
// ways to move them, one process each:
//   epoll  sockets registered edge-triggered; on readiness, recv() until a short read and send()
//          each piece to the peer (as baton's and PgBouncer's relays do: 4 system calls per
//          request and answer, plus a share of epoll_wait);
//   uring  one io_uring ring: a receive stays posted on every socket, and each received piece
//          goes out as a send linked to the next receive on the same socket; the thread submits
//          what it queued and reaps what completed in one io_uring_enter() per batch.
// `io_probe syscall` prints what one system call that does nothing (getppid) costs here, the
// median of five loops of a million: the price of every recv, send and epoll_wait on top of its work.
// bench/io_probe.sh runs both in front of PostgreSQL and compares their CPU per transaction with
// bench/cpu_compare.sh. This is a measuring tool, not a proxy: a send that cannot go at once
// blocks in epoll mode (pgbench's messages are small), and errors just close both sides.
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {

struct Side {
  int fd = -1;
  Side* peer = nullptr;
  bool closed = false;
  char buf[16384];
};

void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

void no_delay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

int listen_on(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const sockaddr_in a = loopback(port);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) < 0) die("bind");
  if (listen(fd, 1024) < 0) die("listen");
  return fd;
}

// A pair of sides for an accepted client, or null when the upstream refused.
Side* pair_with_upstream(int client, int upstream_port) {
  const int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_in a = loopback(upstream_port);
  if (connect(server, reinterpret_cast<const sockaddr*>(&a), sizeof a) < 0) {
    close(server);
    close(client);
    return nullptr;
  }
  no_delay(client);
  no_delay(server);
  auto* c = new Side;
  auto* s = new Side;
  c->fd = client;
  s->fd = server;
  c->peer = s;
  s->peer = c;
  return c;
}

void close_pair(Side* side) {
  if (side->closed) return;
  side->closed = side->peer->closed = true;
  shutdown(side->fd, SHUT_RDWR);
  shutdown(side->peer->fd, SHUT_RDWR);
}

// ---- epoll: readiness, then recv and send --------------------------------------------------

bool send_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      poll(&p, 1, -1);
    } else if (n < 0 && errno != EINTR) {
      return false;
    }
  }
  return true;
}

void pump_epoll(Side* side) {
  while (!side->closed) {
    const ssize_t n = recv(side->fd, side->buf, sizeof side->buf, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0 || !send_all(side->peer->fd, side->buf, static_cast<std::size_t>(n))) {
      close_pair(side);
      return;
    }
    if (static_cast<std::size_t>(n) < sizeof side->buf) return;  // a short read emptied the socket
  }
}

[[noreturn]] void run_epoll(int listener, int upstream_port) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the listener
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  epoll_event events[256];
  for (;;) {
    const int k = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < k; ++i) {
      auto* side = static_cast<Side*>(events[i].data.ptr);
      if (side != nullptr) {
        pump_epoll(side);
        continue;
      }
      const int client = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (client < 0) continue;
      Side* c = pair_with_upstream(client, upstream_port);
      if (c == nullptr) continue;
      for (Side* s : {c, c->peer}) {
        const int flags = fcntl(s->fd, F_GETFL);
        fcntl(s->fd, F_SETFL, flags | O_NONBLOCK);
        epoll_event e{};
        e.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
        e.data.ptr = s;
        epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &e);
      }
    }
  }
}

// ---- io_uring: posted receives, linked sends, one enter per batch ----------------------------

enum Kind : std::uint64_t { kAccept = 1, kRecv = 2, kSend = 3 };
std::uint64_t tag(Side* side, Kind kind) { return reinterpret_cast<std::uint64_t>(side) | kind; }

io_uring_sqe* next_sqe(io_uring& ring) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  if (sqe == nullptr) {  // the submission queue is full: hand it to the kernel now
    io_uring_submit(&ring);
    sqe = io_uring_get_sqe(&ring);
  }
  return sqe;
}

void post_recv(io_uring& ring, Side* side) {
  io_uring_sqe* sqe = next_sqe(ring);
  io_uring_prep_recv(sqe, side->fd, side->buf, sizeof side->buf, 0);
  io_uring_sqe_set_data64(sqe, tag(side, kRecv));
}

void post_accept(io_uring& ring, int listener) {
  io_uring_sqe* sqe = next_sqe(ring);
  io_uring_prep_multishot_accept(sqe, listener, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, kAccept);
}

[[noreturn]] void run_uring(int listener, int upstream_port) {
  io_uring ring;
  io_uring_params params{};
  // Completions are processed only when this thread enters the kernel for them (no interrupts
  // of the running thread): the batch is the unit of work.
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  if (const int r = io_uring_queue_init_params(1024, &ring, &params); r < 0) {
    std::fprintf(stderr, "io_probe: io_uring_queue_init: %s\n", std::strerror(-r));
    std::exit(1);
  }
  post_accept(ring, listener);
  for (;;) {
    io_uring_submit_and_wait(&ring, 1);
    io_uring_cqe* cqe;
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      const std::uint64_t data = cqe->user_data;
      const int res = cqe->res;
      if (data == kAccept) {
        if (res >= 0) {
          if (Side* c = pair_with_upstream(res, upstream_port)) {
            post_recv(ring, c);
            post_recv(ring, c->peer);
          }
        }
        if ((cqe->flags & IORING_CQE_F_MORE) == 0) post_accept(ring, listener);
        continue;
      }
      auto* side = reinterpret_cast<Side*>(data & ~std::uint64_t{7});
      if ((data & 7) == kSend) {  // only failed sends complete (CQE_SKIP_SUCCESS); their linked receive is cancelled
        close_pair(side);
        continue;
      }
      if (res <= 0) {  // end of stream, an error, or a receive cancelled after a failed send
        close_pair(side);
        continue;
      }
      // All of it to the peer (MSG_WAITALL: the kernel retries a short send), then the next
      // receive into the same buffer, which the link starts only once the send is done.
      io_uring_sqe* sqe = next_sqe(ring);
      io_uring_prep_send(sqe, side->peer->fd, side->buf, static_cast<std::size_t>(res), MSG_WAITALL | MSG_NOSIGNAL);
      io_uring_sqe_set_data64(sqe, tag(side, kSend));
      sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
      post_recv(ring, side);
    }
    io_uring_cq_advance(&ring, seen);
  }
}

void syscall_cost() {
  constexpr int kCalls = 1'000'000;
  double ns[5];
  for (double& x : ns) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kCalls; ++i) syscall(SYS_getppid);
    x = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / kCalls;
  }
  std::sort(std::begin(ns), std::end(ns));
  std::printf("a system call that does nothing: %.0f ns (median of 5 loops of %d; fastest %.0f, slowest %.0f)\n", ns[2],
              kCalls, ns[0], ns[4]);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "syscall") {
    syscall_cost();
    return 0;
  }
  if (argc != 4 || (std::string_view(argv[1]) != "epoll" && std::string_view(argv[1]) != "uring")) {
    std::fprintf(stderr, "usage: io_probe epoll|uring LISTEN_PORT UPSTREAM_PORT | io_probe syscall\n");
    return 2;
  }
  const int listener = listen_on(std::atoi(argv[2]));
  const int upstream_port = std::atoi(argv[3]);
  if (std::string_view(argv[1]) == "epoll") run_epoll(listener, upstream_port);
  run_uring(listener, upstream_port);
}
