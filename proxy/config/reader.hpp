// Reading typed values out of parsed TOML tables while collecting diagnostics (internal to proxy/config/).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <toml.hpp>

#include "proxy/config/config.hpp"

namespace baton::proxy::config {

// Reads a whole file; on failure returns nullopt and sets `error` to the reason (strerror).
std::optional<std::string> read_text_file(const std::string& path, std::string& error);

// Where the loader reports problems, plus what it needs from the outside world (env, base directory).
class Report {
 public:
  Report(std::string file, EnvLookup env);

  void error(int line, std::string key, std::string message);
  // Remembers the line a dotted key was read from, for checks that run after reading.
  void remember_line(const std::string& key, int line);
  // The line of `key`, else of its closest enclosing key that was remembered, else 0.
  int line_of(std::string key) const;

  std::optional<std::string> env(const std::string& name) const;
  // Relative paths are taken relative to the directory of the configuration file.
  std::string resolve_path(const std::string& path) const;

  bool has_errors() const { return !diagnostics_.empty(); }
  // Every diagnostic, ordered by line (those without a line last).
  std::vector<Diagnostic> take();

 private:
  std::string file_;
  std::string base_dir_;
  EnvLookup env_;
  std::vector<Diagnostic> diagnostics_;
  std::map<std::string, int> lines_;
};

enum class Need { kOptional, kRequired };

// A secret given as `key`, `key_env` or `key_file`.
struct Secret {
  enum class State { kAbsent, kFailed, kResolved };
  State state = State::kAbsent;
  std::string value;       // when resolved
  std::string given_as;    // the dotted key it came from, when given
};

// A choice of strings mapped onto an enum, e.g. {"session", PoolMode::kSession}.
template <class E>
using Choices = std::vector<std::pair<std::string_view, E>>;

// One TOML table under a dotted prefix ("listeners[0]"). Each accessor marks its key as known and reports
// type or range errors; finish() reports every key nobody asked for. A missing table reads as empty.
class TableReader {
 public:
  TableReader(Report& report, const toml::value* table, std::string prefix, int line);

  const std::string& prefix() const { return prefix_; }
  int line() const { return line_; }
  std::string path(std::string_view key) const;
  bool has(std::string_view key) const;

  std::optional<std::string> string(std::string_view key, Need need = Need::kOptional);
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max,
                                      Need need = Need::kOptional);
  std::optional<bool> boolean(std::string_view key);
  std::optional<Duration> duration(std::string_view key, Duration min);
  // A string with a unit or an integer of bytes, between min and max bytes.
  std::optional<std::uint64_t> size(std::string_view key, std::uint64_t min, std::uint64_t max);
  // host:port, [ipv6]:port.
  std::optional<std::pair<std::string, std::uint16_t>> host_port(std::string_view key, Need need);
  // A file that must exist and be readable; returned resolved against the configuration's directory.
  std::optional<std::string> readable_file(std::string_view key);
  // A file baton creates or rewrites: resolved against the configuration's directory, which directory must
  // exist and be writable; the path itself, when it exists, must not be a directory. "" stays "".
  std::optional<std::string> writable_path(std::string_view key);
  // An array of strings; a wrong element is reported as key[i].
  std::optional<std::vector<std::string>> string_array(std::string_view key);
  // `key` itself, `key_env` (an environment variable) or `key_file` (contents, one trailing newline stripped).
  Secret secret(std::string_view key);

  template <class E>
  std::optional<E> choice(std::string_view key, const Choices<E>& choices) {
    auto text = string(key);
    if (!text) return std::nullopt;
    for (const auto& [name, value] : choices) {
      if (name == *text) return value;
    }
    std::string allowed;
    for (const auto& c : choices) allowed.append(allowed.empty() ? "" : ", ").append(c.first);
    report_.error(value_line(key), path(key), "must be one of: " + allowed);
    return std::nullopt;
  }

  std::optional<TableReader> table(std::string_view key);
  std::vector<TableReader> array_of_tables(std::string_view key);

  // Reports every key of the table that no accessor asked for.
  void finish();

 private:
  const toml::value* take(std::string_view key);
  int value_line(std::string_view key) const;
  void type_error(const toml::value& v, std::string_view key, std::string_view expected);

  Report& report_;
  const toml::value* table_;
  std::string prefix_;
  int line_;
  std::set<std::string, std::less<>> known_;
};

// The root table, for the top-level sections.
TableReader root_reader(Report& report, const toml::value& root);

// Fills `config` from the parsed file, reporting each local problem (types, ranges, secrets) to `report`.
void read_sections(TableReader& root, Config& config, Report& report);
// Checks what spans entries: unique names and addresses, references between sections, required sections.
void cross_check(const Config& config, Report& report);

}  // namespace baton::proxy::config
