// Helpers shared by the configuration unit tests: a fake environment, scratch files, small valid files.
#pragma once

#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "proxy/config/config.hpp"

namespace baton::test {

inline std::map<std::string, std::string>& fake_env() {
  static std::map<std::string, std::string> env;
  return env;
}

inline std::optional<std::string> lookup_fake_env(const char* name) {
  auto it = fake_env().find(name);
  if (it == fake_env().end()) return std::nullopt;
  return it->second;
}

// A scratch directory for secret, TLS and state files, removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           ("baton-test-config-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string write(const std::string& name, const std::string& contents) const {
    std::ofstream(path / name, std::ios::binary) << contents;
    return (path / name).string();
  }
};

// A listener, a user and the head of a cluster: lines appended to it land in clusters[0], from line 14.
inline const std::string kClusterHead = R"(
[[listeners]]
name = "pg"
listen = "127.0.0.1:6432"
cluster = "main"

[[users]]
name = "app"
password = "pw"

[[clusters]]
name = "main"
monitor_user = "mon"
)";
// One node, to end a cluster.
inline const std::string kNode = "  [[clusters.nodes]]\n  host = \"127.0.0.1\"\n";

// Everything a valid file needs, to be appended after the sections a test is about. It ends inside
// [[clusters.nodes]], so lines appended to it land in clusters[0].nodes[0], starting at line 16.
inline const std::string kMinimalTail = kClusterHead + kNode;

// The same without [[users]]: a [[users]] entry appended to it starts at line 12.
inline const std::string kNoUsers = R"(
[[listeners]]
name = "pg"
listen = "127.0.0.1:6432"
cluster = "main"

[[clusters]]
name = "main"
monitor_user = "mon"
  [[clusters.nodes]]
  host = "127.0.0.1"
)";

inline proxy::Config load_ok(const std::string& text, const std::string& source = "baton.toml") {
  auto result = proxy::parse_config(text, source, &lookup_fake_env);
  if (auto* diags = std::get_if<std::vector<proxy::Diagnostic>>(&result)) {
    for (const auto& d : *diags) UNSCOPED_INFO(format(d));
    FAIL("expected the configuration to load");
  }
  return std::get<proxy::Config>(std::move(result));
}

inline std::vector<proxy::Diagnostic> load_bad(const std::string& text) {
  auto result = proxy::parse_config(text, "baton.toml", &lookup_fake_env);
  REQUIRE(std::holds_alternative<std::vector<proxy::Diagnostic>>(result));
  return std::get<std::vector<proxy::Diagnostic>>(result);
}

// The one diagnostic a file produces; checks its key and line and that its message mentions `words`.
inline void expect_single_error(const std::string& text, const std::string& key, int line, const std::string& words) {
  auto diags = load_bad(text);
  for (const auto& d : diags) UNSCOPED_INFO(format(d));
  REQUIRE(diags.size() == 1);
  CHECK(diags[0].file == "baton.toml");
  CHECK(diags[0].key == key);
  CHECK(diags[0].line == line);
  CHECK_THAT(diags[0].message, Catch::Contains(words));
}

}  // namespace baton::test
