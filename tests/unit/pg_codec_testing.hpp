// Helpers for the PostgreSQL codec tests: byte-vector builders and the split/truncation checks.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "protocol/common/bytes.hpp"
#include "protocol/pg/frame.hpp"

namespace baton::test_pg {

using protocol::Bytes;
using protocol::DecodeResult;
using protocol::Decoded;
using protocol::Malformed;
using protocol::NeedMore;
using Vec = std::vector<std::uint8_t>;

// "51 00 00 00 0d" -> bytes; spaces are ignored. Used for file-scope vectors too, so a typo
// throws (ending the run before any test) rather than using a Catch2 assertion.
inline Vec hex(std::string_view s) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Vec out;
  int high = -1;
  for (char c : s) {
    if (c == ' ' || c == '\n') continue;
    int v = nibble(c);
    if (v < 0) throw std::invalid_argument("hex(): not a hex digit");
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(high * 16 + v));
      high = -1;
    }
  }
  if (high >= 0) throw std::invalid_argument("hex(): odd number of digits");
  return out;
}

// The bytes of a string view; write NULs into it with a `sv` literal: "user\0app\0"sv.
inline Vec text(std::string_view s) { return Vec(s.begin(), s.end()); }

inline Vec cat(std::initializer_list<Vec> parts) {
  Vec out;
  for (const Vec& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

inline Bytes span(const Vec& v) { return Bytes(v.data(), v.size()); }
inline std::string_view chars(Bytes b) { return protocol::as_chars(b); }

template <typename T>
const Decoded<T>& ok(const DecodeResult<T>& r) {
  REQUIRE(std::holds_alternative<Decoded<T>>(r));
  return std::get<Decoded<T>>(r);
}

// Calls decode on an exact-size heap copy of the first n bytes, so that a read past the input
// lands outside the allocation (and is reported by AddressSanitizer when it is enabled).
template <typename Decode>
auto decode_copy(const Vec& msg, std::size_t n, Decode decode, std::unique_ptr<std::uint8_t[]>& keep) {
  keep.reset(new std::uint8_t[n == 0 ? 1 : n]);
  std::copy(msg.begin(), msg.begin() + static_cast<std::ptrdiff_t>(n), keep.get());
  return decode(Bytes(keep.get(), n));
}

// The splitting properties of a frame-level decoder over one whole message `msg`:
// every strict prefix gives NeedMore (with at_least beyond the prefix), byte-at-a-time
// accumulation yields the message exactly when its last byte arrives, and two copies back to
// back split at the message boundary. `check` asserts the decoded fields each time.
template <typename Decode, typename Check>
void check_split(const Vec& msg, Decode decode, Check check) {
  std::unique_ptr<std::uint8_t[]> keep;
  for (std::size_t n = 0; n < msg.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    auto r = decode_copy(msg, n, decode, keep);
    REQUIRE(std::holds_alternative<NeedMore>(r));
    CHECK(std::get<NeedMore>(r).at_least > n);
    CHECK(std::get<NeedMore>(r).at_least <= msg.size());
  }

  // Byte-at-a-time accumulation: a growing buffer, decoded after each byte.
  Vec buf;
  bool done = false;
  for (std::size_t i = 0; i < msg.size(); ++i) {
    buf.push_back(msg[i]);
    auto r = decode(span(buf));
    if (i + 1 < msg.size()) {
      REQUIRE(std::holds_alternative<NeedMore>(r));
    } else {
      const auto& d = ok(r);
      CHECK(d.consumed == msg.size());
      check(d.value);
      done = true;
    }
  }
  CHECK(done);

  // Two messages back to back, then the second one from where the first ended.
  const Vec two = cat({msg, msg});
  auto r1 = decode(span(two));
  const auto& first = ok(r1);
  CHECK(first.consumed == msg.size());
  check(first.value);
  auto r2 = decode(span(two).subspan(first.consumed));
  const auto& second = ok(r2);
  CHECK(second.consumed == msg.size());
  check(second.value);
}

// A body decoder on every strict prefix of `body` must say Malformed (never NeedMore: the
// frame is complete, so a short body is a broken message).
template <typename Decode>
void check_prefixes_malformed(const Vec& body, Decode decode) {
  std::unique_ptr<std::uint8_t[]> keep;
  for (std::size_t n = 0; n < body.size(); ++n) {
    INFO("body prefix of " << n << " bytes");
    auto r = decode_copy(body, n, decode, keep);
    CHECK(std::holds_alternative<Malformed>(r));
  }
}

// Decodes one typed message that is exactly `msg` and checks its type; returns the body.
inline Bytes whole_frame(const Vec& msg, char type) {
  auto r = protocol::pg::decode_frame(span(msg), 1 << 20);
  const auto& d = ok(r);
  CHECK(d.consumed == msg.size());
  CHECK(d.value.type == type);
  return d.value.body;
}

}  // namespace baton::test_pg
