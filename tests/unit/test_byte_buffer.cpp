// ByteBuffer: the read buffer of sessions and server connections (growth, compaction, recycling).
#include <catch2/catch.hpp>

#include <numeric>
#include <vector>

#include "proxy/net/byte_buffer.hpp"

using baton::proxy::ByteBuffer;

namespace {
void put(ByteBuffer& b, const std::vector<std::uint8_t>& bytes) {
  auto space = b.prepare(bytes.size());
  REQUIRE(space.size() >= bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  b.commit(bytes.size());
}
std::vector<std::uint8_t> seq(std::size_t n, std::uint8_t from) {
  std::vector<std::uint8_t> v(n);
  std::iota(v.begin(), v.end(), from);
  return v;
}
}  // namespace

TEST_CASE("ByteBuffer keeps unread bytes in order through consume, compaction and growth", "[byte-buffer]") {
  ByteBuffer b;
  CHECK(b.capacity() == 0);
  put(b, seq(10, 0));
  CHECK(b.capacity() == ByteBuffer::kDefaultCapacity);
  b.consume(4);
  CHECK(b.size() == 6);
  CHECK(b.readable()[0] == 4);

  // Fill to the end, then ask for more than is left: unread bytes move to the front.
  put(b, seq(ByteBuffer::kDefaultCapacity - 10, 0));
  b.consume(ByteBuffer::kDefaultCapacity - 100);
  auto space = b.prepare(200);
  CHECK(b.capacity() == ByteBuffer::kDefaultCapacity);
  CHECK(space.size() == ByteBuffer::kDefaultCapacity - 96);
  CHECK(b.size() == 96);

  // More than the block holds: it grows and keeps the bytes.
  const auto before = std::vector<std::uint8_t>(b.readable().begin(), b.readable().end());
  put(b, seq(40000, 7));
  CHECK(b.capacity() >= 40096);
  REQUIRE(b.size() == 40096);
  CHECK(std::equal(before.begin(), before.end(), b.readable().begin()));
  CHECK(b.readable()[96] == 7);
  CHECK(b.readable()[40095] == static_cast<std::uint8_t>(7 + 39999));

  // Consuming everything resets positions; releasing gives the storage back.
  b.consume(b.size());
  CHECK(b.empty());
  b.release_if_empty();
  CHECK(b.capacity() == 0);
}

TEST_CASE("ByteBuffer does not release storage that still holds bytes", "[byte-buffer]") {
  ByteBuffer b;
  put(b, seq(3, 1));
  b.release_if_empty();
  CHECK(b.capacity() == ByteBuffer::kDefaultCapacity);
  CHECK(b.size() == 3);
}

TEST_CASE("ByteBuffer recycles standard blocks of its thread", "[byte-buffer]") {
  const std::uint8_t* first = nullptr;
  {
    ByteBuffer a;
    put(a, seq(5, 0));
    first = a.readable().data();
  }  // a's block goes to this thread's cache
  ByteBuffer b;
  put(b, seq(5, 9));
  CHECK(b.readable().data() == first);
  CHECK(b.readable()[0] == 9);

  ByteBuffer moved(std::move(b));
  CHECK(b.capacity() == 0);
  CHECK(b.empty());
  CHECK(moved.size() == 5);
  CHECK(moved.readable()[4] == 13);
}

