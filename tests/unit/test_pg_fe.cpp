// Tests for PostgreSQL v3 frontend messages: golden bytes from the docs, truncation, round trips.
#include <catch2/catch.hpp>

#include "protocol/pg/fe.hpp"
#include "tests/unit/pg_codec_testing.hpp"

using namespace std::string_view_literals;
using namespace baton::protocol;
using namespace baton::protocol::pg;
using namespace baton::protocol::pg::fe;
using namespace baton::test_pg;

namespace {

using Params = std::vector<std::pair<std::string_view, std::string_view>>;

// Source for every vector below: PostgreSQL documentation, Frontend/Backend Protocol,
// section "Message Formats" (protocol-message-formats.html), unless a comment says otherwise.

// StartupMessage: Int32 length, Int32(196608), name/value String pairs, a zero byte.
// The four parameters psql sends.
const Vec kStartupPsql = cat({hex("00 00 00 4b 00 03 00 00"),
                              text("user\0app\0database\0shop\0application_name\0psql\0"
                                   "client_encoding\0UTF8\0\0"sv)});
// The StartupMessage libpq traced as `F 36 StartupMessage 3 0 "user" "foo" "database" "alvherre"`
// (PostgreSQL commit "libpq: Trace frontend authentication challenges").
const Vec kStartupTrace = cat({hex("00 00 00 24 00 03 00 00"), text("user\0foo\0database\0alvherre\0\0"sv)});
// SSLRequest: Int32(8), Int32(80877103).
const Vec kSslRequest = hex("00 00 00 08 04 d2 16 2f");
// CancelRequest: Int32(16), Int32(80877102), Int32 process ID (12345), Int32 secret key.
const Vec kCancel = hex("00 00 00 10 04 d2 16 2e 00 00 30 39 de ad be ef");

// Query: Byte1('Q'), Int32 length, String.
const Vec kQueryMsg = cat({hex("51 00 00 00 0d"), text("select 1\0"sv)});
// Parse: Byte1('P'), Int32 length, String name, String query, Int16 count, Int32[count] type OIDs
// (23 = int4, 25 = text).
const Vec kParseMsg = cat({hex("50 00 00 00 1f"), text("s1\0SELECT $1, $2\0"sv), hex("00 02 00 00 00 17 00 00 00 19")});
// Bind: Byte1('B'), Int32 length, String portal (""), String statement ("s1"), then the rest:
// Int16 1 format code, Int16 0 (text); Int16 2 values: Int32 2 "42", Int32 -1 (NULL);
// Int16 0 result format codes.
const Vec kBindRest = cat({hex("00 01 00 00 00 02 00 00 00 02"), text("42"), hex("ff ff ff ff 00 00")});
const Vec kBindMsg = cat({hex("42 00 00 00 1a"), text("\0s1\0"sv), kBindRest});
// Describe: Byte1('D'), Int32 length, Byte1 'S' or 'P', String name.
const Vec kDescribeMsg = cat({hex("44 00 00 00 08"), text("Ss1\0"sv)});
// Execute: Byte1('E'), Int32 length, String portal, Int32 max rows (100).
const Vec kExecuteMsg = cat({hex("45 00 00 00 0b"), text("p1\0"sv), hex("00 00 00 64")});
// Close: Byte1('C'), Int32 length, Byte1 'S' or 'P', String name.
const Vec kCloseMsg = cat({hex("43 00 00 00 08"), text("Pp1\0"sv)});
// PasswordMessage: Byte1('p'), Int32 length, String password.
const Vec kPasswordMsg = cat({hex("70 00 00 00 0b"), text("secret\0"sv)});
// SASLInitialResponse: Byte1('p'), Int32 length, String mechanism, Int32 data length, Byte(n).
// Data as libpq traced it: `F 54 SASLInitialResponse "SCRAM-SHA-256" 32 'n,,n=,r=nq5zEPR/VREHEpOAZzH8Rujm'`.
const Vec kSaslInitial =
    cat({hex("70 00 00 00 36"), text("SCRAM-SHA-256\0"sv), hex("00 00 00 20"), text("n,,n=,r=nq5zEPR/VREHEpOAZzH8Rujm")});
// SASLInitialResponse with no initial response: data length -1.
const Vec kSaslInitialNoData = cat({hex("70 00 00 00 16"), text("SCRAM-SHA-256\0"sv), hex("ff ff ff ff")});
// SASLResponse: Byte1('p'), Int32 length, Byte(n); libpq trace `F 108 SASLResponse 'c=biws,...'`.
constexpr std::string_view kClientFinal =
    "c=biws,r=nq5zEPR/VREHEpOAZzH8RujmVtWZDQ8glcrvy9OMNw7ZqFUn,p=BBwAKe0WjSvigB6RsmmArAC+hwucLeuwJrR5C/HQD5M=";
const Vec kSaslResponse = cat({hex("70 00 00 00 6c"), text(kClientFinal)});

Vec body_of(const Vec& msg) { return Vec(msg.begin() + 5, msg.end()); }

StartupFrame startup_frame_of(const Vec& packet) {
  auto r = decode_startup_frame(span(packet));
  return ok(r).value;
}

template <typename Encode>
Vec encoded(Encode encode) {
  Vec out;
  Writer w(out);
  encode(w);
  return out;
}

}  // namespace

TEST_CASE("StartupMessage as psql sends it", "[pg-codec]") {
  const StartupFrame f = startup_frame_of(kStartupPsql);
  auto r = decode_startup(f);
  const auto& d = ok(r);
  CHECK(d.consumed == 67);
  const StartupMessage& m = d.value;
  CHECK(m.protocol == 196608u);
  REQUIRE(m.parameters.size() == 4);
  CHECK(m.parameters[0] == std::pair{"user"sv, "app"sv});
  CHECK(m.parameters[1] == std::pair{"database"sv, "shop"sv});
  CHECK(m.parameters[2] == std::pair{"application_name"sv, "psql"sv});
  CHECK(m.parameters[3] == std::pair{"client_encoding"sv, "UTF8"sv});
  CHECK(m.get("user") == "app");
  CHECK(m.get("database") == "shop");
  CHECK(m.get("application_name") == "psql");
  CHECK(m.get("client_encoding") == "UTF8");
  CHECK(m.get("options").empty());
  CHECK(m.get("").empty());

  SECTION("every truncated parameter list is malformed") {
    check_prefixes_malformed(Vec(f.body.begin(), f.body.end()), [](Bytes b) {
      return decode_startup(StartupFrame{kProtocolV3, b});
    });
  }
  SECTION("encode_startup writes the same bytes, and they decode back") {
    const Params params{{"user", "app"}, {"database", "shop"}, {"application_name", "psql"}, {"client_encoding", "UTF8"}};
    const Vec out = encoded([&](Writer& w) { encode_startup(w, params); });
    CHECK(out == kStartupPsql);
    auto again = decode_startup(startup_frame_of(out));
    CHECK(ok(again).value.parameters == params);
  }
}

TEST_CASE("StartupMessage from a libpq trace", "[pg-codec]") {
  REQUIRE(kStartupTrace.size() == 36);
  auto r = decode_startup(startup_frame_of(kStartupTrace));
  const StartupMessage& m = ok(r).value;
  REQUIRE(m.parameters.size() == 2);
  CHECK(m.get("user") == "foo");
  CHECK(m.get("database") == "alvherre");
  CHECK(encoded([](Writer& w) { encode_startup(w, {{"user", "foo"}, {"database", "alvherre"}}); }) == kStartupTrace);
}

TEST_CASE("StartupMessage layout errors are malformed", "[pg-codec]") {
  auto decode_body = [](std::string_view body, std::uint32_t code = kProtocolV3) {
    return decode_startup(StartupFrame{code, as_bytes(body)});
  };
  CHECK(is_malformed(decode_body("user\0app\0"sv)));                // no terminator
  CHECK(is_malformed(decode_body("user\0"sv)));                     // a name with no value
  CHECK(is_malformed(decode_body("user\0app\0database\0"sv)));      // a name with no value
  CHECK(is_malformed(decode_body("user\0app\0\0x"sv)));             // bytes after the terminator
  CHECK(is_malformed(decode_body("user\0app\0\0\0"sv)));            // two terminators
  CHECK(is_malformed(decode_body(""sv)));                           // nothing at all
  CHECK(is_malformed(decode_body("user\0app\0\0"sv, kSslRequestCode)));
  CHECK(is_malformed(decode_body("user\0app\0\0"sv, kCancelRequestCode)));
  CHECK(is_malformed(decode_body("user\0app\0\0"sv, 0x00020000)));  // protocol 2.0

  auto empty = decode_body("\0"sv);  // an empty list is well formed; the proxy decides
  CHECK(ok(empty).value.parameters.empty());
  auto v32 = decode_body("user\0app\0\0"sv, 0x00030002);  // protocol 3.2 parses as 3.x
  CHECK(ok(v32).value.protocol == 196610u);
  auto empty_value = decode_body("options\0\0\0"sv);  // an empty value is allowed
  REQUIRE(ok(empty_value).value.parameters.size() == 1);
  CHECK(ok(empty_value).value.get("options").empty());
}

TEST_CASE("SSLRequest and CancelRequest", "[pg-codec]") {
  CHECK(encoded([](Writer& w) { encode_ssl_request(w); }) == kSslRequest);

  auto r = decode_cancel(startup_frame_of(kCancel));
  const auto& d = ok(r);
  CHECK(d.consumed == 8);
  CHECK(d.value.process_id == 12345u);
  CHECK(d.value.secret_key == 0xdeadbeefu);
  CHECK(encoded([](Writer& w) { encode_cancel(w, CancelRequest{12345, 0xdeadbeef}); }) == kCancel);

  const Vec body(kCancel.begin() + 8, kCancel.end());  // pid and key
  check_prefixes_malformed(body, [](Bytes b) { return decode_cancel(StartupFrame{kCancelRequestCode, b}); });
  const Vec longer = cat({body, hex("00")});
  CHECK(is_malformed(decode_cancel(StartupFrame{kCancelRequestCode, span(longer)})));
  CHECK(is_malformed(decode_cancel(StartupFrame{kProtocolV3, span(body)})));
  CHECK(is_malformed(decode_cancel(startup_frame_of(kSslRequest))));
}

TEST_CASE("Query", "[pg-codec]") {
  auto r = decode_query(whole_frame(kQueryMsg, fe::kQuery));
  CHECK(ok(r).value.sql == "select 1");
  CHECK(ok(r).consumed == 9);
  check_prefixes_malformed(body_of(kQueryMsg), decode_query);
  CHECK(is_malformed(decode_query(span(text("select 1\0;"sv)))));
  CHECK(encoded([](Writer& w) { encode_query(w, "select 1"); }) == kQueryMsg);
}

TEST_CASE("Parse with two parameter types", "[pg-codec]") {
  auto r = decode_parse(whole_frame(kParseMsg, fe::kParse));
  const Parse& p = ok(r).value;
  CHECK(ok(r).consumed == 27);
  CHECK(p.name == "s1");
  CHECK(p.query == "SELECT $1, $2");
  CHECK(p.param_types == std::vector<std::uint32_t>{23, 25});

  check_prefixes_malformed(body_of(kParseMsg), decode_parse);
  CHECK(is_malformed(decode_parse(span(cat({body_of(kParseMsg), hex("00")})))));  // trailing byte
  // A count of 3 with only two OIDs present.
  CHECK(is_malformed(decode_parse(span(cat({text("s1\0SELECT $1, $2\0"sv), hex("00 03 00 00 00 17 00 00 00 19")})))));
  // A count of 65535 with nothing behind it.
  CHECK(is_malformed(decode_parse(span(cat({text("\0x\0"sv), hex("ff ff")})))));

  CHECK(encoded([&](Writer& w) { encode_parse(w, p); }) == kParseMsg);
  auto unnamed = decode_parse(span(cat({text("\0select 1\0"sv), hex("00 00")})));
  CHECK(ok(unnamed).value.name.empty());
  CHECK(ok(unnamed).value.param_types.empty());
}

TEST_CASE("Bind head: names decoded, the rest left untouched", "[pg-codec]") {
  const Bytes body = whole_frame(kBindMsg, fe::kBind);
  auto r = decode_bind_head(body);
  const BindHead& b = ok(r).value;
  CHECK(ok(r).consumed == 22);
  CHECK(b.portal.empty());
  CHECK(b.statement == "s1");
  CHECK(Vec(b.rest.begin(), b.rest.end()) == kBindRest);
  CHECK(b.rest.data() == kBindMsg.data() + 9);  // a view into the message

  SECTION("re-encoding with the same names gives the original bytes") {
    CHECK(encoded([&](Writer& w) { encode_bind(w, b.portal, b.statement, b.rest); }) == kBindMsg);
  }
  SECTION("re-encoding with a longer statement name fixes the length") {
    // 1 (portal NUL) + 15 ("baton_s_000001" NUL) + 18 (rest) + 4 = 38 = 0x26.
    const Vec expect = cat({hex("42 00 00 00 26"), text("\0baton_s_000001\0"sv), kBindRest});
    const Vec out = encoded([&](Writer& w) { encode_bind(w, b.portal, "baton_s_000001", b.rest); });
    CHECK(out == expect);
    auto again = decode_bind_head(whole_frame(out, fe::kBind));
    CHECK(ok(again).value.statement == "baton_s_000001");
    CHECK(Vec(ok(again).value.rest.begin(), ok(again).value.rest.end()) == kBindRest);
  }
  SECTION("a body cut before the statement name ends is malformed; after, the rest is shorter") {
    const Vec whole = body_of(kBindMsg);
    std::unique_ptr<std::uint8_t[]> keep;
    for (std::size_t n = 0; n < whole.size(); ++n) {
      auto p = decode_copy(whole, n, decode_bind_head, keep);
      if (n < 4) {
        CHECK(is_malformed(p));
      } else {
        CHECK(ok(p).value.statement == "s1");
        CHECK(ok(p).value.rest.size() == n - 4);
      }
    }
  }
  SECTION("a named portal") {
    const Vec msg = cat({hex("42 00 00 00 1c"), text("p1\0s1\0"sv), kBindRest});
    auto named = decode_bind_head(whole_frame(msg, fe::kBind));
    CHECK(ok(named).value.portal == "p1");
    CHECK(ok(named).value.statement == "s1");
  }
}

TEST_CASE("Describe, Execute, Close", "[pg-codec]") {
  auto d = decode_describe(whole_frame(kDescribeMsg, fe::kDescribe));
  CHECK(ok(d).value.kind == 'S');
  CHECK(ok(d).value.name == "s1");
  check_prefixes_malformed(body_of(kDescribeMsg), decode_describe);
  CHECK(is_malformed(decode_describe(span(text("Xs1\0"sv)))));
  CHECK(is_malformed(decode_describe(span(text("Ss1\0\0"sv)))));
  CHECK(encoded([](Writer& w) { encode_describe(w, Describe{'S', "s1"}); }) == kDescribeMsg);

  auto e = decode_execute(whole_frame(kExecuteMsg, fe::kExecute));
  CHECK(ok(e).value.portal == "p1");
  CHECK(ok(e).value.max_rows == 100u);
  check_prefixes_malformed(body_of(kExecuteMsg), decode_execute);
  CHECK(is_malformed(decode_execute(span(cat({body_of(kExecuteMsg), hex("00")})))));
  CHECK(encoded([](Writer& w) { encode_execute(w, Execute{"p1", 100}); }) == kExecuteMsg);

  auto c = decode_close(whole_frame(kCloseMsg, fe::kClose));
  CHECK(ok(c).value.kind == 'P');
  CHECK(ok(c).value.name == "p1");
  check_prefixes_malformed(body_of(kCloseMsg), decode_close);
  CHECK(is_malformed(decode_close(span(text("Qp1\0"sv)))));
  CHECK(encoded([](Writer& w) { encode_close(w, Close{'P', "p1"}); }) == kCloseMsg);
}

TEST_CASE("Sync, Flush, Terminate, CopyData, CopyDone, CopyFail encoders", "[pg-codec]") {
  // "Message Formats": each is Byte1(type), Int32(4) — or Int32 length and the data/message.
  CHECK(encoded([](Writer& w) { encode_sync(w); }) == hex("53 00 00 00 04"));
  CHECK(encoded([](Writer& w) { encode_flush(w); }) == hex("48 00 00 00 04"));
  CHECK(encoded([](Writer& w) { encode_terminate(w); }) == hex("58 00 00 00 04"));
  CHECK(encoded([](Writer& w) { encode_copy_done(w); }) == hex("63 00 00 00 04"));
  CHECK(encoded([](Writer& w) { encode_copy_data(w, as_bytes("1\tfoo\n")); }) ==
        cat({hex("64 00 00 00 0a"), text("1\tfoo\n")}));
  CHECK(encoded([](Writer& w) { encode_copy_fail(w, "aborted"); }) == cat({hex("66 00 00 00 0c"), text("aborted\0"sv)}));
}

TEST_CASE("PasswordMessage", "[pg-codec]") {
  auto r = decode_password(whole_frame(kPasswordMsg, fe::kPassword));
  CHECK(ok(r).value.password == "secret");
  check_prefixes_malformed(body_of(kPasswordMsg), decode_password);
  CHECK(is_malformed(decode_password(span(text("secret\0x"sv)))));
  CHECK(encoded([](Writer& w) { encode_password(w, "secret"); }) == kPasswordMsg);
}

TEST_CASE("SASLInitialResponse", "[pg-codec]") {
  auto r = decode_sasl_initial(whole_frame(kSaslInitial, fe::kPassword));
  CHECK(ok(r).consumed == 50);
  CHECK(ok(r).value.mechanism == "SCRAM-SHA-256");
  CHECK(chars(ok(r).value.data) == "n,,n=,r=nq5zEPR/VREHEpOAZzH8Rujm");
  check_prefixes_malformed(body_of(kSaslInitial), decode_sasl_initial);
  CHECK(is_malformed(decode_sasl_initial(span(cat({body_of(kSaslInitial), hex("00")})))));
  CHECK(encoded([](Writer& w) {
          encode_sasl_initial(w, "SCRAM-SHA-256", as_bytes("n,,n=,r=nq5zEPR/VREHEpOAZzH8Rujm"));
        }) == kSaslInitial);

  SECTION("length -1 means no initial response") {
    auto none = decode_sasl_initial(whole_frame(kSaslInitialNoData, fe::kPassword));
    CHECK(ok(none).value.mechanism == "SCRAM-SHA-256");
    CHECK(ok(none).value.data.empty());
    check_prefixes_malformed(body_of(kSaslInitialNoData), decode_sasl_initial);
    CHECK(encoded([](Writer& w) { encode_sasl_initial(w, "SCRAM-SHA-256", {}); }) == kSaslInitialNoData);
  }
  SECTION("bad data lengths") {
    CHECK(is_malformed(decode_sasl_initial(span(cat({text("SCRAM-SHA-256\0"sv), hex("ff ff ff fe")})))));  // -2
    CHECK(is_malformed(decode_sasl_initial(span(cat({text("SCRAM-SHA-256\0"sv), hex("7f ff ff ff"), text("n,,")})))));
    CHECK(is_malformed(decode_sasl_initial(span(cat({text("SCRAM-SHA-256\0"sv), hex("00 00 00 04"), text("n,,")})))));
    CHECK(is_malformed(decode_sasl_initial(span(cat({text("SCRAM-SHA-256\0"sv), hex("ff ff ff ff 00")})))));
  }
}

TEST_CASE("SASLResponse", "[pg-codec]") {
  REQUIRE(kClientFinal.size() == 104);
  auto r = decode_sasl_response(whole_frame(kSaslResponse, fe::kPassword));
  CHECK(chars(ok(r).value.data) == kClientFinal);
  CHECK(ok(r).consumed == 104);
  CHECK(encoded([](Writer& w) { encode_sasl_response(w, as_bytes(kClientFinal)); }) == kSaslResponse);
}
