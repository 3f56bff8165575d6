// Tests for PostgreSQL v3 framing: typed message headers and frames, untyped startup packets.
#include <catch2/catch.hpp>

#include "protocol/pg/frame.hpp"
#include "tests/unit/pg_codec_testing.hpp"

using namespace std::string_view_literals;
using namespace baton::protocol;
using namespace baton::protocol::pg;
using namespace baton::test_pg;

namespace {

constexpr std::uint32_t kMax = 1 << 20;

auto frame_decoder(std::uint32_t max = kMax) {
  return [max](Bytes in) { return decode_frame(in, max); };
}

// PostgreSQL docs, "Message Formats": Query = Byte1('Q'), Int32 length, String query.
const Vec kQuerySelect1 = cat({hex("51 00 00 00 0d"), text("select 1\0"sv)});
// "Message Formats": ReadyForQuery = Byte1('Z'), Int32(5), Byte1 status ('I' idle).
const Vec kReadyIdle = hex("5a 00 00 00 05 49");
// "Message Formats": Sync = Byte1('S'), Int32(4).
const Vec kSync = hex("53 00 00 00 04");

// "Message Formats": SSLRequest = Int32(8), Int32(80877103) (0x04d2162f).
const Vec kSslRequest = hex("00 00 00 08 04 d2 16 2f");
// "Message Formats": GSSENCRequest = Int32(8), Int32(80877104) (0x04d21630).
const Vec kGssEncRequest = hex("00 00 00 08 04 d2 16 30");
// "Message Formats": CancelRequest = Int32(16), Int32(80877102) (0x04d2162e), Int32 pid, Int32 key.
const Vec kCancel = hex("00 00 00 10 04 d2 16 2e 00 00 30 39 de ad be ef");
// "Message Formats": StartupMessage = Int32 length, Int32(196608) (0x00030000), then
// name/value string pairs ended by a zero byte; the parameters psql sends.
const Vec kStartupPsql = cat({hex("00 00 00 4b 00 03 00 00"),
                              text("user\0app\0database\0shop\0application_name\0psql\0"
                                   "client_encoding\0UTF8\0\0"sv)});

Vec with_length(std::uint32_t length, std::string_view type_prefix = "51") {
  Vec v = hex(type_prefix);
  for (int shift = 24; shift >= 0; shift -= 8) v.push_back(static_cast<std::uint8_t>(length >> shift));
  return v;
}

}  // namespace

TEST_CASE("decode_header reads the type byte and the length", "[pg-codec]") {
  auto r = decode_header(span(kReadyIdle), kMax);
  const auto& d = ok(r);
  CHECK(d.consumed == 5);
  CHECK(d.value.type == 'Z');
  CHECK(d.value.length == 5);
  CHECK(d.value.total() == 6);
  CHECK(d.value.body_size() == 1);

  SECTION("fewer than 5 bytes need more") {
    for (std::size_t n = 0; n < 5; ++n) {
      auto p = decode_header(span(kReadyIdle).first(n), kMax);
      REQUIRE(is_need_more(p));
      CHECK(std::get<NeedMore>(p).at_least == 5);
    }
  }
  SECTION("the header alone is enough, the body need not be there") {
    auto h = decode_header(span(kQuerySelect1).first(5), kMax);
    CHECK(ok(h).value.length == 13);
  }
  SECTION("absurd lengths are malformed") {
    for (std::uint32_t length : {0u, 1u, 3u, 0x7fffffffu, 0xffffffffu, kMax + 1}) {
      INFO("length " << length);
      auto m = decode_header(span(with_length(length)), kMax);
      REQUIRE(is_malformed(m));
      CHECK(std::get<Malformed>(m).offset == 1);
    }
  }
  SECTION("length 4 (empty body) and length == max are accepted") {
    CHECK(ok(decode_header(span(kSync), kMax)).value.body_size() == 0);
    auto at_max = decode_header(span(with_length(kMax)), kMax);
    CHECK(ok(at_max).value.length == kMax);
    CHECK(is_malformed(decode_header(span(with_length(101)), 100)));
    CHECK(is_ok(decode_header(span(with_length(100)), 100)));
  }
}

TEST_CASE("decode_frame splits a whole Query", "[pg-codec]") {
  auto r = decode_frame(span(kQuerySelect1), kMax);
  const auto& d = ok(r);
  CHECK(d.consumed == 14);
  CHECK(d.value.type == 'Q');
  CHECK(chars(d.value.body) == "select 1\0"sv);
  CHECK(d.value.body.data() == kQuerySelect1.data() + 5);  // a view, not a copy

  check_split(kQuerySelect1, frame_decoder(), [](const Frame& f) {
    CHECK(f.type == 'Q');
    CHECK(chars(f.body) == "select 1\0"sv);
  });
}

TEST_CASE("decode_frame: incomplete body asks for 1 + length", "[pg-codec]") {
  for (std::size_t n = 5; n < kQuerySelect1.size(); ++n) {
    auto r = decode_frame(span(kQuerySelect1).first(n), kMax);
    REQUIRE(is_need_more(r));
    CHECK(std::get<NeedMore>(r).at_least == 14);
  }
}

TEST_CASE("decode_frame: empty-bodied and one-byte messages", "[pg-codec]") {
  check_split(kSync, frame_decoder(), [](const Frame& f) {
    CHECK(f.type == 'S');
    CHECK(f.body.empty());
  });
  check_split(kReadyIdle, frame_decoder(), [](const Frame& f) {
    CHECK(f.type == 'Z');
    REQUIRE(f.body.size() == 1);
    CHECK(f.body[0] == 'I');
  });
}

TEST_CASE("decode_frame: a pipeline of different messages splits at each boundary", "[pg-codec]") {
  // "Message Formats": Parse('P'), Bind('B'), Execute('E'), Sync('S') as a client pipelines them.
  // 1 + 9 + 2 = 12 bytes of body; length 16.
  const Vec parse = cat({hex("50 00 00 00 10"), text("\0select 1\0"sv), hex("00 00")});
  const Vec bind = hex("42 00 00 00 0c 00 00 00 00 00 00 00 00");
  const Vec execute = hex("45 00 00 00 09 00 00 00 00 00");
  const Vec stream = cat({parse, bind, execute, kSync});

  const char types[] = {'P', 'B', 'E', 'S'};
  const std::size_t sizes[] = {parse.size(), bind.size(), execute.size(), kSync.size()};
  Bytes rest = span(stream);
  for (int i = 0; i < 4; ++i) {
    auto r = decode_frame(rest, kMax);
    const auto& d = ok(r);
    CHECK(d.value.type == types[i]);
    CHECK(d.consumed == sizes[i]);
    rest = rest.subspan(d.consumed);
  }
  CHECK(rest.empty());
  CHECK(is_need_more(decode_frame(rest, kMax)));
}

TEST_CASE("decode_frame refuses absurd lengths before the body arrives", "[pg-codec]") {
  for (std::uint32_t length : {0u, 3u, 0x7fffffffu}) {
    INFO("length " << length);
    auto r = decode_frame(span(with_length(length)), kMax);
    CHECK(is_malformed(r));
  }
  // A message longer than the caller's limit, even when all of it is present.
  CHECK(is_malformed(decode_frame(span(kQuerySelect1), 12)));
  CHECK(is_ok(decode_frame(span(kQuerySelect1), 13)));
}

TEST_CASE("decode_startup_frame: SSLRequest, GSSENCRequest, CancelRequest", "[pg-codec]") {
  auto ssl = decode_startup_frame(span(kSslRequest));
  CHECK(ok(ssl).consumed == 8);
  CHECK(ok(ssl).value.code == kSslRequestCode);
  CHECK(ok(ssl).value.body.empty());
  check_split(kSslRequest, decode_startup_frame, [](const StartupFrame& f) {
    CHECK(f.code == 80877103u);
    CHECK(f.body.empty());
  });

  auto gss = decode_startup_frame(span(kGssEncRequest));
  CHECK(ok(gss).value.code == kGssEncRequestCode);

  check_split(kCancel, decode_startup_frame, [](const StartupFrame& f) {
    CHECK(f.code == kCancelRequestCode);
    CHECK(f.body.size() == 8);
    CHECK(f.body[0] == 0x00);
    CHECK(f.body[7] == 0xef);
  });
}

TEST_CASE("decode_startup_frame: the StartupMessage psql sends", "[pg-codec]") {
  REQUIRE(kStartupPsql.size() == 75);
  auto r = decode_startup_frame(span(kStartupPsql));
  const auto& d = ok(r);
  CHECK(d.consumed == 75);
  CHECK(d.value.code == kProtocolV3);
  CHECK(d.value.code == 196608u);
  CHECK(d.value.body.size() == 67);
  CHECK(d.value.body.data() == kStartupPsql.data() + 8);

  check_split(kStartupPsql, decode_startup_frame, [](const StartupFrame& f) {
    CHECK(f.code == kProtocolV3);
    CHECK(chars(f.body).substr(0, 9) == "user\0app\0"sv);
  });

  SECTION("prefixes shorter than the length field ask for 8, longer ones for the whole packet") {
    for (std::size_t n = 0; n < 4; ++n) CHECK(std::get<NeedMore>(decode_startup_frame(span(kStartupPsql).first(n))).at_least == 8);
    for (std::size_t n = 4; n < 75; ++n) CHECK(std::get<NeedMore>(decode_startup_frame(span(kStartupPsql).first(n))).at_least == 75);
  }
  SECTION("an SSLRequest followed by a StartupMessage split apart") {
    const Vec both = cat({kSslRequest, kStartupPsql});
    auto first = decode_startup_frame(span(both));
    CHECK(ok(first).consumed == 8);
    CHECK(ok(first).value.code == kSslRequestCode);
    auto second = decode_startup_frame(span(both).subspan(8));
    CHECK(ok(second).consumed == 75);
    CHECK(ok(second).value.code == kProtocolV3);
  }
}

TEST_CASE("decode_startup_frame refuses absurd lengths", "[pg-codec]") {
  for (std::uint32_t length : {0u, 3u, 4u, 7u, kMaxStartupLength + 1, 0x7fffffffu, 0xffffffffu}) {
    INFO("length " << length);
    auto r = decode_startup_frame(span(with_length(length, "")));
    REQUIRE(is_malformed(r));
    CHECK(std::get<Malformed>(r).offset == 0);
  }
  // The limit itself is allowed: the decoder waits for all 10000 bytes.
  auto at_limit = decode_startup_frame(span(with_length(kMaxStartupLength, "")));
  REQUIRE(is_need_more(at_limit));
  CHECK(std::get<NeedMore>(at_limit).at_least == 10000);
}

TEST_CASE("begin_message/end_message write the type and patch the length", "[pg-codec]") {
  Vec out = {0xaa};  // something already in the buffer stays untouched
  Writer w(out);
  const std::size_t at = begin_message(w, 'Q');
  CHECK(at == 2);
  w.cstring("select 1");
  end_message(w, at);
  CHECK(out == cat({hex("aa"), kQuerySelect1}));
}
