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

// True when the field is present and null.
inline bool is_null(const boost::json::object& o, const char* key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_null();
}

}  // namespace baton::test
