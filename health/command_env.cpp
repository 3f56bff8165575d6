// Building a hook command's environment: inherited entries minus the overridden names, then ours.
#include "health/command_env.hpp"

#include <algorithm>
#include <string_view>

namespace baton::health {

std::vector<std::string> command_env(const char* const* base, const std::vector<EnvVar>& vars) {
  std::vector<EnvVar> ours;
  for (const EnvVar& v : vars) {
    auto same = std::find_if(ours.begin(), ours.end(), [&](const EnvVar& o) { return o.first == v.first; });
    if (same != ours.end()) {
      same->second = v.second;
    } else {
      ours.push_back(v);
    }
  }
  std::vector<std::string> out;
  for (const char* const* e = base; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool overridden = std::any_of(ours.begin(), ours.end(), [&](const EnvVar& o) { return o.first == name; });
    if (!overridden) out.emplace_back(entry);
  }
  for (const EnvVar& v : ours) out.push_back(v.first + "=" + v.second);
  return out;
}

}  // namespace baton::health
