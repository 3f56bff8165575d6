// Reading typed values out of parsed TOML tables while collecting diagnostics (internal to proxy/config/).
#include "proxy/config/reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <sys/stat.h>
#include <unistd.h>

#include "proxy/config/values.hpp"

namespace baton::proxy::config {
namespace {

std::optional<std::string> process_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string_view type_name(toml::value_t t) {
  switch (t) {
    case toml::value_t::boolean: return "a boolean";
    case toml::value_t::integer: return "an integer";
    case toml::value_t::floating: return "a float";
    case toml::value_t::string: return "a string";
    case toml::value_t::offset_datetime:
    case toml::value_t::local_datetime:
    case toml::value_t::local_date:
    case toml::value_t::local_time: return "a date/time";
    case toml::value_t::array: return "an array";
    case toml::value_t::table: return "a table";
    case toml::value_t::empty: break;
  }
  return "nothing";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

int line_of_value(const toml::value& v) { return static_cast<int>(v.location().line()); }

}  // namespace

std::optional<std::string> read_text_file(const std::string& path, std::string& error) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::string out;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) out.append(buf, n);
  if (std::ferror(f.get())) {
    error = std::strerror(errno);  // e.g. EISDIR for a directory
    return std::nullopt;
  }
  return out;
}

Report::Report(std::string file, EnvLookup env) : file_(std::move(file)), env_(env ? env : &process_env) {
  auto slash = file_.rfind('/');
  if (slash != std::string::npos) base_dir_ = file_.substr(0, slash + 1);
}

void Report::error(int line, std::string key, std::string message) {
  diagnostics_.push_back(Diagnostic{file_, line, std::move(key), std::move(message)});
}

void Report::remember_line(const std::string& key, int line) { lines_.emplace(key, line); }

int Report::line_of(std::string key) const {
  while (!key.empty()) {
    if (auto it = lines_.find(key); it != lines_.end()) return it->second;
    auto cut = key.find_last_of(".[");
    if (cut == std::string::npos) break;
    key.resize(cut);
  }
  return 0;
}

std::optional<std::string> Report::env(const std::string& name) const { return env_(name.c_str()); }

std::string Report::resolve_path(const std::string& path) const {
  if (path.empty() || path.front() == '/') return path;
  return base_dir_ + path;
}

std::vector<Diagnostic> Report::take() {
  std::stable_sort(diagnostics_.begin(), diagnostics_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    auto rank = [](int line) { return line == 0 ? 1u << 30 : static_cast<unsigned>(line); };
    return rank(a.line) < rank(b.line);
  });
  return std::move(diagnostics_);
}

TableReader::TableReader(Report& report, const toml::value* table, std::string prefix, int line)
    : report_(report), table_(table), prefix_(std::move(prefix)), line_(line) {
  if (!prefix_.empty()) report_.remember_line(prefix_, line_);
}

std::string TableReader::path(std::string_view key) const {
  if (prefix_.empty()) return std::string(key);
  return prefix_ + "." + std::string(key);
}

bool TableReader::has(std::string_view key) const {
  return table_ != nullptr && table_->as_table().count(std::string(key)) != 0;
}

const toml::value* TableReader::take(std::string_view key) {
  known_.emplace(key);
  if (table_ == nullptr) return nullptr;
  const auto& t = table_->as_table();
  auto it = t.find(std::string(key));
  if (it == t.end()) return nullptr;
  report_.remember_line(path(key), line_of_value(it->second));
  return &it->second;
}

int TableReader::value_line(std::string_view key) const {
  if (table_ != nullptr) {
    const auto& t = table_->as_table();
    if (auto it = t.find(std::string(key)); it != t.end()) return line_of_value(it->second);
  }
  return line_;
}

void TableReader::type_error(const toml::value& v, std::string_view key, std::string_view expected) {
  report_.error(line_of_value(v), path(key),
                "expected " + std::string(expected) + ", got " + std::string(type_name(v.type())));
}

std::optional<std::string> TableReader::string(std::string_view key, Need need) {
  const toml::value* v = take(key);
  if (v == nullptr) {
    if (need == Need::kRequired) report_.error(line_, path(key), "is required");
    return std::nullopt;
  }
  if (!v->is_string()) {
    type_error(*v, key, "a string");
    return std::nullopt;
  }
  return v->as_string().str;
}

std::optional<std::int64_t> TableReader::integer(std::string_view key, std::int64_t min, std::int64_t max,
                                                 Need need) {
  const toml::value* v = take(key);
  if (v == nullptr) {
    if (need == Need::kRequired) report_.error(line_, path(key), "is required");
    return std::nullopt;
  }
  if (!v->is_integer()) {
    type_error(*v, key, "an integer");
    return std::nullopt;
  }
  std::int64_t n = v->as_integer();
  if (n < min || n > max) {
    report_.error(line_of_value(*v), path(key),
                  "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return n;
}

std::optional<bool> TableReader::boolean(std::string_view key) {
  const toml::value* v = take(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) {
    type_error(*v, key, "a boolean (true or false)");
    return std::nullopt;
  }
  return v->as_boolean();
}

std::optional<Duration> TableReader::duration(std::string_view key, Duration min) {
  const toml::value* v = take(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    type_error(*v, key, "a duration string with a unit (e.g. \"15s\")");
    return std::nullopt;
  }
  auto parsed = parse_duration(v->as_string().str);
  if (!parsed.value) {
    report_.error(line_of_value(*v), path(key), parsed.error);
    return std::nullopt;
  }
  if (*parsed.value < min) {
    report_.error(line_of_value(*v), path(key), "must be at least " + std::to_string(min.count()) + "ms");
    return std::nullopt;
  }
  return parsed.value;
}

std::optional<std::uint64_t> TableReader::size(std::string_view key, std::uint64_t min, std::uint64_t max) {
  const toml::value* v = take(key);
  if (v == nullptr) return std::nullopt;
  std::uint64_t bytes = 0;
  if (v->is_integer()) {
    if (v->as_integer() < 0) {
      report_.error(line_of_value(*v), path(key), "must not be negative");
      return std::nullopt;
    }
    bytes = static_cast<std::uint64_t>(v->as_integer());
  } else if (v->is_string()) {
    auto parsed = parse_size(v->as_string().str);
    if (!parsed.value) {
      report_.error(line_of_value(*v), path(key), parsed.error);
      return std::nullopt;
    }
    bytes = *parsed.value;
  } else {
    type_error(*v, key, "a size (\"64MiB\" or an integer of bytes)");
    return std::nullopt;
  }
  if (bytes < min || bytes > max) {
    report_.error(line_of_value(*v), path(key),
                  "must be between " + std::to_string(min) + " and " + std::to_string(max) + " bytes");
    return std::nullopt;
  }
  return bytes;
}

std::optional<std::pair<std::string, std::uint16_t>> TableReader::host_port(std::string_view key, Need need) {
  auto text = string(key, need);
  if (!text) return std::nullopt;
  auto parsed = parse_host_port(*text);
  if (!parsed.value) {
    report_.error(value_line(key), path(key), parsed.error);
    return std::nullopt;
  }
  return std::pair{parsed.value->host, parsed.value->port};
}

std::optional<std::string> TableReader::readable_file(std::string_view key) {
  auto text = string(key);
  if (!text || text->empty()) return text;
  std::string resolved = report_.resolve_path(*text);
  std::string why;
  if (!read_text_file(resolved, why)) {
    report_.error(value_line(key), path(key), "cannot read \"" + resolved + "\": " + why);
    return std::nullopt;
  }
  return resolved;
}

std::optional<std::string> TableReader::writable_path(std::string_view key) {
  auto text = string(key);
  if (!text || text->empty()) return text;
  std::string resolved = report_.resolve_path(*text);
  auto slash = resolved.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : resolved.substr(0, slash);
  struct stat st {};
  if (slash + 1 == resolved.size()) {
    report_.error(value_line(key), path(key), "names a directory; give a file name");
    return std::nullopt;
  }
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    report_.error(value_line(key), path(key), "directory \"" + dir + "\" does not exist");
    return std::nullopt;
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    report_.error(value_line(key), path(key), "directory \"" + dir + "\" is not writable: " + std::strerror(errno));
    return std::nullopt;
  }
  if (::stat(resolved.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    report_.error(value_line(key), path(key), "\"" + resolved + "\" is a directory; give a file name");
    return std::nullopt;
  }
  return resolved;
}

std::optional<std::vector<std::string>> TableReader::string_array(std::string_view key) {
  const toml::value* v = take(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_array()) {
    type_error(*v, key, "an array of strings");
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  const auto& items = v->as_array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_string()) {
      report_.error(line_of_value(items[i]), path(key) + "[" + std::to_string(i) + "]",
                    "expected a string, got " + std::string(type_name(items[i].type())));
      ok = false;
      continue;
    }
    out.push_back(items[i].as_string().str);
  }
  if (!ok) return std::nullopt;
  return out;
}

Secret TableReader::secret(std::string_view key) {
  const std::string k(key);
  const std::string env_key = k + "_env";
  const std::string file_key = k + "_file";
  const toml::value* direct = take(k);
  const toml::value* env = take(env_key);
  const toml::value* file = take(file_key);
  Secret out;
  int given = (direct != nullptr) + (env != nullptr) + (file != nullptr);
  if (given == 0) return out;
  out.state = Secret::State::kFailed;
  if (given > 1) {
    const std::string& second = direct != nullptr && env != nullptr ? env_key : file_key;
    report_.error(value_line(second), path(second),
                  "give only one of " + k + ", " + env_key + " and " + file_key);
    out.given_as = path(k);
    return out;
  }
  const std::string& used = direct ? k : env ? env_key : file_key;
  const toml::value& v = direct ? *direct : env ? *env : *file;
  out.given_as = path(used);
  if (!v.is_string()) {
    type_error(v, used, "a string");
    return out;
  }
  const std::string& text = v.as_string().str;
  if (direct) {
    out.value = text;
  } else if (env) {
    auto value = report_.env(text);
    if (!value) {
      report_.error(line_of_value(v), out.given_as, "environment variable " + text + " is not set");
      return out;
    }
    if (value->empty()) {
      report_.error(line_of_value(v), out.given_as, "environment variable " + text + " is empty");
      return out;
    }
    out.value = std::move(*value);
  } else {
    std::string resolved = report_.resolve_path(text);
    std::string why;
    auto contents = read_text_file(resolved, why);
    if (!contents) {
      report_.error(line_of_value(v), out.given_as, "cannot read \"" + resolved + "\": " + why);
      return out;
    }
    if (!contents->empty() && contents->back() == '\n') contents->pop_back();
    if (!contents->empty() && contents->back() == '\r') contents->pop_back();
    if (contents->empty()) {
      report_.error(line_of_value(v), out.given_as, "file \"" + resolved + "\" is empty");
      return out;
    }
    out.value = std::move(*contents);
  }
  out.state = Secret::State::kResolved;
  return out;
}

std::optional<TableReader> TableReader::table(std::string_view key) {
  const toml::value* v = take(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_table()) {
    type_error(*v, key, "a table");
    return std::nullopt;
  }
  return TableReader(report_, v, path(key), line_of_value(*v));
}

std::vector<TableReader> TableReader::array_of_tables(std::string_view key) {
  std::vector<TableReader> out;
  const toml::value* v = take(key);
  if (v == nullptr) return out;
  if (!v->is_array()) {
    type_error(*v, key, "an array of tables ([[" + path(key) + "]])");
    return out;
  }
  const auto& items = v->as_array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::string item_path = path(key) + "[" + std::to_string(i) + "]";
    if (!items[i].is_table()) {
      report_.error(line_of_value(items[i]), item_path,
                    "expected a table, got " + std::string(type_name(items[i].type())));
      continue;
    }
    out.emplace_back(report_, &items[i], item_path, line_of_value(items[i]));
  }
  return out;
}

void TableReader::finish() {
  if (table_ == nullptr) return;
  for (const auto& [key, value] : table_->as_table()) {
    if (known_.count(key) != 0) continue;
    std::string message = "unknown key";
    std::string_view best;
    std::size_t best_distance = 3;  // suggest only close matches
    for (const auto& candidate : known_) {
      std::size_t d = edit_distance(key, candidate);
      if (d < best_distance) {
        best_distance = d;
        best = candidate;
      }
    }
    if (!best.empty()) message += " (did you mean \"" + std::string(best) + "\"?)";
    report_.error(line_of_value(value), path(key), message);
  }
}

TableReader root_reader(Report& report, const toml::value& root) { return TableReader(report, &root, "", 0); }

}  // namespace baton::proxy::config
