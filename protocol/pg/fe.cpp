// PostgreSQL v3 frontend messages: decoding client messages from frame bodies and encoding them.
#include "protocol/pg/fe.hpp"

namespace baton::protocol::pg::fe {

namespace {

// The verdict for a body decoder whose reader ran out or stopped early.
template <typename T>
DecodeResult<T> finish(const Reader& r, T value, const char* truncated) {
  if (r.failed()) return Malformed{truncated, r.pos()};
  if (!r.at_end()) return Malformed{"trailing bytes after the message", r.pos()};
  return Decoded<T>{std::move(value), r.pos()};
}

bool is_statement_or_portal(char kind) { return kind == 'S' || kind == 'P'; }

}  // namespace

std::string_view StartupMessage::get(std::string_view name) const {
  for (const auto& [n, v] : parameters) {
    if (n == name) return v;
  }
  return {};
}

DecodeResult<StartupMessage> decode_startup(const StartupFrame& f) {
  if (f.code == kCancelRequestCode || f.code == kSslRequestCode || f.code == kGssEncRequestCode) {
    return Malformed{"not a startup message", 4};
  }
  if ((f.code >> 16) != 3) return Malformed{"unsupported protocol version", 4};
  StartupMessage m;
  m.protocol = f.code;
  Reader r(f.body);
  for (;;) {
    const std::string_view name = r.cstring();
    if (r.failed()) return Malformed{"startup parameters lack their terminator", f.body.size()};
    if (name.empty()) break;
    const std::size_t value_at = r.pos();
    const std::string_view value = r.cstring();
    if (r.failed()) return Malformed{"startup parameter has no value", value_at};
    m.parameters.emplace_back(name, value);
  }
  if (!r.at_end()) return Malformed{"bytes after the startup terminator", r.pos()};
  return Decoded<StartupMessage>{std::move(m), r.pos()};
}

DecodeResult<CancelRequest> decode_cancel(const StartupFrame& f) {
  if (f.code != kCancelRequestCode) return Malformed{"not a cancel request", 4};
  if (f.body.size() != 8) return Malformed{"cancel request body is not 8 bytes", 0};
  Reader r(f.body);
  CancelRequest c;
  c.process_id = r.u32();
  c.secret_key = r.u32();
  return Decoded<CancelRequest>{c, 8};
}

void encode_startup(Writer& w, const std::vector<std::pair<std::string_view, std::string_view>>& params) {
  const std::size_t at = w.size();
  w.u32(0);
  w.u32(kProtocolV3);
  for (const auto& [name, value] : params) {
    w.cstring(name);
    w.cstring(value);
  }
  w.u8(0);
  w.patch_u32(at, static_cast<std::uint32_t>(w.size() - at));
}

void encode_ssl_request(Writer& w) {
  w.u32(8);
  w.u32(kSslRequestCode);
}

void encode_cancel(Writer& w, const CancelRequest& c) {
  w.u32(16);
  w.u32(kCancelRequestCode);
  w.u32(c.process_id);
  w.u32(c.secret_key);
}

DecodeResult<Query> decode_query(Bytes body) {
  Reader r(body);
  Query q;
  q.sql = r.cstring();
  return finish(r, q, "Query text lacks its NUL");
}

DecodeResult<Parse> decode_parse(Bytes body) {
  Reader r(body);
  Parse p;
  p.name = r.cstring();
  p.query = r.cstring();
  const std::uint16_t count = r.u16();
  if (r.failed()) return Malformed{"Parse truncated before the parameter types", r.pos()};
  if (r.remaining() < std::size_t{count} * 4) return Malformed{"Parse truncated in the parameter types", r.pos()};
  p.param_types.reserve(count);
  for (std::uint16_t i = 0; i < count; ++i) p.param_types.push_back(r.u32());
  return finish(r, std::move(p), "Parse truncated");
}

DecodeResult<BindHead> decode_bind_head(Bytes body) {
  Reader r(body);
  BindHead b;
  b.portal = r.cstring();
  b.statement = r.cstring();
  if (r.failed()) return Malformed{"Bind truncated before the statement name ends", r.pos()};
  b.rest = r.rest();
  return Decoded<BindHead>{b, body.size()};
}

DecodeResult<Describe> decode_describe(Bytes body) {
  Reader r(body);
  Describe d;
  d.kind = static_cast<char>(r.u8());
  if (!r.failed() && !is_statement_or_portal(d.kind)) return Malformed{"Describe kind is not S or P", 0};
  d.name = r.cstring();
  return finish(r, d, "Describe truncated");
}

DecodeResult<Execute> decode_execute(Bytes body) {
  Reader r(body);
  Execute e;
  e.portal = r.cstring();
  e.max_rows = r.u32();
  return finish(r, e, "Execute truncated");
}

DecodeResult<Close> decode_close(Bytes body) {
  Reader r(body);
  Close c;
  c.kind = static_cast<char>(r.u8());
  if (!r.failed() && !is_statement_or_portal(c.kind)) return Malformed{"Close kind is not S or P", 0};
  c.name = r.cstring();
  return finish(r, c, "Close truncated");
}

DecodeResult<PasswordMessage> decode_password(Bytes body) {
  Reader r(body);
  PasswordMessage p;
  p.password = r.cstring();
  return finish(r, p, "password lacks its NUL");
}

DecodeResult<SaslInitialResponse> decode_sasl_initial(Bytes body) {
  Reader r(body);
  SaslInitialResponse s;
  s.mechanism = r.cstring();
  const std::int32_t length = r.i32();
  if (r.failed()) return Malformed{"SASLInitialResponse truncated", r.pos()};
  if (length < -1) return Malformed{"SASLInitialResponse data length below -1", r.pos() - 4};
  if (length >= 0) {
    if (r.remaining() < static_cast<std::size_t>(length)) {
      return Malformed{"SASLInitialResponse data shorter than its length", r.pos()};
    }
    s.data = r.bytes(static_cast<std::size_t>(length));
  }
  return finish(r, s, "SASLInitialResponse truncated");
}

DecodeResult<SaslResponse> decode_sasl_response(Bytes body) {
  return Decoded<SaslResponse>{SaslResponse{body}, body.size()};
}

void encode_query(Writer& w, std::string_view sql) {
  const std::size_t at = begin_message(w, kQuery);
  w.cstring(sql);
  end_message(w, at);
}

void encode_parse(Writer& w, const Parse& p) {
  const std::size_t at = begin_message(w, kParse);
  w.cstring(p.name);
  w.cstring(p.query);
  w.u16(static_cast<std::uint16_t>(p.param_types.size()));
  for (std::uint32_t oid : p.param_types) w.u32(oid);
  end_message(w, at);
}

void encode_bind(Writer& w, std::string_view portal, std::string_view statement, Bytes rest) {
  const std::size_t at = begin_message(w, kBind);
  w.cstring(portal);
  w.cstring(statement);
  w.bytes(rest);
  end_message(w, at);
}

void encode_describe(Writer& w, const Describe& d) {
  const std::size_t at = begin_message(w, kDescribe);
  w.u8(static_cast<std::uint8_t>(d.kind));
  w.cstring(d.name);
  end_message(w, at);
}

void encode_execute(Writer& w, const Execute& e) {
  const std::size_t at = begin_message(w, kExecute);
  w.cstring(e.portal);
  w.u32(e.max_rows);
  end_message(w, at);
}

void encode_close(Writer& w, const Close& c) {
  const std::size_t at = begin_message(w, kClose);
  w.u8(static_cast<std::uint8_t>(c.kind));
  w.cstring(c.name);
  end_message(w, at);
}

void encode_sync(Writer& w) { end_message(w, begin_message(w, kSync)); }
void encode_flush(Writer& w) { end_message(w, begin_message(w, kFlush)); }
void encode_terminate(Writer& w) { end_message(w, begin_message(w, kTerminate)); }

void encode_password(Writer& w, std::string_view password) {
  const std::size_t at = begin_message(w, kPassword);
  w.cstring(password);
  end_message(w, at);
}

void encode_sasl_initial(Writer& w, std::string_view mechanism, Bytes data) {
  const std::size_t at = begin_message(w, kPassword);
  w.cstring(mechanism);
  if (data.empty()) {
    w.i32(-1);
  } else {
    w.u32(static_cast<std::uint32_t>(data.size()));
    w.bytes(data);
  }
  end_message(w, at);
}

void encode_sasl_response(Writer& w, Bytes data) {
  const std::size_t at = begin_message(w, kPassword);
  w.bytes(data);
  end_message(w, at);
}

void encode_copy_data(Writer& w, Bytes data) {
  const std::size_t at = begin_message(w, kCopyData);
  w.bytes(data);
  end_message(w, at);
}

void encode_copy_done(Writer& w) { end_message(w, begin_message(w, kCopyDone)); }

void encode_copy_fail(Writer& w, std::string_view message) {
  const std::size_t at = begin_message(w, kCopyFail);
  w.cstring(message);
  end_message(w, at);
}

}  // namespace baton::protocol::pg::fe
