// PostgreSQL v3 backend messages (server to client): decoding from a frame body, encoding to a writer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/common/bytes.hpp"

namespace baton::protocol::pg::be {

// Message type bytes.
inline constexpr char kAuthentication = 'R';
inline constexpr char kParameterStatus = 'S';
inline constexpr char kBackendKeyData = 'K';
inline constexpr char kReadyForQuery = 'Z';
inline constexpr char kRowDescription = 'T';
inline constexpr char kDataRow = 'D';
inline constexpr char kCommandComplete = 'C';
inline constexpr char kEmptyQueryResponse = 'I';
inline constexpr char kErrorResponse = 'E';
inline constexpr char kNoticeResponse = 'N';
inline constexpr char kNotificationResponse = 'A';
inline constexpr char kParseComplete = '1';
inline constexpr char kBindComplete = '2';
inline constexpr char kCloseComplete = '3';
inline constexpr char kNoData = 'n';
inline constexpr char kParameterDescription = 't';
inline constexpr char kPortalSuspended = 's';
inline constexpr char kCopyInResponse = 'G';
inline constexpr char kCopyOutResponse = 'H';
inline constexpr char kCopyBothResponse = 'W';
inline constexpr char kCopyData = 'd';
inline constexpr char kCopyDone = 'c';
inline constexpr char kFunctionCallResponse = 'V';
inline constexpr char kNegotiateProtocolVersion = 'v';

// Authentication request codes (the Int32 after 'R').
enum class AuthCode : std::uint32_t {
  kOk = 0,
  kCleartextPassword = 3,
  kMd5Password = 5,
  kSasl = 10,
  kSaslContinue = 11,
  kSaslFinal = 12,
};

struct Authentication {
  AuthCode code = AuthCode::kOk;
  std::uint8_t md5_salt[4] = {0, 0, 0, 0};   // kMd5Password
  std::vector<std::string_view> mechanisms;  // kSasl
  Bytes data;                                // kSaslContinue / kSaslFinal
};
struct ParameterStatus {
  std::string_view name;
  std::string_view value;
};
struct BackendKeyData {
  std::uint32_t process_id = 0;
  std::uint32_t secret_key = 0;
};
// Transaction status in ReadyForQuery.
enum class TxStatus : char { kIdle = 'I', kInTransaction = 'T', kFailed = 'E' };
struct ReadyForQuery {
  TxStatus status = TxStatus::kIdle;
};
struct CommandComplete {
  std::string_view tag;
};
// ErrorResponse / NoticeResponse: (field code, value) pairs.
struct ErrorFields {
  std::vector<std::pair<char, std::string_view>> fields;
  std::string_view get(char code) const;  // "" when absent
  std::string_view severity() const { return get('S'); }
  std::string_view sqlstate() const { return get('C'); }
  std::string_view message() const { return get('M'); }
};
struct NotificationResponse {
  std::uint32_t process_id = 0;
  std::string_view channel;
  std::string_view payload;
};

DecodeResult<Authentication> decode_authentication(Bytes body);
DecodeResult<ParameterStatus> decode_parameter_status(Bytes body);
DecodeResult<BackendKeyData> decode_backend_key_data(Bytes body);
DecodeResult<ReadyForQuery> decode_ready_for_query(Bytes body);
DecodeResult<CommandComplete> decode_command_complete(Bytes body);
DecodeResult<ErrorFields> decode_error_fields(Bytes body);  // for 'E' and 'N'
DecodeResult<NotificationResponse> decode_notification(Bytes body);

// Encoders append one whole message.
void encode_auth_ok(Writer& w);
void encode_auth_cleartext(Writer& w);
void encode_auth_md5(Writer& w, const std::uint8_t salt[4]);
void encode_auth_sasl(Writer& w, const std::vector<std::string_view>& mechanisms);
void encode_auth_sasl_continue(Writer& w, Bytes data);
void encode_auth_sasl_final(Writer& w, Bytes data);
void encode_parameter_status(Writer& w, std::string_view name, std::string_view value);
void encode_backend_key_data(Writer& w, const BackendKeyData& k);
void encode_ready_for_query(Writer& w, TxStatus status);
void encode_command_complete(Writer& w, std::string_view tag);
void encode_parse_complete(Writer& w);
void encode_bind_complete(Writer& w);
void encode_close_complete(Writer& w);
void encode_no_data(Writer& w);
void encode_empty_query(Writer& w);

// An error or notice as PostgreSQL writes it: severity (S and V), SQLSTATE (C), message (M),
// optional detail (D) and hint (H).
struct ErrorSpec {
  std::string_view severity = "ERROR";  // ERROR, FATAL, PANIC, WARNING, NOTICE, ...
  std::string_view sqlstate;
  std::string_view message;
  std::string_view detail = {};
  std::string_view hint = {};
};
void encode_error(Writer& w, const ErrorSpec& e);
void encode_notice(Writer& w, const ErrorSpec& e);

}  // namespace baton::protocol::pg::be
