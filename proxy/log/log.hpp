// Structured logging: one line per event, "ts level component: message key=value ...", thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace baton::proxy::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
std::string_view to_string(Level l);
bool parse_level(std::string_view text, Level& out);

void set_level(Level l);
bool enabled(Level l);
// Writes one line to stderr. `component` names the part (worker, pool, session, control...).
void write(Level l, std::string_view component, std::string_view message);

template <typename... Parts>
void line(Level l, std::string_view component, const Parts&... parts) {
  if (!enabled(l)) return;
  std::string msg;
  (msg.append(parts), ...);
  write(l, component, msg);
}
template <typename... P> void debug(std::string_view c, const P&... p) { line(Level::kDebug, c, p...); }
template <typename... P> void info(std::string_view c, const P&... p) { line(Level::kInfo, c, p...); }
template <typename... P> void warn(std::string_view c, const P&... p) { line(Level::kWarn, c, p...); }
template <typename... P> void error(std::string_view c, const P&... p) { line(Level::kError, c, p...); }

}  // namespace baton::proxy::log
