// PostgreSQL v3 frontend messages (client to server): decoding from a frame body, encoding to a writer.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/common/bytes.hpp"
#include "protocol/pg/frame.hpp"

namespace baton::protocol::pg::fe {

// Message type bytes (the first byte of a typed frontend message).
inline constexpr char kQuery = 'Q';
inline constexpr char kParse = 'P';
inline constexpr char kBind = 'B';
inline constexpr char kDescribe = 'D';
inline constexpr char kExecute = 'E';
inline constexpr char kClose = 'C';
inline constexpr char kSync = 'S';
inline constexpr char kFlush = 'H';
inline constexpr char kFunctionCall = 'F';
inline constexpr char kTerminate = 'X';
inline constexpr char kCopyData = 'd';
inline constexpr char kCopyDone = 'c';
inline constexpr char kCopyFail = 'f';
inline constexpr char kPassword = 'p';  // PasswordMessage, SASLInitialResponse, SASLResponse

// Untyped first packets. Views point into the decoded input.
struct StartupMessage {
  std::uint32_t protocol = kProtocolV3;
  std::vector<std::pair<std::string_view, std::string_view>> parameters;  // user, database, ...
  std::string_view get(std::string_view name) const;  // "" when absent
};
struct CancelRequest {
  std::uint32_t process_id = 0;
  std::uint32_t secret_key = 0;
};

// Decode from a StartupFrame (see frame.hpp). Malformed on a missing terminator or an odd
// parameter list.
DecodeResult<StartupMessage> decode_startup(const StartupFrame& f);
DecodeResult<CancelRequest> decode_cancel(const StartupFrame& f);

void encode_startup(Writer& w, const std::vector<std::pair<std::string_view, std::string_view>>& params);
void encode_ssl_request(Writer& w);
void encode_cancel(Writer& w, const CancelRequest& c);

// Typed messages. Decode functions take the frame body (without type and length).
struct Query {
  std::string_view sql;
};
struct Parse {
  std::string_view name;  // "" = unnamed statement
  std::string_view query;
  std::vector<std::uint32_t> param_types;
};
// Bind is decoded only up to the statement name: the proxy rewrites names and forwards the rest.
struct BindHead {
  std::string_view portal;
  std::string_view statement;
  Bytes rest;  // everything after the statement name's NUL, untouched
};
struct Describe {
  char kind = 'S';  // 'S' statement or 'P' portal
  std::string_view name;
};
struct Execute {
  std::string_view portal;
  std::uint32_t max_rows = 0;
};
struct Close {
  char kind = 'S';  // 'S' statement or 'P' portal
  std::string_view name;
};
// PasswordMessage (cleartext or "md5..." hex, NUL-terminated).
struct PasswordMessage {
  std::string_view password;
};
struct SaslInitialResponse {
  std::string_view mechanism;
  Bytes data;  // empty when the length field is -1
};
struct SaslResponse {
  Bytes data;
};

DecodeResult<Query> decode_query(Bytes body);
DecodeResult<Parse> decode_parse(Bytes body);
DecodeResult<BindHead> decode_bind_head(Bytes body);
DecodeResult<Describe> decode_describe(Bytes body);
DecodeResult<Execute> decode_execute(Bytes body);
DecodeResult<Close> decode_close(Bytes body);
DecodeResult<PasswordMessage> decode_password(Bytes body);
DecodeResult<SaslInitialResponse> decode_sasl_initial(Bytes body);
DecodeResult<SaslResponse> decode_sasl_response(Bytes body);

// Encoders append one whole message (type, length, body).
void encode_query(Writer& w, std::string_view sql);
void encode_parse(Writer& w, const Parse& p);
void encode_bind(Writer& w, std::string_view portal, std::string_view statement, Bytes rest);
void encode_describe(Writer& w, const Describe& d);
void encode_execute(Writer& w, const Execute& e);
void encode_close(Writer& w, const Close& c);
void encode_sync(Writer& w);
void encode_flush(Writer& w);
void encode_terminate(Writer& w);
void encode_password(Writer& w, std::string_view password);
void encode_sasl_initial(Writer& w, std::string_view mechanism, Bytes data);
void encode_sasl_response(Writer& w, Bytes data);
void encode_copy_data(Writer& w, Bytes data);
void encode_copy_done(Writer& w);
void encode_copy_fail(Writer& w, std::string_view message);

}  // namespace baton::protocol::pg::fe
