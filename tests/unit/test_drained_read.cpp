// async_read_drained on loopback TCP sockets and a real io_context: after a read that emptied the
// socket, bytes that come later are still read (whether they arrive before the next read starts,
// or while it waits); full reads, end-of-file and both ways of cancelling.
#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <optional>
#include <string>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/write.hpp>

#include "proxy/net/drained_read.hpp"

namespace {

using namespace baton::proxy;
using namespace std::chrono_literals;

struct Pair {
  asio::io_context io{1};
  tcp::socket reader{io};
  tcp::socket writer{io};

  Pair() {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    writer.connect(acceptor.local_endpoint());
    acceptor.accept(reader);
  }

  void send(const std::string& bytes) { asio::write(writer, asio::buffer(bytes)); }
};

struct Result {
  std::optional<error_code> ec;
  std::size_t n = 0;
};

// Runs the io_context until the read completed, for at most two seconds.
void run_until(Pair& p, const Result& r) {
  const auto give_up = std::chrono::steady_clock::now() + 2s;
  p.io.restart();
  while (!r.ec && std::chrono::steady_clock::now() < give_up) p.io.run_one_for(20ms);
}

// Runs the io_context for `d` (a timer keeps it busy: readiness events are taken meanwhile).
void run_for(Pair& p, std::chrono::milliseconds d) {
  asio::steady_timer timer(p.io, d);
  bool fired = false;
  timer.async_wait([&fired](error_code) { fired = true; });
  p.io.restart();
  const auto give_up = std::chrono::steady_clock::now() + d + 2s;
  while (!fired && std::chrono::steady_clock::now() < give_up) p.io.run_one_for(20ms);
}

template <std::size_t N>
void start_read(Pair& p, std::array<char, N>& buffer, Result& r) {
  r = Result{};
  async_read_drained(drained_reactor(p.reader), p.reader, asio::buffer(buffer), [&r](error_code ec, std::size_t n) {
    r.ec = ec;
    r.n = n;
  });
}

// Runs the read started by start_read() to its end; it must succeed. Returns the bytes read.
template <std::size_t N>
std::string finish_read(Pair& p, const std::array<char, N>& buffer, const Result& r) {
  run_until(p, r);
  REQUIRE(r.ec == error_code());
  REQUIRE(r.n > 0);
  return std::string(buffer.data(), r.n);
}

}  // namespace

TEST_CASE("a short read leaves later bytes readable", "[drained-read]") {
  Pair p;
  std::array<char, 16> buffer{};
  Result r;

  p.send("abc");
  start_read(p, buffer, r);
  REQUIRE(finish_read(p, buffer, r) == "abc");

  SECTION("bytes sent while the next read waits") {
    start_read(p, buffer, r);
    run_for(p, 30ms);  // nothing there: the read waits
    REQUIRE_FALSE(r.ec.has_value());
    p.send("defg");
    CHECK(finish_read(p, buffer, r) == "defg");
  }

  SECTION("bytes sent, and their readiness seen by the reactor, before the next read starts") {
    p.send("hi");
    run_for(p, 30ms);  // the event arrives while no read is pending
    start_read(p, buffer, r);
    CHECK(finish_read(p, buffer, r) == "hi");
  }

  SECTION("bytes sent just before the next read starts") {
    p.send("xyz!");
    start_read(p, buffer, r);
    CHECK(finish_read(p, buffer, r) == "xyz!");
  }

  SECTION("end of file after a short read") {
    p.writer.close();
    start_read(p, buffer, r);
    run_until(p, r);
    REQUIRE(r.ec.has_value());
    CHECK(*r.ec == asio::error::eof);
    CHECK(r.n == 0);
  }
}

TEST_CASE("a read that fills its buffer leaves the rest for the next read", "[drained-read]") {
  Pair p;
  std::array<char, 4> buffer{};
  Result r;
  p.send("0123456789");
  std::string got;
  for (int i = 0; i < 3 && got.size() < 10; ++i) {
    start_read(p, buffer, r);
    got += finish_read(p, buffer, r);
  }
  CHECK(got == "0123456789");
}

TEST_CASE("a waiting read is cancelled through its slot or by socket.cancel()", "[drained-read]") {
  Pair p;
  std::array<char, 8> buffer{};
  Result r;

  SECTION("slot") {
    asio::cancellation_signal signal;
    async_read_drained(drained_reactor(p.reader), p.reader, asio::buffer(buffer),
                       asio::bind_cancellation_slot(signal.slot(), [&r](error_code ec, std::size_t n) {
                         r.ec = ec;
                         r.n = n;
                       }));
    run_for(p, 20ms);
    REQUIRE_FALSE(r.ec.has_value());
    signal.emit(asio::cancellation_type::terminal);
    run_until(p, r);
    REQUIRE(r.ec.has_value());
    CHECK(*r.ec == asio::error::operation_aborted);
  }

  SECTION("socket.cancel()") {
    start_read(p, buffer, r);
    run_for(p, 20ms);
    REQUIRE_FALSE(r.ec.has_value());
    p.reader.cancel();
    run_until(p, r);
    REQUIRE(r.ec.has_value());
    CHECK(*r.ec == asio::error::operation_aborted);
  }

  // The socket still reads after a cancelled read.
  p.send("ok");
  start_read(p, buffer, r);
  CHECK(finish_read(p, buffer, r) == "ok");
}

TEST_CASE("a read on a closed socket fails at once", "[drained-read]") {
  Pair p;
  std::array<char, 8> buffer{};
  Result r;
  p.reader.close();
  start_read(p, buffer, r);
  run_until(p, r);
  REQUIRE(r.ec.has_value());
  CHECK(*r.ec == asio::error::bad_descriptor);
}
TEST_CASE("drained_and_quiet: only after a read that emptied the socket, until anything arrives", "[drained-read]") {
  Pair p;
  std::array<char, 8> buffer{};
  Result r;

  CHECK_FALSE(drained_and_quiet(p.reader));  // nothing read yet: the reactor starts by trying at once

  p.send("abc");
  start_read(p, buffer, r);
  REQUIRE(finish_read(p, buffer, r) == "abc");
  CHECK(drained_and_quiet(p.reader));
  run_for(p, 20ms);  // nothing arrives: still quiet
  CHECK(drained_and_quiet(p.reader));

  SECTION("bytes arrive") {
    p.send("d");
    run_for(p, 30ms);
    CHECK_FALSE(drained_and_quiet(p.reader));
    // Reading them empties the socket again.
    start_read(p, buffer, r);
    CHECK(finish_read(p, buffer, r) == "d");
    CHECK(drained_and_quiet(p.reader));
  }

  SECTION("the peer closes") {
    p.writer.close();
    run_for(p, 30ms);
    CHECK_FALSE(drained_and_quiet(p.reader));
  }

  SECTION("a read that fills its buffer") {
    p.send("01234567");  // exactly the buffer's size: more may be queued
    start_read(p, buffer, r);
    REQUIRE(finish_read(p, buffer, r) == "01234567");
    CHECK_FALSE(drained_and_quiet(p.reader));
  }

  SECTION("a closed socket") {
    p.reader.close();
    CHECK_FALSE(drained_and_quiet(p.reader));
  }
}

TEST_CASE("drained_and_quiet: an event of the batch being handled counts before its socket's turn", "[drained-read]") {
  Pair p;
  std::array<char, 8> buffer{};
  Result r;
  p.send("abc");
  start_read(p, buffer, r);
  REQUIRE(finish_read(p, buffer, r) == "abc");
  REQUIRE(drained_and_quiet(p.reader));

  // A second connection on the same io_context, a read waiting on it, whose handler looks at the first.
  tcp::socket other_reader(p.io);
  tcp::socket other_writer(p.io);
  {
    tcp::acceptor acceptor(p.io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    other_writer.connect(acceptor.local_endpoint());
    acceptor.accept(other_reader);
  }
  std::array<char, 8> other_buffer{};
  std::optional<bool> quiet_then;
  async_read_drained(drained_reactor(other_reader), other_reader, asio::buffer(other_buffer),
                     [&](error_code, std::size_t) { quiet_then = drained_and_quiet(p.reader); });
  // Both sockets turn readable before the reactor looks, the other one first: one epoll batch,
  // the other's handler runs while the first socket's event still waits its turn in the queue.
  asio::write(other_writer, asio::buffer(std::string("x")));
  p.send("d");
  const auto give_up = std::chrono::steady_clock::now() + 2s;
  p.io.restart();
  while (!quiet_then && std::chrono::steady_clock::now() < give_up) p.io.run_one_for(20ms);
  REQUIRE(quiet_then.has_value());
  CHECK_FALSE(*quiet_then);
  run_for(p, 20ms);
  CHECK_FALSE(drained_and_quiet(p.reader));  // and after its turn, too
}
