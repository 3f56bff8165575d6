// The command line: --check-config on good and bad files, --version, bad arguments.
#include <catch2/catch.hpp>

#include <fstream>

#include "tests/integration/harness.hpp"

using namespace baton::test;

TEST_CASE("baton --check-config accepts the documented example", "[cli]") {
  RunResult r = run(shell_quote(baton_binary()) + " --check-config " +
                    shell_quote(source_dir() + "/deploy/baton.example.toml"));
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("configuration is valid") != std::string::npos);
}

TEST_CASE("baton --check-config reports every problem with line and key", "[cli]") {
  std::string dir = make_temp_dir("cli");
  std::string path = dir + "/bad.toml";
  std::ofstream(path) << "[pool]\n"
                         "pool_size = 0\n"
                         "query_wait_timeout = 120\n"
                         "\n"
                         "[[listeners]]\n"
                         "name = \"pg\"\n"
                         "listen = \"127.0.0.1:6432\"\n"
                         "cluster = \"mian\"\n"
                         "\n"
                         "[[clusters]]\n"
                         "name = \"main\"\n"
                         "monitor_user = \"m\"\n"
                         "  [[clusters.nodes]]\n"
                         "  host = \"127.0.0.1\"\n"
                         "\n"
                         "[[users]]\n"
                         "name = \"app\"\n"
                         "pasword = \"x\"\n";
  RunResult r = run(shell_quote(baton_binary()) + " --check-config " + shell_quote(path));
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("bad.toml:2: pool.pool_size:") != std::string::npos);
  CHECK(r.output.find("bad.toml:3: pool.query_wait_timeout:") != std::string::npos);
  CHECK(r.output.find("bad.toml:8: listeners[0].cluster: no [[clusters]] entry is named \"mian\"") != std::string::npos);
  CHECK(r.output.find("bad.toml:18: users[0].pasword: unknown key (did you mean \"password\"?)") != std::string::npos);
  CHECK(r.output.find("5 problem(s)") != std::string::npos);
}

TEST_CASE("baton refuses unknown arguments and a missing config", "[cli]") {
  RunResult bad = run(shell_quote(baton_binary()) + " --frobnicate");
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("unknown argument \"--frobnicate\"") != std::string::npos);
  RunResult none = run(shell_quote(baton_binary()) + " --config /nonexistent/baton.toml");
  CHECK(none.exit_code == 1);
  CHECK(none.output.find("/nonexistent/baton.toml") != std::string::npos);
  RunResult version = run(shell_quote(baton_binary()) + " --version");
  CHECK(version.exit_code == 0);
  CHECK(version.output.rfind("baton ", 0) == 0);
}
