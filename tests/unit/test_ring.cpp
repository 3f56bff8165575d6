// proxy/net/ring: reads, writes, cancellation and closing on a real io_uring ring, over loopback
// TCP connections, with Asio's handlers and timers running around it (Ring::run).
#include <array>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include "proxy/net/ring.hpp"

using baton::proxy::error_code;
using baton::proxy::Ring;
using baton::proxy::tcp;
namespace asio = baton::proxy::asio;

namespace {

// Two ends of a loopback TCP connection on one io_context, and a ring for this thread.
struct Harness {
  asio::io_context io{1};
  std::unique_ptr<Ring> ring;
  tcp::socket a{io};
  tcp::socket b{io};

  Harness() {
    std::string why;
    ring = Ring::open(why);
    INFO("io_uring: " << why);
    REQUIRE(ring != nullptr);
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    a.connect(acceptor.local_endpoint());
    acceptor.accept(b);
    a.set_option(tcp::no_delay(true));
    b.set_option(tcp::no_delay(true));
  }

  // Runs the ring until something calls io.stop(); fails when that takes longer than `limit`.
  void run(std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    asio::steady_timer guard(io, limit);
    bool timed_out = false;
    guard.async_wait([&](error_code ec) {
      if (!ec) {
        timed_out = true;
        io.stop();
      }
    });
    ring->run(io);
    io.restart();
    REQUIRE_FALSE(timed_out);
  }
};

// What a read callback saw.
struct Got {
  int calls = 0;
  error_code ec;
  std::size_t n = 0;
  asio::io_context* io = nullptr;
  bool stop = true;  // io.stop() when it comes
};

void got(void* context, error_code ec, std::size_t n) {
  auto* g = static_cast<Got*>(context);
  ++g->calls;
  g->ec = ec;
  g->n = n;
  if (g->stop) g->io->stop();
}

}  // namespace

TEST_CASE("ring: a read posted before the bytes arrive completes with them", "[ring]") {
  Harness h;
  Ring::Channel* ch = h.ring->attach(h.a.native_handle());
  std::array<char, 64> buffer{};
  Got g{.io = &h.io};
  asio::post(h.io, [&] {
    h.ring->read(ch, asio::buffer(buffer), &g, got);
    CHECK(g.calls == 0);  // never inside the call
    // Later, from Asio's side: bytes arrive on the other end's socket.
    asio::steady_timer* later = new asio::steady_timer(h.io, std::chrono::milliseconds(20));
    later->async_wait([&, later](error_code) {
      delete later;
      asio::write(h.b, asio::buffer(std::string("hello")));
    });
  });
  h.run();
  CHECK(g.calls == 1);
  CHECK_FALSE(g.ec);
  REQUIRE(g.n == 5);
  CHECK(std::string(buffer.data(), 5) == "hello");
  CHECK(h.ring->pending() == 0);
  h.ring->close(ch);
  h.ring->forget(ch);
}

TEST_CASE("ring: writes arrive whole and in order, from copies", "[ring]") {
  Harness h;
  Ring::Channel* ch = h.ring->attach(h.a.native_handle());
  std::vector<std::string> pieces;
  // (About 120 KB in all, under Ring::kMaxQueuedBytes: all of it is queued before the first submission.)
  for (int i = 0; i < 40; ++i) pieces.push_back(std::string(static_cast<std::size_t>(1000 + i * 97), static_cast<char>('a' + i % 26)));
  std::string expected;
  for (const std::string& p : pieces) expected += p;
  std::string received;
  asio::post(h.io, [&] {
    for (std::string& p : pieces) {
      std::vector<asio::const_buffer> two{asio::buffer(p.data(), p.size() / 2),
                                          asio::buffer(p.data() + p.size() / 2, p.size() - p.size() / 2)};
      REQUIRE(h.ring->write(ch, two));
      p.assign(p.size(), '#');  // the ring sends its copy, not this
    }
    CHECK_FALSE(h.ring->write_error(ch));
  });
  // The reader: Asio's own reads on the other end, until everything is there.
  std::array<char, 8192> chunk;
  std::function<void()> read_more = [&] {
    h.b.async_read_some(asio::buffer(chunk), [&](error_code ec, std::size_t n) {
      REQUIRE_FALSE(ec);
      received.append(chunk.data(), n);
      if (received.size() < expected.size()) read_more();
      else h.io.stop();
    });
  };
  read_more();
  h.run();
  REQUIRE(received.size() == expected.size());
  CHECK(received == expected);
  CHECK_FALSE(h.ring->write_error(ch));
  h.ring->close(ch);
  h.ring->forget(ch);
}

TEST_CASE("ring: write_then calls back once its bytes are sent; write() refuses past the queue's bound", "[ring]") {
  Harness h;
  Ring::Channel* ch = h.ring->attach(h.a.native_handle());
  // 8 MiB that nobody reads yet: the send cannot finish, so its bytes stay queued.
  std::string big(8u << 20, 'x');
  struct Sent {
    int calls = 0;
    error_code ec;
  } sent;
  bool refused = false;
  std::size_t received = 0;
  std::array<char, 65536> chunk;
  std::function<void()> drain = [&] {
    h.b.async_read_some(asio::buffer(chunk), [&](error_code ec, std::size_t n) {
      REQUIRE_FALSE(ec);
      received += n;
      if (received < big.size()) drain();
    });
  };
  asio::post(h.io, [&] {
    std::array<asio::const_buffer, 1> one{asio::buffer(big)};
    h.ring->write_then(ch, one, &sent, [](void* context, error_code ec) {
      auto* s = static_cast<Sent*>(context);
      ++s->calls;
      s->ec = ec;
    });
    std::array<asio::const_buffer, 1> more{asio::buffer(big.data(), 1000)};
    refused = !h.ring->write(ch, more);
    drain();  // now the reader takes it all, and the write completes
  });
  // Stop once the write's callback has come and every byte has been read.
  asio::steady_timer poll(h.io);
  std::function<void()> check = [&] {
    poll.expires_after(std::chrono::milliseconds(5));
    poll.async_wait([&](error_code) {
      if (sent.calls == 1 && received == big.size()) h.io.stop();
      else check();
    });
  };
  check();
  h.run();
  CHECK(refused);
  CHECK(sent.calls == 1);
  CHECK_FALSE(sent.ec);
  CHECK(received == big.size());
  h.ring->close(ch);
  h.ring->forget(ch);
}

TEST_CASE("ring: a cancelled read and a read on a closed channel complete with operation_aborted", "[ring]") {
  Harness h;
  Ring::Channel* ch = h.ring->attach(h.a.native_handle());
  std::array<char, 16> buffer{};
  Got cancelled{.io = &h.io};
  asio::post(h.io, [&] {
    h.ring->read(ch, asio::buffer(buffer), &cancelled, got);
    CHECK(h.ring->reading(ch));
    h.ring->cancel_read(ch);
  });
  h.run();
  CHECK(cancelled.calls == 1);
  CHECK(cancelled.ec == asio::error::operation_aborted);
  CHECK(cancelled.n == 0);
  CHECK_FALSE(h.ring->reading(ch));

  // close() with a read pending: aborted, even though the peer's bytes are already there.
  Got closed{.io = &h.io};
  asio::post(h.io, [&] {
    h.ring->read(ch, asio::buffer(buffer), &closed, got);
    h.ring->close(ch);
    h.a.close();
  });
  h.run();
  CHECK(closed.calls == 1);
  CHECK(closed.ec == asio::error::operation_aborted);

  // A read on the closed channel: refused, and called back later, not inside the call.
  Got refused{.io = &h.io};
  asio::post(h.io, [&] {
    h.ring->read(ch, asio::buffer(buffer), &refused, got);
    CHECK(refused.calls == 0);
  });
  h.run();
  CHECK(refused.calls == 1);
  CHECK(refused.ec == asio::error::bad_descriptor);
  h.ring->forget(ch);
  CHECK(h.ring->pending() == 0);
}

TEST_CASE("ring: the peer's end of stream ends the read; a write to a reset connection fails", "[ring]") {
  Harness h;
  Ring::Channel* ch = h.ring->attach(h.a.native_handle());
  std::array<char, 16> buffer{};
  Got eof{.io = &h.io};
  asio::post(h.io, [&] {
    h.ring->read(ch, asio::buffer(buffer), &eof, got);
    h.b.shutdown(tcp::socket::shutdown_send);
  });
  h.run();
  CHECK(eof.calls == 1);
  CHECK(eof.ec == asio::error::eof);

  // The peer goes away with an abortive close (RST): writes then fail, and the first error stays.
  h.b.set_option(asio::socket_base::linger(true, 0));
  h.b.close();
  std::string block(64 * 1024, 'z');
  int attempts = 0;
  asio::steady_timer pace(h.io);
  std::function<void()> write_until_error = [&] {
    std::array<asio::const_buffer, 1> one{asio::buffer(block)};
    h.ring->write(ch, one);
    ++attempts;
    if (h.ring->write_error(ch) || attempts > 200) {
      h.io.stop();
      return;
    }
    pace.expires_after(std::chrono::milliseconds(5));
    pace.async_wait([&](error_code) { write_until_error(); });
  };
  asio::post(h.io, [&] { write_until_error(); });
  h.run();
  const error_code e = h.ring->write_error(ch);
  INFO("after " << attempts << " writes: " << e.message());
  CHECK((e == asio::error::connection_reset || e == asio::error::broken_pipe));
  h.ring->close(ch);
  h.ring->forget(ch);
}

TEST_CASE("ring: a forgotten channel's read calls nothing back; run() ends when its io_context stops", "[ring]") {
  Harness h;
  Ring::Channel* ch = h.ring->attach(h.a.native_handle());
  std::array<char, 16> buffer{};
  Got never{.io = &h.io};
  int handlers = 0;
  asio::post(h.io, [&] {
    h.ring->read(ch, asio::buffer(buffer), &never, got);
    h.ring->forget(ch);
    // Asio's side still runs around the ring: a posted handler and a timer.
    asio::post(h.io, [&] { ++handlers; });
    auto* timer = new asio::steady_timer(h.io, std::chrono::milliseconds(30));
    timer->async_wait([&, timer](error_code ec) {
      delete timer;
      if (!ec) ++handlers;
      h.io.stop();
    });
  });
  h.run();
  CHECK(handlers == 2);
  CHECK(never.calls == 0);
  CHECK(h.ring->pending() == 0);  // the cancelled read came back from the kernel

  // A read left pending when the io_context stops: run() cancels it and waits for the kernel.
  Ring::Channel* other = h.ring->attach(h.b.native_handle());
  Got left{.io = &h.io, .stop = false};
  asio::post(h.io, [&] {
    h.ring->read(other, asio::buffer(buffer), &left, got);
    asio::post(h.io, [&] { h.io.stop(); });
  });
  h.run();
  CHECK(left.calls == 0);
  CHECK(h.ring->pending() == 0);
  h.ring->close(other);
  h.ring->forget(other);
}

TEST_CASE("ring: an idle socket's watch says whether anything arrived since its last read emptied it", "[ring]") {
  Harness h;
  Ring::Channel* ch = h.ring->attach(h.a.native_handle());
  std::array<char, 64> buffer{};
  // The steps run inside one run() (its end cancels every pending operation, watches included),
  // 30 ms apart: each may start something the next one looks at.
  std::vector<std::function<void()>> steps;
  std::size_t next = 0;
  asio::steady_timer pace(h.io);
  std::function<void()> go = [&] {
    if (next == steps.size()) return h.io.stop();
    steps[next++]();
    pace.expires_after(std::chrono::milliseconds(30));
    pace.async_wait([&](error_code) { go(); });
  };
  Got g{.io = &h.io, .stop = false};
  bool unread_quiet = true, first_quiet = false, after_byte_quiet = true, after_close_quiet = true;
  steps = {
      // No read yet: nothing says the socket is empty, so no watch is set and quiet() is false.
      [&] {
        h.ring->watch(ch);
        unread_quiet = h.ring->quiet(ch);
        asio::write(h.b, asio::buffer(std::string("abc")));
        h.ring->read(ch, asio::buffer(buffer), &g, got);
      },
      // The read took fewer bytes than its buffer holds: the socket was emptied. Watched, quiet.
      [&] { h.ring->watch(ch); },
      [&] { first_quiet = h.ring->quiet(ch); },
      // Watched again, and a byte arrives: not quiet.
      [&] { h.ring->watch(ch); },
      [&] { asio::write(h.b, asio::buffer(std::string("d"))); },
      [&] {
        after_byte_quiet = h.ring->quiet(ch);
        h.ring->read(ch, asio::buffer(buffer), &g, got);
      },
      // The peer closes while the socket is watched: not quiet either.
      [&] { h.ring->watch(ch); },
      [&] { h.b.close(); },
      [&] { after_close_quiet = h.ring->quiet(ch); },
      [] {},  // (the cancelled watch comes back)
  };
  asio::post(h.io, [&] { go(); });
  h.run();
  CHECK_FALSE(unread_quiet);
  CHECK(g.calls == 2);
  CHECK(g.n == 1);
  CHECK(first_quiet);
  CHECK_FALSE(after_byte_quiet);
  CHECK_FALSE(after_close_quiet);
  CHECK(h.ring->pending() == 0);
  h.ring->close(ch);
  h.ring->forget(ch);
}

TEST_CASE("ring: a socket read by other means is not known to be empty: no watch, not quiet", "[ring]") {
  Harness h;
  Ring::Channel* ch = h.ring->attach(h.a.native_handle());
  std::array<char, 64> buffer{};
  Got g{.io = &h.io};
  bool quiet_after_ring_read = false;
  bool quiet_after_other_read = true;
  asio::write(h.b, asio::buffer(std::string("xy")));
  asio::post(h.io, [&] { h.ring->read(ch, asio::buffer(buffer), &g, got); });
  h.run();
  REQUIRE(g.n == 2);
  asio::post(h.io, [&] {
    h.ring->watch(ch);
    quiet_after_ring_read = h.ring->quiet(ch);  // (set and not fired: quiet)
    h.ring->read_elsewhere(ch);
    h.ring->watch(ch);
    quiet_after_other_read = h.ring->quiet(ch);
    h.io.stop();
  });
  h.run();
  CHECK(quiet_after_ring_read);
  CHECK_FALSE(quiet_after_other_read);
  h.ring->close(ch);
  h.ring->forget(ch);
}
