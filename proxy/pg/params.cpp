// Session parameter bookkeeping for transaction pooling: sets, the tracked list, the aligning SQL.
#include "proxy/pg/params.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>

namespace baton::proxy::pg {

namespace {
// Parameter names are ASCII identifiers: fold ASCII letters only (no locale lookup per character).
constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i] && ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

std::uint64_t new_params_stamp() {
  static std::atomic<std::uint64_t> last{0};
  return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

std::size_t ParamSet::set(std::string_view name, std::string_view value) {
  stamp_ = new_params_stamp();
  for (std::size_t i = 0; i < items_.size(); ++i) {
    if (iequals(items_[i].first, name)) {
      items_[i].second.assign(value);
      return i;
    }
  }
  items_.emplace_back(std::string(name), std::string(value));
  return items_.size() - 1;
}

void ParamSet::erase(std::string_view name) {
  stamp_ = new_params_stamp();
  std::erase_if(items_, [&](const auto& item) { return iequals(item.first, name); });
}

const std::string* ParamSet::get(std::string_view name) const {
  // Names are almost always spelled as stored (both come from the server's ParameterStatus).
  for (const auto& [n, v] : items_) {
    if (n == name) return &v;
  }
  for (const auto& [n, v] : items_) {
    if (iequals(n, name)) return &v;
  }
  return nullptr;
}

int tracked_reported_index(std::string_view name) {
  // Checked for every parameter at every server attachment: the six names differ in length, and are
  // almost always spelled as PostgreSQL reports them (one memcmp before folding case).
  auto is = [name](std::string_view known) { return name == known || iequals(name, known); };
  switch (name.size()) {
    case 8: return is("TimeZone") ? 0 : -1;
    case 9: return is("DateStyle") ? 1 : -1;
    case 13: return is("IntervalStyle") ? 2 : -1;
    case 15: return is("client_encoding") ? 3 : -1;
    case 16: return is("application_name") ? 4 : -1;
    case 27: return is("standard_conforming_strings") ? 5 : -1;
    default: return -1;
  }
}

bool is_tracked_reported(std::string_view name) { return tracked_reported_index(name) >= 0; }

void ReportedParams::set(std::string_view name, std::string_view value) {
  const std::size_t at = all_.set(name, value);
  // (More than 254 reported parameters would be news: such an entry is simply not tracked.)
  if (int i = tracked_reported_index(name); i >= 0 && at < kAbsent) {
    at_[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(at);
  }
}

std::string_view tracked_reported_name(std::size_t slot) {
  static constexpr std::array<std::string_view, kTrackedReported> kNames{
      "TimeZone", "DateStyle", "IntervalStyle", "client_encoding", "application_name", "standard_conforming_strings"};
  return kNames.at(slot);
}

bool TrackedParams::set(std::string_view name, std::string_view value) {
  const int slot = tracked_reported_index(name);
  if (slot < 0) return false;
  set(static_cast<std::size_t>(slot), value);
  return true;
}

bool TrackedParams::agree_in(const ReportedParams& server) const {
  for (std::size_t i = 0; i < kTrackedReported; ++i) {
    if (!has(i)) continue;
    const std::string* theirs = server.tracked(i);
    if (theirs == nullptr || *theirs != values_[i]) return false;
  }
  return true;
}

std::string quote_literal(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 2);
  out.push_back('\'');
  for (char c : value) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

namespace {
void append_statement(std::string& sql, std::string_view stmt) {
  if (!sql.empty()) sql.append("; ");
  sql.append(stmt);
}

// Epochs of every StateTable in the process: a table's numbers are never another's.
std::uint64_t new_table_epoch() {
  static std::atomic<std::uint32_t> last{0};
  return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

void append_sized(std::string& key, std::string_view text) {
  const auto n = static_cast<std::uint32_t>(text.size());
  key.append(reinterpret_cast<const char*>(&n), sizeof n);
  key.append(text);
}

template <typename Reported>
std::uint64_t cached_state_id(StateTable& table, StateId& cache, const Reported& reported, const ParamSet& other,
                              const std::string* (*slot_value)(const Reported&, std::size_t)) {
  if (cache.reported_stamp == reported.stamp() && cache.other_stamp == other.stamp() && table.current(cache.id)) {
    return cache.id;
  }
  std::string key;
  for (std::size_t slot = 0; slot < kTrackedReported; ++slot) {
    const std::string* value = slot_value(reported, slot);
    key.push_back(value != nullptr ? 'v' : '-');
    if (value != nullptr) append_sized(key, *value);
  }
  for (const auto& [name, value] : other.items()) {
    append_sized(key, name);
    append_sized(key, value);
  }
  cache.id = table.id_of(key);
  cache.reported_stamp = reported.stamp();
  cache.other_stamp = other.stamp();
  return cache.id;
}
}  // namespace

StateTable::StateTable() : epoch_(new_table_epoch()) {}

std::uint64_t StateTable::id_of(const std::string& key) {
  if (ids_.size() >= kMaxStates) {
    ids_.clear();
    epoch_ = new_table_epoch();
  }
  const auto [it, added] = ids_.try_emplace(key, static_cast<std::uint32_t>(ids_.size() + 1));
  return (epoch_ << 32) | it->second;
}

std::uint64_t state_id(const ClientParams& client, StateTable& table) {
  return cached_state_id<TrackedParams>(table, client.id, client.reported, client.other,
                                        [](const TrackedParams& r, std::size_t slot) { return r.get(slot); });
}

std::uint64_t state_id(const SessionParams& server, StateTable& table) {
  return cached_state_id<ReportedParams>(table, server.id, server.reported, server.other,
                                         [](const ReportedParams& r, std::size_t slot) { return r.tracked(slot); });
}

std::string sync_sql(const ClientParams& client, const SessionParams& server, StateTable* table) {
  std::string sql;
  // The common case in transaction pooling: the connection already has the client's state.
  if (table != nullptr && state_id(client, *table) == state_id(server, *table)) return sql;
  if (client.other == server.other && client.reported.agree_in(server.reported)) return sql;
  for (std::size_t i = 0; i < kTrackedReported; ++i) {
    const std::string* want = client.reported.get(i);
    if (want == nullptr) continue;
    const std::string* have = server.reported.tracked(i);
    if (have != nullptr && *have == *want) continue;
    append_statement(sql, "SET " + std::string(tracked_reported_name(i)) + " TO " + quote_literal(*want));
  }
  for (const auto& [name, value] : server.other.items()) {
    if (client.other.get(name) == nullptr) append_statement(sql, "RESET " + name);
  }
  for (const auto& [name, value] : client.other.items()) {
    const std::string* have = server.other.get(name);
    if (have != nullptr && *have == value) continue;
    append_statement(sql, "SET " + name + " TO " + value);
  }
  return sql;
}

bool parse_startup_options(std::string_view options, std::vector<std::pair<std::string, std::string>>& out) {
  // Words are separated by spaces; a backslash escapes the next character (as libpq documents).
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < options.size(); ++i) {
    char c = options[i];
    if (c == '\\' && i + 1 < options.size()) {
      word.push_back(options[++i]);
      in_word = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word.push_back(c);
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));

  auto add = [&](std::string_view item) {
    auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) return false;
    std::string name(item.substr(0, eq));
    std::replace(name.begin(), name.end(), '-', '_');
    out.emplace_back(std::move(name), std::string(item.substr(eq + 1)));
    return true;
  };
  for (std::size_t i = 0; i < words.size(); ++i) {
    std::string_view w = words[i];
    if (w == "-c") {
      if (i + 1 >= words.size() || !add(words[++i])) return false;
    } else if (w.starts_with("-c")) {
      if (!add(w.substr(2))) return false;
    } else if (w.starts_with("--")) {
      if (!add(w.substr(2))) return false;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace baton::proxy::pg
