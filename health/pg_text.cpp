// Parsing and formatting of PostgreSQL's text forms for the monitor: LSNs, timelines, conninfo, literals.
#include "health/pg_text.hpp"

#include <cctype>
#include <charconv>
#include <cstdlib>

namespace baton::health {

namespace {

std::optional<std::uint64_t> parse_hex(std::string_view s, std::size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::optional<double> parse_double(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0') return std::nullopt;
  return v;
}

std::optional<std::uint64_t> parse_unsigned(const std::string& s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<Lsn> parse_lsn(std::string_view text) {
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto hi = parse_hex(text.substr(0, slash), 8);
  auto lo = parse_hex(text.substr(slash + 1), 8);
  if (!hi || !lo) return std::nullopt;
  return (*hi << 32) | *lo;
}

std::string format_lsn(Lsn lsn) {
  char buf[32];
  auto hex = [](char* p, char* e, std::uint64_t v) { return std::to_chars(p, e, v, 16).ptr; };
  char* p = hex(buf, buf + sizeof buf, lsn >> 32);
  *p++ = '/';
  p = hex(p, buf + sizeof buf, lsn & 0xffffffffu);
  std::string out(buf, p);
  for (char& c : out) {
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::optional<std::uint32_t> parse_timeline_hex(std::string_view text) {
  if (text.size() != 8 && text.size() != 24) return std::nullopt;
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  auto v = parse_hex(text.substr(0, 8), 8);
  if (!v) return std::nullopt;
  return static_cast<std::uint32_t>(*v);
}

ProbeStatus classify_connect_failure(std::string_view m) {
  if (contains(m, "password authentication failed") || contains(m, "authentication failed for user") ||
      contains(m, "no pg_hba.conf entry") || (contains(m, "role \"") && contains(m, "\" does not exist")) ||
      contains(m, "password is required") || contains(m, "no password supplied")) {
    return ProbeStatus::kAuthError;
  }
  if (contains(m, "Connection refused") || contains(m, "No such file or directory") ||
      contains(m, "Network is unreachable") || contains(m, "No route to host")) {
    return ProbeStatus::kRefused;
  }
  if (contains(m, "timeout expired") || contains(m, "timed out")) return ProbeStatus::kTimeout;
  return ProbeStatus::kOther;
}

std::optional<std::vector<ConnParam>> parse_conninfo(std::string_view text) {
  std::vector<ConnParam> out;
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (true) {
    while (i < n && is_space(text[i])) ++i;
    if (i == n) break;
    ConnParam p;
    while (i < n && text[i] != '=' && !is_space(text[i])) p.key += text[i++];
    while (i < n && is_space(text[i])) ++i;
    if (p.key.empty() || i == n || text[i] != '=') return std::nullopt;
    ++i;
    while (i < n && is_space(text[i])) ++i;
    if (i < n && text[i] == '\'') {
      ++i;
      bool closed = false;
      while (i < n) {
        char c = text[i++];
        if (c == '\\' && i < n) {
          p.value += text[i++];
        } else if (c == '\'') {
          closed = true;
          break;
        } else {
          p.value += c;
        }
      }
      if (!closed) return std::nullopt;
    } else {
      while (i < n && !is_space(text[i])) {
        char c = text[i++];
        if (c == '\\' && i < n) c = text[i++];
        p.value += c;
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::string format_conninfo(const std::vector<ConnParam>& params) {
  std::string out;
  for (const ConnParam& p : params) {
    if (!out.empty()) out += ' ';
    out += p.key;
    out += '=';
    bool quote = p.value.empty();
    for (char c : p.value) {
      if (is_space(c) || c == '\'' || c == '\\') quote = true;
    }
    if (!quote) {
      out += p.value;
      continue;
    }
    out += '\'';
    for (char c : p.value) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    out += '\'';
  }
  return out;
}

std::vector<ConnParam> repoint_conninfo(std::vector<ConnParam> params, const std::string& host, std::uint16_t port) {
  std::erase_if(params, [](const ConnParam& p) { return p.key == "hostaddr"; });
  bool have_host = false, have_port = false;
  for (ConnParam& p : params) {
    if (p.key == "host") {
      p.value = host;
      have_host = true;
    } else if (p.key == "port") {
      p.value = std::to_string(port);
      have_port = true;
    }
  }
  if (!have_host) params.push_back({"host", host});
  if (!have_port) params.push_back({"port", std::to_string(port)});
  return params;
}

std::string quote_literal(std::string_view text) {
  const bool backslash = text.find('\\') != std::string_view::npos;
  std::string out = backslash ? "E'" : "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    if (c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

// Timeline: a primary's current one from its WAL file name (pg_control_checkpoint() lags behind until
// the first checkpoint after a promotion); a standby's from its WAL receiver, else its last checkpoint.
const char* const kProbeQuery =
    "SELECT s.r, "
    "CASE WHEN NOT s.r THEN substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END, "
    "w.received_tli, "
    "(SELECT timeline_id FROM pg_control_checkpoint()), "
    "CASE WHEN NOT s.r THEN pg_current_wal_lsn() END, "
    "pg_last_wal_receive_lsn(), "
    "pg_last_wal_replay_lsn(), "
    "CASE WHEN s.r THEN CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END END, "
    "w.status, w.sender_host, w.sender_port "
    "FROM (SELECT pg_is_in_recovery() AS r) s LEFT JOIN pg_stat_wal_receiver w ON true";

std::optional<std::string> decode_probe_row(const TextRow& row, ProbeResult& out) {
  if (row.size() != 11) return "probe row has " + std::to_string(row.size()) + " columns, expected 11";
  if (!row[0] || (*row[0] != "t" && *row[0] != "f")) return std::string("pg_is_in_recovery() is not a boolean");
  out.in_recovery = *row[0] == "t";

  auto lsn = [&](std::size_t i, Lsn& into) -> std::optional<std::string> {
    into = 0;
    if (!row[i]) return std::nullopt;
    auto v = parse_lsn(*row[i]);
    if (!v) return "bad LSN '" + *row[i] + "'";
    into = *v;
    return std::nullopt;
  };
  if (auto e = lsn(4, out.current_lsn)) return e;
  if (auto e = lsn(5, out.receive_lsn)) return e;
  if (auto e = lsn(6, out.replay_lsn)) return e;

  out.timeline = 0;
  if (!out.in_recovery) {
    auto tl = row[1] ? parse_timeline_hex(*row[1]) : std::nullopt;
    if (!tl) return std::string("bad WAL file name timeline");
    out.timeline = *tl;
  } else {
    const auto& text = row[2] ? row[2] : row[3];
    auto tl = text ? parse_unsigned(*text) : std::nullopt;
    if (tl) out.timeline = static_cast<std::uint32_t>(*tl);
  }

  out.replay_lag_seconds = 0;
  if (row[7]) {
    auto v = parse_double(*row[7]);
    if (!v) return "bad lag '" + *row[7] + "'";
    out.replay_lag_seconds = *v < 0 ? 0 : *v;
  }

  out.streaming_from.reset();
  if (row[8] && *row[8] == "streaming" && row[9] && row[10]) {
    auto port = parse_unsigned(*row[10]);
    if (port && *port <= 65535) out.streaming_from = WalSender{*row[9], static_cast<std::uint16_t>(*port)};
  }
  return std::nullopt;
}

}  // namespace baton::health
