// Pure parsers for the settings written as strings: durations, sizes, listen addresses, SCRAM verifiers.
#include "proxy/config/values.hpp"

#include <array>
#include <charconv>
#include <limits>

namespace baton::proxy::config {
namespace {

struct NumberAndUnit {
  std::uint64_t number = 0;
  std::string_view unit;
};

// Splits "<digits><unit>"; fails on an empty number, a sign, a fraction or an overflow.
Parsed<NumberAndUnit> split_number(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return {std::nullopt, "must start with a whole number"};
  NumberAndUnit out;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, out.number);
  if (ec != std::errc{} || end != text.data() + digits) return {std::nullopt, "number is too large"};
  out.unit = text.substr(digits);
  if (!out.unit.empty() && out.unit.front() == '.') {
    return {std::nullopt, "must be a whole number (use a smaller unit instead of a fraction)"};
  }
  return {out, {}};
}

template <std::size_t N>
std::optional<std::uint64_t> unit_factor(std::string_view unit,
                                         const std::array<std::pair<std::string_view, std::uint64_t>, N>& table) {
  for (const auto& [name, factor] : table) {
    if (name == unit) return factor;
  }
  return std::nullopt;
}

constexpr std::array<std::pair<std::string_view, std::uint64_t>, 4> kDurationUnits{{
    {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}}};
constexpr std::array<std::pair<std::string_view, std::uint64_t>, 4> kSizeUnits{{
    {"B", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}}};

// Length of the data a strict, padded base64 string decodes to; nullopt if it is not one.
std::optional<std::size_t> base64_length(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                 c == '/';
    if (c == '=') {
      if (i + 2 < s.size()) return std::nullopt;  // '=' only in the last two places
      ++pad;
    } else if (!alpha || pad > 0) {
      return std::nullopt;
    }
  }
  return s.size() / 4 * 3 - pad;
}

}  // namespace

Parsed<Duration> parse_duration(std::string_view text) {
  auto split = split_number(text);
  if (!split.value) return {std::nullopt, "a duration " + split.error + ", then a unit (ms, s, m, h)"};
  if (split.value->unit.empty()) return {std::nullopt, "a duration needs a unit: ms, s, m or h (e.g. \"15s\")"};
  auto factor = unit_factor(split.value->unit, kDurationUnits);
  if (!factor) return {std::nullopt, "unknown duration unit; use ms, s, m or h"};
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max());
  if (split.value->number > kMax / *factor) return {std::nullopt, "duration is too large"};
  return {Duration{static_cast<Duration::rep>(split.value->number * *factor)}, {}};
}

Parsed<std::uint64_t> parse_size(std::string_view text) {
  auto split = split_number(text);
  if (!split.value) return {std::nullopt, "a size " + split.error + ", then a unit (B, KiB, MiB, GiB)"};
  if (split.value->unit.empty()) {
    return {std::nullopt, "a size string needs a unit: B, KiB, MiB or GiB (or give an integer of bytes)"};
  }
  auto factor = unit_factor(split.value->unit, kSizeUnits);
  if (!factor) return {std::nullopt, "unknown size unit; use B, KiB, MiB or GiB"};
  if (split.value->number > std::numeric_limits<std::uint64_t>::max() / *factor) {
    return {std::nullopt, "size is too large"};
  }
  return {split.value->number * *factor, {}};
}

std::string format_duration(Duration d) {
  const auto ms = d.count();
  if (ms == 0) return "0s";
  for (auto it = kDurationUnits.rbegin(); it != kDurationUnits.rend(); ++it) {
    const auto factor = static_cast<Duration::rep>(it->second);
    if (ms % factor == 0) return std::to_string(ms / factor) + std::string(it->first);
  }
  return std::to_string(ms) + "ms";
}

std::string format_size(std::uint64_t bytes) {
  if (bytes == 0) return "0B";
  for (auto it = kSizeUnits.rbegin(); it != kSizeUnits.rend(); ++it) {
    if (bytes % it->second == 0) return std::to_string(bytes / it->second) + std::string(it->first);
  }
  return std::to_string(bytes) + "B";
}

Parsed<HostPort> parse_host_port(std::string_view text) {
  HostPort out;
  std::string_view rest;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return {std::nullopt, "missing ']' after the IPv6 address"};
    out.host = std::string(text.substr(1, close - 1));
    rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return {std::nullopt, "expected \":port\" after \"]\""};
    rest.remove_prefix(1);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return {std::nullopt, "expected \"host:port\""};
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos) {
      return {std::nullopt, "an IPv6 address needs brackets: \"[::1]:6432\""};
    }
    rest = text.substr(colon + 1);
  }
  if (out.host.empty()) return {std::nullopt, "the host is empty"};
  for (char c : out.host) {
    if (c == ' ' || c == '\t' || c == '[' || c == ']' || c == '/') return {std::nullopt, "the host is not valid"};
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), port);
  if (rest.empty() || ec != std::errc{} || end != rest.data() + rest.size()) {
    return {std::nullopt, "the port must be a number"};
  }
  if (port < 1 || port > 65535) return {std::nullopt, "the port must be between 1 and 65535"};
  out.port = static_cast<std::uint16_t>(port);
  return {out, {}};
}

std::string format_host_port(std::string_view host, std::uint16_t port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  return out + ":" + std::to_string(port);
}

Parsed<std::string> normalize_function_name(std::string_view text) {
  std::string_view name = text;
  if (!name.empty() && name.back() == '*') name.remove_suffix(1);
  if (name.empty()) return {std::nullopt, "a function name must not be empty"};
  if (name.find('.') != std::string_view::npos) {
    return {std::nullopt, "give the function name without its schema (it matches in every schema)"};
  }
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
    const bool later = (c >= '0' && c <= '9') || c == '$';
    if (!letter && !(later && i > 0)) {
      return {std::nullopt, "a function name is letters, digits, '_' and '$' (not first), optionally ending in '*'"};
    }
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c));
  }
  if (text.back() == '*') out.push_back('*');
  return {out, {}};
}

Parsed<bool> check_scram_verifier(std::string_view text) {
  constexpr std::string_view kPrefix = "SCRAM-SHA-256$";
  const std::string_view kShape = " (expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)";
  if (text.substr(0, kPrefix.size()) != kPrefix) {
    return {std::nullopt, std::string("does not start with \"SCRAM-SHA-256$\"").append(kShape)};
  }
  text.remove_prefix(kPrefix.size());
  auto dollar = text.find('$');
  if (dollar == std::string_view::npos) return {std::nullopt, std::string("has no keys part").append(kShape)};
  std::string_view iter_salt = text.substr(0, dollar);
  std::string_view keys = text.substr(dollar + 1);
  auto colon1 = iter_salt.find(':');
  auto colon2 = keys.find(':');
  if (colon1 == std::string_view::npos || colon2 == std::string_view::npos) {
    return {std::nullopt, std::string("is missing a ':'").append(kShape)};
  }
  std::string_view iterations = iter_salt.substr(0, colon1);
  unsigned long iter = 0;
  auto [end, ec] = std::from_chars(iterations.data(), iterations.data() + iterations.size(), iter);
  if (iterations.empty() || ec != std::errc{} || end != iterations.data() + iterations.size() || iter < 1 ||
      iter > static_cast<unsigned long>(std::numeric_limits<int>::max())) {
    return {std::nullopt, "has an invalid iteration count"};
  }
  if (!base64_length(iter_salt.substr(colon1 + 1))) return {std::nullopt, "has a salt that is not base64"};
  if (base64_length(keys.substr(0, colon2)) != 32u) {
    return {std::nullopt, "has a StoredKey that is not 32 bytes of base64"};
  }
  if (base64_length(keys.substr(colon2 + 1)) != 32u) {
    return {std::nullopt, "has a ServerKey that is not 32 bytes of base64"};
  }
  return {true, {}};
}

}  // namespace baton::proxy::config
