// The text forms PostgreSQL hands the monitor: LSNs, timelines, conninfo strings, SQL literals, the probe row.
//
// Pure (no libpq, no I/O): the probe, the actuator and the unit tests share these.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "health/events.hpp"
#include "health/topology.hpp"

namespace baton::health {

// "16/B374D848" (pg_lsn's text form: two hex numbers of at most 8 digits) -> 0x16B374D848.
std::optional<Lsn> parse_lsn(std::string_view text);
std::string format_lsn(Lsn lsn);

// The timeline in the first 8 hex digits of a WAL file name ("0000000300000000000000A1" -> 3), or 8
// hex digits alone.
std::optional<std::uint32_t> parse_timeline_hex(std::string_view text);

// How a failed connection attempt ends, from libpq's message (PQerrorMessage). libpq exposes no
// SQLSTATE for a failed connection, so this reads the English texts of the server (28P01 password
// authentication failed, 28000 no pg_hba.conf entry / role does not exist) and of the C library.
ProbeStatus classify_connect_failure(std::string_view message);

// One keyword=value setting of a libpq connection string.
struct ConnParam {
  std::string key;
  std::string value;
  bool operator==(const ConnParam&) const = default;
};

// Parses libpq's keyword/value form ("host=a port=5432 application_name='x y'"): spaces around '=',
// single-quoted values, backslash escapes (\' and \\). Not the URI form. nullopt when malformed.
std::optional<std::vector<ConnParam>> parse_conninfo(std::string_view text);
// The keyword/value form again; values quoted when empty or holding a space, quote or backslash.
std::string format_conninfo(const std::vector<ConnParam>& params);
// `params` pointing at host:port: host and port replaced (or appended), hostaddr removed (it would
// override host), every other setting kept in its place.
std::vector<ConnParam> repoint_conninfo(std::vector<ConnParam> params, const std::string& host, std::uint16_t port);

// A SQL string literal: 'it''s'; E'a\\b' when the text holds a backslash.
std::string quote_literal(std::string_view text);

// The one query of a probe (one round trip) and its row decoded into `out` (status and node untouched).
// Returns an error text when the row does not have the expected shape.
extern const char* const kProbeQuery;
using TextRow = std::vector<std::optional<std::string>>;
std::optional<std::string> decode_probe_row(const TextRow& row, ProbeResult& out);

}  // namespace baton::health
