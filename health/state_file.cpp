// Encoding and strict decoding of the failover state file's key=value text.
#include "health/state_file.hpp"

#include <charconv>
#include <limits>
#include <optional>

namespace baton::health {

namespace {

constexpr std::string_view kVersion = "1";

bool valid_name(std::string_view name) {
  if (name.empty() || name.front() == ' ' || name.back() == ' ') return false;
  for (char c : name) {
    if (c == '\n' || c == '\r' || c == '\0') return false;
  }
  return true;
}

// Digits only (no sign, no spaces), within [0, max].
std::optional<std::uint64_t> parse_number(std::string_view s, std::uint64_t max) {
  if (s.empty()) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

}  // namespace

std::string encode_state(const StateRecord& r) {
  std::string out = "# baton failover state: do not edit while baton runs\n";
  out += "version=";
  out += kVersion;
  out += "\nepoch=" + std::to_string(r.epoch) + "\n";
  out += "timeline=" + std::to_string(r.timeline) + "\n";
  out += "primary=" + r.primary + "\n";
  for (const std::string& f : r.fenced) out += "fenced=" + f + "\n";
  return out;
}

std::variant<StateRecord, StateFileError> decode_state(std::string_view text) {
  StateRecord r;
  bool seen_version = false, seen_epoch = false, seen_timeline = false, seen_primary = false;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;

    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) return StateFileError{"expected key=value", line_no};
    std::string_view key = line.substr(0, eq);
    std::string_view value = line.substr(eq + 1);
    auto duplicate = [&](bool& seen) {
      bool was = seen;
      seen = true;
      return was;
    };
    if (key == "version") {
      if (duplicate(seen_version)) return StateFileError{"duplicate key version", line_no};
      if (value != kVersion) return StateFileError{"unsupported version", line_no};
    } else if (key == "epoch") {
      if (duplicate(seen_epoch)) return StateFileError{"duplicate key epoch", line_no};
      auto v = parse_number(value, std::numeric_limits<std::uint64_t>::max());
      if (!v) return StateFileError{"epoch is not an unsigned 64-bit number", line_no};
      r.epoch = *v;
    } else if (key == "timeline") {
      if (duplicate(seen_timeline)) return StateFileError{"duplicate key timeline", line_no};
      auto v = parse_number(value, std::numeric_limits<std::uint32_t>::max());
      if (!v) return StateFileError{"timeline is not an unsigned 32-bit number", line_no};
      r.timeline = static_cast<std::uint32_t>(*v);
    } else if (key == "primary") {
      if (duplicate(seen_primary)) return StateFileError{"duplicate key primary", line_no};
      if (!value.empty() && !valid_name(value)) return StateFileError{"invalid node name", line_no};
      r.primary = std::string(value);
    } else if (key == "fenced") {
      if (!valid_name(value)) return StateFileError{"invalid node name", line_no};
      for (const std::string& f : r.fenced) {
        if (f == value) return StateFileError{"node fenced twice", line_no};
      }
      r.fenced.emplace_back(value);
    } else {
      return StateFileError{"unknown key", line_no};
    }
  }
  if (!seen_version) return StateFileError{"missing version", 0};
  if (!seen_epoch) return StateFileError{"missing epoch", 0};
  if (!seen_timeline) return StateFileError{"missing timeline", 0};
  return r;
}

}  // namespace baton::health
