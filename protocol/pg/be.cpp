// PostgreSQL v3 backend messages: decoding server messages from frame bodies and encoding them.
#include "protocol/pg/be.hpp"

#include "protocol/pg/frame.hpp"

namespace baton::protocol::pg::be {

namespace {

// The verdict for a body decoder whose reader ran out or stopped early.
template <typename T>
DecodeResult<T> finish(const Reader& r, T value, const char* truncated) {
  if (r.failed()) return Malformed{truncated, r.pos()};
  if (!r.at_end()) return Malformed{"trailing bytes after the message", r.pos()};
  return Decoded<T>{std::move(value), r.pos()};
}

DecodeResult<Authentication> decode_sasl_mechanisms(Reader& r, Authentication a) {
  for (;;) {
    const std::string_view mechanism = r.cstring();
    if (r.failed()) return Malformed{"AuthenticationSASL mechanism list lacks its terminator", r.pos()};
    if (mechanism.empty()) break;
    a.mechanisms.push_back(mechanism);
  }
  return finish(r, std::move(a), "AuthenticationSASL truncated");
}

void encode_auth_code(Writer& w, AuthCode code, Bytes data) {
  const std::size_t at = begin_message(w, kAuthentication);
  w.u32(static_cast<std::uint32_t>(code));
  w.bytes(data);
  end_message(w, at);
}

void encode_fields(Writer& w, char type, const ErrorSpec& e) {
  const std::size_t at = begin_message(w, type);
  auto field = [&w](char code, std::string_view value) {
    w.u8(static_cast<std::uint8_t>(code));
    w.cstring(value);
  };
  field('S', e.severity);
  field('V', e.severity);
  field('C', e.sqlstate);
  field('M', e.message);
  if (!e.detail.empty()) field('D', e.detail);
  if (!e.hint.empty()) field('H', e.hint);
  w.u8(0);
  end_message(w, at);
}

void encode_empty(Writer& w, char type) { end_message(w, begin_message(w, type)); }

}  // namespace

std::string_view ErrorFields::get(char code) const {
  for (const auto& [c, v] : fields) {
    if (c == code) return v;
  }
  return {};
}

DecodeResult<Authentication> decode_authentication(Bytes body) {
  Reader r(body);
  Authentication a;
  const std::uint32_t code = r.u32();
  if (r.failed()) return Malformed{"Authentication truncated before its code", 0};
  switch (code) {
    case static_cast<std::uint32_t>(AuthCode::kOk):
    case static_cast<std::uint32_t>(AuthCode::kCleartextPassword):
      a.code = static_cast<AuthCode>(code);
      return finish(r, std::move(a), "Authentication truncated");
    case static_cast<std::uint32_t>(AuthCode::kMd5Password): {
      a.code = AuthCode::kMd5Password;
      const Bytes salt = r.bytes(4);
      if (r.failed()) return Malformed{"AuthenticationMD5Password salt truncated", r.pos()};
      for (std::size_t i = 0; i < 4; ++i) a.md5_salt[i] = salt[i];
      return finish(r, std::move(a), "AuthenticationMD5Password truncated");
    }
    case static_cast<std::uint32_t>(AuthCode::kSasl):
      a.code = AuthCode::kSasl;
      return decode_sasl_mechanisms(r, std::move(a));
    case static_cast<std::uint32_t>(AuthCode::kSaslContinue):
    case static_cast<std::uint32_t>(AuthCode::kSaslFinal):
      a.code = static_cast<AuthCode>(code);
      a.data = r.rest();
      return Decoded<Authentication>{std::move(a), body.size()};
    default:
      return Malformed{"unsupported authentication request code", 0};
  }
}

DecodeResult<ParameterStatus> decode_parameter_status(Bytes body) {
  Reader r(body);
  ParameterStatus p;
  p.name = r.cstring();
  p.value = r.cstring();
  return finish(r, p, "ParameterStatus truncated");
}

DecodeResult<BackendKeyData> decode_backend_key_data(Bytes body) {
  Reader r(body);
  BackendKeyData k;
  k.process_id = r.u32();
  k.secret_key = r.u32();
  return finish(r, k, "BackendKeyData truncated");
}

DecodeResult<ReadyForQuery> decode_ready_for_query(Bytes body) {
  Reader r(body);
  const char status = static_cast<char>(r.u8());
  if (r.failed()) return Malformed{"ReadyForQuery truncated", 0};
  if (status != 'I' && status != 'T' && status != 'E') {
    return Malformed{"ReadyForQuery status is not I, T or E", 0};
  }
  return finish(r, ReadyForQuery{static_cast<TxStatus>(status)}, "ReadyForQuery truncated");
}

DecodeResult<CommandComplete> decode_command_complete(Bytes body) {
  Reader r(body);
  CommandComplete c;
  c.tag = r.cstring();
  return finish(r, c, "CommandComplete tag lacks its NUL");
}

DecodeResult<ErrorFields> decode_error_fields(Bytes body) {
  Reader r(body);
  ErrorFields e;
  for (;;) {
    const char code = static_cast<char>(r.u8());
    if (r.failed()) return Malformed{"error fields lack their terminator", r.pos()};
    if (code == 0) break;
    const std::string_view value = r.cstring();
    if (r.failed()) return Malformed{"error field value lacks its NUL", r.pos()};
    e.fields.emplace_back(code, value);
  }
  return finish(r, std::move(e), "error fields truncated");
}

DecodeResult<NotificationResponse> decode_notification(Bytes body) {
  Reader r(body);
  NotificationResponse n;
  n.process_id = r.u32();
  n.channel = r.cstring();
  n.payload = r.cstring();
  return finish(r, n, "NotificationResponse truncated");
}

void encode_auth_ok(Writer& w) { encode_auth_code(w, AuthCode::kOk, {}); }
void encode_auth_cleartext(Writer& w) { encode_auth_code(w, AuthCode::kCleartextPassword, {}); }
void encode_auth_md5(Writer& w, const std::uint8_t salt[4]) {
  encode_auth_code(w, AuthCode::kMd5Password, Bytes(salt, 4));
}

void encode_auth_sasl(Writer& w, const std::vector<std::string_view>& mechanisms) {
  const std::size_t at = begin_message(w, kAuthentication);
  w.u32(static_cast<std::uint32_t>(AuthCode::kSasl));
  for (std::string_view m : mechanisms) w.cstring(m);
  w.u8(0);
  end_message(w, at);
}

void encode_auth_sasl_continue(Writer& w, Bytes data) { encode_auth_code(w, AuthCode::kSaslContinue, data); }
void encode_auth_sasl_final(Writer& w, Bytes data) { encode_auth_code(w, AuthCode::kSaslFinal, data); }

void encode_parameter_status(Writer& w, std::string_view name, std::string_view value) {
  const std::size_t at = begin_message(w, kParameterStatus);
  w.cstring(name);
  w.cstring(value);
  end_message(w, at);
}

void encode_backend_key_data(Writer& w, const BackendKeyData& k) {
  const std::size_t at = begin_message(w, kBackendKeyData);
  w.u32(k.process_id);
  w.u32(k.secret_key);
  end_message(w, at);
}

void encode_ready_for_query(Writer& w, TxStatus status) {
  const std::size_t at = begin_message(w, kReadyForQuery);
  w.u8(static_cast<std::uint8_t>(status));
  end_message(w, at);
}

void encode_command_complete(Writer& w, std::string_view tag) {
  const std::size_t at = begin_message(w, kCommandComplete);
  w.cstring(tag);
  end_message(w, at);
}

void encode_parse_complete(Writer& w) { encode_empty(w, kParseComplete); }
void encode_bind_complete(Writer& w) { encode_empty(w, kBindComplete); }
void encode_close_complete(Writer& w) { encode_empty(w, kCloseComplete); }
void encode_no_data(Writer& w) { encode_empty(w, kNoData); }
void encode_empty_query(Writer& w) { encode_empty(w, kEmptyQueryResponse); }

void encode_error(Writer& w, const ErrorSpec& e) { encode_fields(w, kErrorResponse, e); }
void encode_notice(Writer& w, const ErrorSpec& e) { encode_fields(w, kNoticeResponse, e); }

}  // namespace baton::protocol::pg::be
