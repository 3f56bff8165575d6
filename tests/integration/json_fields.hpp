// Reading fields of the admin API's JSON answers in integration tests (absent or mistyped: a neutral value).
#pragma once

#include <cmath>
#include <string>

#include <boost/json.hpp>

namespace baton::test {

// The text as a JSON object; empty when it is not one.
inline boost::json::object parse_object(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return {};
  return v.as_object();
}

// A string field; "" when absent or not a string.
inline std::string str(const boost::json::object& o, const char* key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return "";
  return std::string(v->as_string());
}

// A number field as double; NaN when absent, null or not a number.
inline double num(const boost::json::object& o, const char* key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr) return std::nan("");
  if (v->is_int64()) return static_cast<double>(v->as_int64());
  if (v->is_uint64()) return static_cast<double>(v->as_uint64());
  if (v->is_double()) return v->as_double();
  return std::nan("");
}

// A number field truncated to an integer; -1 when absent or not a number.
inline long long integer(const boost::json::object& o, const char* key) {
  const double d = num(o, key);
  return std::isnan(d) ? -1 : static_cast<long long>(d);
}

// The JSON object a client script printed as its last line starting with '{': the output merges
// stdout and stderr, and libpq prints some server messages (a FATAL reaching a connection that is
// being set up or closed) to stderr. Null when there is none.
inline boost::json::value last_json_line(const std::string& output) {
  std::size_t at = output.rfind("\n{");
  at = at == std::string::npos ? (output.starts_with("{") ? 0 : std::string::npos) : at + 1;
  if (at == std::string::npos) return nullptr;
  const std::size_t end = output.find('\n', at);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(output.substr(at, end == std::string::npos ? end : end - at), ec);
  if (ec) return nullptr;
  return v;
}

// True when the field is present and null.
inline bool is_null(const boost::json::object& o, const char* key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_null();
}

}  // namespace baton::test
