// Session parameter bookkeeping for transaction pooling: sets, the tracked list, the aligning SQL.
#include "proxy/pg/params.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace baton::proxy::pg {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

void ParamSet::set(std::string_view name, std::string_view value) {
  for (auto& [n, v] : items_) {
    if (iequals(n, name)) {
      v.assign(value);
      return;
    }
  }
  items_.emplace_back(std::string(name), std::string(value));
}

void ParamSet::erase(std::string_view name) {
  std::erase_if(items_, [&](const auto& item) { return iequals(item.first, name); });
}

const std::string* ParamSet::get(std::string_view name) const {
  for (const auto& [n, v] : items_) {
    if (iequals(n, name)) return &v;
  }
  return nullptr;
}

bool is_tracked_reported(std::string_view name) {
  static constexpr std::array<std::string_view, 6> kTracked = {
      "client_encoding", "DateStyle", "TimeZone", "IntervalStyle", "application_name", "standard_conforming_strings"};
  return std::any_of(kTracked.begin(), kTracked.end(), [&](std::string_view t) { return iequals(t, name); });
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
}  // namespace

std::string sync_sql(const SessionParams& client, const SessionParams& server) {
  std::string sql;
  for (const auto& [name, value] : client.reported.items()) {
    if (!is_tracked_reported(name)) continue;
    const std::string* have = server.reported.get(name);
    if (have != nullptr && *have == value) continue;
    append_statement(sql, "SET " + name + " TO " + quote_literal(value));
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
