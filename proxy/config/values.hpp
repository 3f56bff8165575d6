// Pure parsers for the settings written as strings: durations, sizes, listen addresses, SCRAM verifiers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/config/config.hpp"

namespace baton::proxy::config {

// A parse that either gives a value or says, in a few words, what is wrong (never echoing the input).
template <class T>
struct Parsed {
  std::optional<T> value;
  std::string error;  // set when value is empty
};

// "<digits><unit>" with unit ms, s, m or h: "500ms", "15s", "2m", "1h", "0s".
Parsed<Duration> parse_duration(std::string_view text);

// "<digits><unit>" with unit B, KiB, MiB or GiB: "4096B", "512KiB", "64MiB", "1GiB" (in bytes).
Parsed<std::uint64_t> parse_size(std::string_view text);

// The inverse of parse_duration and parse_size, in the largest unit that is exact: "200ms", "5s", "2m",
// "1h", "0s"; "16MiB", "1536KiB", "0B".
std::string format_duration(Duration d);
std::string format_size(std::uint64_t bytes);

struct HostPort {
  std::string host;  // without brackets: "::1" for "[::1]:6432"
  std::uint16_t port = 0;
};
// "host:port" or "[ipv6]:port", port 1..65535.
Parsed<HostPort> parse_host_port(std::string_view text);

// Formats a host and port the way parse_host_port reads them ("[::1]:5432" for IPv6).
std::string format_host_port(std::string_view host, std::uint16_t port);

// A function name for the classifier's list of volatile functions: letters, digits, '_' and '$' (not first),
// optionally ending in '*' (every name with that prefix), without a schema. Returned lowercased, as the
// classifier compares unquoted names.
Parsed<std::string> normalize_function_name(std::string_view text);

// Checks the shape PostgreSQL stores in pg_authid.rolpassword (RFC 5803 style):
// "SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>",
// iterations >= 1, keys 32 bytes (SHA-256). The message never repeats the verifier.
Parsed<bool> check_scram_verifier(std::string_view text);

}  // namespace baton::proxy::config
