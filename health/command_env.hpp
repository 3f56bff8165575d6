// The environment of a hook command (promote_command, fence_command): the process's own plus BATON_* values.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace baton::health {

using EnvVar = std::pair<std::string, std::string>;

// "NAME=value" strings: every entry of `base` (a null-terminated array like environ; may be null)
// whose name is not in `vars`, then `vars` in their order. Later duplicates in `vars` win.
std::vector<std::string> command_env(const char* const* base, const std::vector<EnvVar>& vars);

}  // namespace baton::health
