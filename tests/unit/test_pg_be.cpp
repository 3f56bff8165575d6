// Tests for PostgreSQL v3 backend messages: golden bytes from the docs, truncation, round trips.
#include <catch2/catch.hpp>

#include "protocol/pg/be.hpp"
#include "protocol/pg/sqlstate.hpp"
#include "tests/unit/pg_codec_testing.hpp"

using namespace std::string_view_literals;
using namespace baton::protocol;
using namespace baton::protocol::pg;
using namespace baton::protocol::pg::be;
using namespace baton::test_pg;

namespace {

// Source for every vector below: PostgreSQL documentation, Frontend/Backend Protocol,
// section "Message Formats" (protocol-message-formats.html), unless a comment says otherwise.

// AuthenticationOk: Byte1('R'), Int32(8), Int32(0).
const Vec kAuthOkMsg = hex("52 00 00 00 08 00 00 00 00");
// AuthenticationCleartextPassword: Byte1('R'), Int32(8), Int32(3).
const Vec kAuthCleartextMsg = hex("52 00 00 00 08 00 00 00 03");
// AuthenticationMD5Password: Byte1('R'), Int32(12), Int32(5), Byte4 salt.
const Vec kAuthMd5Msg = hex("52 00 00 00 0c 00 00 00 05 01 02 03 04");
// AuthenticationSASL: Byte1('R'), Int32 length, Int32(10), mechanism Strings, then a zero byte.
const Vec kAuthSaslMsg = cat({hex("52 00 00 00 2a 00 00 00 0a"), text("SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"sv)});
// AuthenticationSASLContinue: Byte1('R'), Int32 length, Int32(11), Byte(n); the data is the
// server-first-message of the SCRAM-SHA-256 example in RFC 7677 section 3.
constexpr std::string_view kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const Vec kAuthSaslContinueMsg = cat({hex("52 00 00 00 5e 00 00 00 0b"), text(kServerFirst)});
// AuthenticationSASLFinal: Byte1('R'), Int32 length, Int32(12), Byte(n); RFC 7677's server-final.
constexpr std::string_view kServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
const Vec kAuthSaslFinalMsg = cat({hex("52 00 00 00 36 00 00 00 0c"), text(kServerFinal)});
// ParameterStatus: Byte1('S'), Int32 length, String name, String value.
const Vec kParameterStatusMsg = cat({hex("53 00 00 00 19"), text("client_encoding\0UTF8\0"sv)});
// BackendKeyData: Byte1('K'), Int32(12), Int32 process ID (12345), Int32 secret key.
const Vec kBackendKeyDataMsg = hex("4b 00 00 00 0c 00 00 30 39 de ad be ef");
// ReadyForQuery: Byte1('Z'), Int32(5), Byte1 status 'I', 'T' or 'E'.
const Vec kReadyIdleMsg = hex("5a 00 00 00 05 49");
const Vec kReadyInTxMsg = hex("5a 00 00 00 05 54");
const Vec kReadyFailedMsg = hex("5a 00 00 00 05 45");
// CommandComplete: Byte1('C'), Int32 length, String tag.
const Vec kSelect1Msg = cat({hex("43 00 00 00 0d"), text("SELECT 1\0"sv)});
const Vec kInsertMsg = cat({hex("43 00 00 00 0f"), text("INSERT 0 1\0"sv)});
// ErrorResponse: Byte1('E'), Int32 length, then (Byte1 field code, String value) pairs and a
// zero byte; field codes from "Error and Notice Message Fields". This is what PostgreSQL sends
// for a wrong password (auth_failed() in src/backend/libpq/auth.c; the line number varies).
const Vec kWrongPasswordMsg =
    cat({hex("45 00 00 00 63"),
         text("SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user \"app\"\0"
              "Fauth.c\0L326\0Rauth_failed\0\0"sv)});
// NotificationResponse: Byte1('A'), Int32 length, Int32 process ID, String channel, String payload.
const Vec kNotificationMsg = cat({hex("41 00 00 00 10 00 00 30 39"), text("jobs\0" "42\0"sv)});

Vec body_of(const Vec& msg) { return Vec(msg.begin() + 5, msg.end()); }

template <typename Encode>
Vec encoded(Encode encode) {
  Vec out;
  Writer w(out);
  encode(w);
  return out;
}

}  // namespace

TEST_CASE("Authentication: Ok, CleartextPassword, MD5Password", "[pg-codec]") {
  auto a = decode_authentication(whole_frame(kAuthOkMsg, kAuthentication));
  CHECK(ok(a).value.code == AuthCode::kOk);
  CHECK(ok(a).consumed == 4);
  check_prefixes_malformed(body_of(kAuthOkMsg), decode_authentication);
  CHECK(is_malformed(decode_authentication(span(hex("00 00 00 00 00")))));
  CHECK(encoded([](Writer& w) { encode_auth_ok(w); }) == kAuthOkMsg);

  auto c = decode_authentication(whole_frame(kAuthCleartextMsg, kAuthentication));
  CHECK(ok(c).value.code == AuthCode::kCleartextPassword);
  CHECK(encoded([](Writer& w) { encode_auth_cleartext(w); }) == kAuthCleartextMsg);

  auto m = decode_authentication(whole_frame(kAuthMd5Msg, kAuthentication));
  const Authentication& md5 = ok(m).value;
  CHECK(md5.code == AuthCode::kMd5Password);
  CHECK(md5.md5_salt[0] == 1);
  CHECK(md5.md5_salt[1] == 2);
  CHECK(md5.md5_salt[2] == 3);
  CHECK(md5.md5_salt[3] == 4);
  check_prefixes_malformed(body_of(kAuthMd5Msg), decode_authentication);
  CHECK(is_malformed(decode_authentication(span(cat({body_of(kAuthMd5Msg), hex("05")})))));
  const std::uint8_t salt[4] = {1, 2, 3, 4};
  CHECK(encoded([&](Writer& w) { encode_auth_md5(w, salt); }) == kAuthMd5Msg);
}

TEST_CASE("Authentication: SASL mechanism list", "[pg-codec]") {
  auto r = decode_authentication(whole_frame(kAuthSaslMsg, kAuthentication));
  const Authentication& a = ok(r).value;
  CHECK(ok(r).consumed == 38);
  CHECK(a.code == AuthCode::kSasl);
  CHECK(a.mechanisms == std::vector<std::string_view>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"});
  check_prefixes_malformed(body_of(kAuthSaslMsg), decode_authentication);
  CHECK(is_malformed(decode_authentication(span(cat({body_of(kAuthSaslMsg), hex("41")})))));
  CHECK(encoded([](Writer& w) { encode_auth_sasl(w, {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}); }) == kAuthSaslMsg);

  // One mechanism, as PostgreSQL sends without TLS: 4 + 14 + 1 + 4 = 23 = 0x17.
  const Vec one = cat({hex("52 00 00 00 17 00 00 00 0a"), text("SCRAM-SHA-256\0\0"sv)});
  CHECK(encoded([](Writer& w) { encode_auth_sasl(w, {"SCRAM-SHA-256"}); }) == one);
  auto back = decode_authentication(whole_frame(one, kAuthentication));
  CHECK(ok(back).value.mechanisms == std::vector<std::string_view>{"SCRAM-SHA-256"});
}

TEST_CASE("Authentication: SASLContinue and SASLFinal carry the rest as data", "[pg-codec]") {
  REQUIRE(kServerFirst.size() == 86);
  auto c = decode_authentication(whole_frame(kAuthSaslContinueMsg, kAuthentication));
  CHECK(ok(c).value.code == AuthCode::kSaslContinue);
  CHECK(chars(ok(c).value.data) == kServerFirst);
  CHECK(ok(c).consumed == 90);
  CHECK(encoded([](Writer& w) { encode_auth_sasl_continue(w, as_bytes(kServerFirst)); }) == kAuthSaslContinueMsg);

  auto f = decode_authentication(whole_frame(kAuthSaslFinalMsg, kAuthentication));
  CHECK(ok(f).value.code == AuthCode::kSaslFinal);
  CHECK(chars(ok(f).value.data) == kServerFinal);
  CHECK(encoded([](Writer& w) { encode_auth_sasl_final(w, as_bytes(kServerFinal)); }) == kAuthSaslFinalMsg);

  // Only the code is required; shorter bodies are malformed.
  for (std::size_t n = 0; n < 4; ++n) {
    CHECK(is_malformed(decode_authentication(span(body_of(kAuthSaslFinalMsg)).first(n))));
  }
}

TEST_CASE("Authentication: unsupported codes are malformed", "[pg-codec]") {
  // 2 KerberosV5, 6 SCMCredential, 7 GSS, 8 GSSContinue, 9 SSPI, and codes that do not exist.
  for (std::string_view code : {"00 00 00 02", "00 00 00 06", "00 00 00 07", "00 00 00 08", "00 00 00 09",
                                "00 00 00 0d", "ff ff ff ff"}) {
    INFO("code " << code);
    CHECK(is_malformed(decode_authentication(span(hex(code)))));
  }
}

TEST_CASE("ParameterStatus", "[pg-codec]") {
  auto r = decode_parameter_status(whole_frame(kParameterStatusMsg, kParameterStatus));
  CHECK(ok(r).value.name == "client_encoding");
  CHECK(ok(r).value.value == "UTF8");
  check_prefixes_malformed(body_of(kParameterStatusMsg), decode_parameter_status);
  CHECK(is_malformed(decode_parameter_status(span(cat({body_of(kParameterStatusMsg), hex("00")})))));
  CHECK(encoded([](Writer& w) { encode_parameter_status(w, "client_encoding", "UTF8"); }) == kParameterStatusMsg);
}

TEST_CASE("BackendKeyData", "[pg-codec]") {
  auto r = decode_backend_key_data(whole_frame(kBackendKeyDataMsg, kBackendKeyData));
  CHECK(ok(r).value.process_id == 12345u);
  CHECK(ok(r).value.secret_key == 0xdeadbeefu);
  check_prefixes_malformed(body_of(kBackendKeyDataMsg), decode_backend_key_data);
  CHECK(is_malformed(decode_backend_key_data(span(cat({body_of(kBackendKeyDataMsg), hex("00")})))));
  CHECK(encoded([](Writer& w) { encode_backend_key_data(w, BackendKeyData{12345, 0xdeadbeef}); }) ==
        kBackendKeyDataMsg);
}

TEST_CASE("ReadyForQuery", "[pg-codec]") {
  auto idle = decode_ready_for_query(whole_frame(kReadyIdleMsg, kReadyForQuery));
  CHECK(ok(idle).value.status == TxStatus::kIdle);
  auto in_tx = decode_ready_for_query(whole_frame(kReadyInTxMsg, kReadyForQuery));
  CHECK(ok(in_tx).value.status == TxStatus::kInTransaction);
  auto failed = decode_ready_for_query(whole_frame(kReadyFailedMsg, kReadyForQuery));
  CHECK(ok(failed).value.status == TxStatus::kFailed);

  CHECK(is_malformed(decode_ready_for_query(span(hex("")))));
  CHECK(is_malformed(decode_ready_for_query(span(hex("58")))));     // 'X'
  CHECK(is_malformed(decode_ready_for_query(span(hex("69")))));     // 'i'
  CHECK(is_malformed(decode_ready_for_query(span(hex("49 49")))));  // trailing byte

  CHECK(encoded([](Writer& w) { encode_ready_for_query(w, TxStatus::kIdle); }) == kReadyIdleMsg);
  CHECK(encoded([](Writer& w) { encode_ready_for_query(w, TxStatus::kInTransaction); }) == kReadyInTxMsg);
  CHECK(encoded([](Writer& w) { encode_ready_for_query(w, TxStatus::kFailed); }) == kReadyFailedMsg);
}

TEST_CASE("CommandComplete", "[pg-codec]") {
  auto s = decode_command_complete(whole_frame(kSelect1Msg, kCommandComplete));
  CHECK(ok(s).value.tag == "SELECT 1");
  auto i = decode_command_complete(whole_frame(kInsertMsg, kCommandComplete));
  CHECK(ok(i).value.tag == "INSERT 0 1");
  check_prefixes_malformed(body_of(kInsertMsg), decode_command_complete);
  CHECK(is_malformed(decode_command_complete(span(text("SELECT 1\0x"sv)))));
  CHECK(encoded([](Writer& w) { encode_command_complete(w, "SELECT 1"); }) == kSelect1Msg);
  CHECK(encoded([](Writer& w) { encode_command_complete(w, "INSERT 0 1"); }) == kInsertMsg);
}

TEST_CASE("ErrorResponse for a wrong password", "[pg-codec]") {
  REQUIRE(kWrongPasswordMsg.size() == 100);
  auto r = decode_error_fields(whole_frame(kWrongPasswordMsg, kErrorResponse));
  const ErrorFields& e = ok(r).value;
  CHECK(ok(r).consumed == 95);
  REQUIRE(e.fields.size() == 7);
  CHECK(e.fields[0] == std::pair{'S', "FATAL"sv});
  CHECK(e.fields[1] == std::pair{'V', "FATAL"sv});
  CHECK(e.fields[2] == std::pair{'C', "28P01"sv});
  CHECK(e.fields[3] == std::pair{'M', "password authentication failed for user \"app\""sv});
  CHECK(e.fields[4] == std::pair{'F', "auth.c"sv});
  CHECK(e.fields[5] == std::pair{'L', "326"sv});
  CHECK(e.fields[6] == std::pair{'R', "auth_failed"sv});
  CHECK(e.severity() == "FATAL");
  CHECK(e.sqlstate() == sqlstate::kInvalidPassword);
  CHECK(e.message() == "password authentication failed for user \"app\"");
  CHECK(e.get('D').empty());
  CHECK(e.get('H').empty());

  check_prefixes_malformed(body_of(kWrongPasswordMsg), decode_error_fields);
  CHECK(is_malformed(decode_error_fields(span(cat({body_of(kWrongPasswordMsg), hex("00")})))));
  CHECK(is_malformed(decode_error_fields(span(text("SFATAL"sv)))));  // value without NUL

  auto empty = decode_error_fields(span(hex("00")));  // no fields at all: well formed
  CHECK(ok(empty).value.fields.empty());
  CHECK(ok(empty).value.sqlstate().empty());
}

TEST_CASE("encode_error writes S, V, C, M, then D and H when given", "[pg-codec]") {
  const ErrorSpec spec{.severity = "FATAL",
                       .sqlstate = sqlstate::kInvalidPassword,
                       .message = "password authentication failed for user \"app\""};
  // 7 + 7 + 7 + 47 + 1 = 69 bytes of fields; length 73 = 0x49.
  const Vec expect = cat({hex("45 00 00 00 49"),
                          text("SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user \"app\"\0\0"sv)});
  const Vec out = encoded([&](Writer& w) { encode_error(w, spec); });
  CHECK(out == expect);

  auto back = decode_error_fields(whole_frame(out, kErrorResponse));
  CHECK(ok(back).value.severity() == "FATAL");
  CHECK(ok(back).value.get('V') == "FATAL");
  CHECK(ok(back).value.sqlstate() == "28P01");
  CHECK(ok(back).value.message() == spec.message);
  CHECK(ok(back).value.fields.size() == 4);

  SECTION("detail and hint, and the NoticeResponse type byte") {
    const ErrorSpec notice{.severity = "WARNING",
                           .sqlstate = sqlstate::kConnectionFailure,
                           .message = "primary failed",
                           .detail = "node db1 is down",
                           .hint = "retry the transaction"};
    const Vec n = encoded([&](Writer& w) { encode_notice(w, notice); });
    const Vec fields = text(
        "SWARNING\0VWARNING\0C08006\0Mprimary failed\0Dnode db1 is down\0Hretry the transaction\0\0"sv);
    // 9 + 9 + 7 + 16 + 18 + 23 + 1 = 83 bytes of fields; length 87 = 0x57.
    CHECK(n == cat({hex("4e 00 00 00 57"), fields}));
    auto d = decode_error_fields(whole_frame(n, kNoticeResponse));
    REQUIRE(ok(d).value.fields.size() == 6);
    CHECK(ok(d).value.get('D') == "node db1 is down");
    CHECK(ok(d).value.get('H') == "retry the transaction");
    CHECK(ok(d).value.fields[4].first == 'D');
    CHECK(ok(d).value.fields[5].first == 'H');
  }
  SECTION("only the hint") {
    const Vec h = encoded([](Writer& w) {
      encode_error(w, ErrorSpec{.sqlstate = "XX000", .message = "m", .hint = "h"});
    });
    // 7 + 7 + 7 + 3 + 3 + 1 = 28 bytes of fields; length 32 = 0x20.
    CHECK(h == cat({hex("45 00 00 00 20"), text("SERROR\0VERROR\0CXX000\0Mm\0Hh\0\0"sv)}));
  }
}

TEST_CASE("NotificationResponse", "[pg-codec]") {
  auto r = decode_notification(whole_frame(kNotificationMsg, kNotificationResponse));
  CHECK(ok(r).value.process_id == 12345u);
  CHECK(ok(r).value.channel == "jobs");
  CHECK(ok(r).value.payload == "42");
  check_prefixes_malformed(body_of(kNotificationMsg), decode_notification);
  CHECK(is_malformed(decode_notification(span(cat({body_of(kNotificationMsg), hex("00")})))));
}

TEST_CASE("Empty-bodied backend messages", "[pg-codec]") {
  // "Message Formats": ParseComplete '1', BindComplete '2', CloseComplete '3', NoData 'n',
  // EmptyQueryResponse 'I'; each Int32(4).
  CHECK(encoded([](Writer& w) { encode_parse_complete(w); }) == hex("31 00 00 00 04"));
  CHECK(encoded([](Writer& w) { encode_bind_complete(w); }) == hex("32 00 00 00 04"));
  CHECK(encoded([](Writer& w) { encode_close_complete(w); }) == hex("33 00 00 00 04"));
  CHECK(encoded([](Writer& w) { encode_no_data(w); }) == hex("6e 00 00 00 04"));
  CHECK(encoded([](Writer& w) { encode_empty_query(w); }) == hex("49 00 00 00 04"));
}

TEST_CASE("A server's greeting splits into its messages", "[pg-codec]") {
  // AuthenticationOk, ParameterStatus, BackendKeyData, ReadyForQuery as sent after a login.
  const Vec stream = cat({kAuthOkMsg, kParameterStatusMsg, kBackendKeyDataMsg, kReadyIdleMsg});
  Bytes rest = span(stream);
  std::string types;
  while (!rest.empty()) {
    auto r = decode_frame(rest, 1 << 20);
    types.push_back(ok(r).value.type);
    rest = rest.subspan(ok(r).consumed);
  }
  CHECK(types == "RSKZ");

  check_split(kWrongPasswordMsg, [](Bytes in) { return decode_frame(in, 1 << 20); },
              [](const Frame& f) {
                CHECK(f.type == 'E');
                CHECK(f.body.size() == 95);
              });
}
