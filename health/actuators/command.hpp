// Running a hook command (promote_command, fence_command): /bin/sh -c in its own process group, bounded.
#pragma once

#include <string>
#include <vector>

#include "health/command_env.hpp"
#include "health/probes/asio.hpp"
#include "health/topology.hpp"

namespace baton::health {

struct CommandResult {
  int exit_code = -1;  // the exit status; 128+N when killed by signal N; -1 when it could not run or timed out
  bool timed_out = false;
  std::string output;  // stdout and stderr merged, at most the first 4 KiB
};

// Runs `command` with /bin/sh -c (stdin /dev/null, environment: ours plus `vars`), waiting without
// blocking the thread. At `timeout`, or once *cancelled is true, its process group is killed (SIGKILL).
awaitable<CommandResult> run_command(std::string command, std::vector<EnvVar> vars, Duration timeout,
                                     const bool* cancelled);

}  // namespace baton::health
