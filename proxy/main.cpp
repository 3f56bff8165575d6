// baton's entry point: the command line, the configuration check, then App.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <variant>

#include "proxy/app.hpp"
#include "proxy/config/config.hpp"
#include "proxy/log/log.hpp"

namespace {

constexpr const char* kUsage =
    "usage: baton --config FILE        run the proxy\n"
    "       baton --check-config FILE  validate FILE and exit (0 = valid)\n"
    "       baton --version\n";

std::optional<std::string> env_lookup(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace baton::proxy;
  std::string config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--config" || arg == "-c" || arg == "--check-config") && i + 1 < argc) {
      check_only = check_only || arg == "--check-config";
      config_path = argv[++i];
    } else if (arg == "--version") {
      std::printf("baton 0.1.0\n");
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "baton: unknown argument \"%s\"\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto loaded = load_config(config_path, &env_lookup);
  if (auto* diags = std::get_if<std::vector<Diagnostic>>(&loaded)) {
    for (const Diagnostic& d : *diags) std::fprintf(stderr, "%s\n", format(d).c_str());
    std::fprintf(stderr, "baton: %zu problem(s) in %s; not starting\n", diags->size(), config_path.c_str());
    return 1;
  }
  Config config = std::get<Config>(std::move(loaded));
  if (check_only) {
    std::printf("%s: configuration is valid\n", config_path.c_str());
    return 0;
  }
  log::Level level = log::Level::kInfo;
  log::parse_level(config.general.log_level, level);
  log::set_level(level);
  signal(SIGPIPE, SIG_IGN);
  App app(std::move(config));
  return app.run();
}
