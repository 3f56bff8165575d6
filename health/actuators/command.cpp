// posix_spawn of /bin/sh -c with output to a memfd, reaped by polling waitpid on a timer (no thread blocks).
#include "health/actuators/command.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/this_coro.hpp>

extern char** environ;

namespace baton::health {

namespace {

constexpr std::size_t kMaxOutput = 4096;
constexpr Duration kPollEvery{10};

int exit_status(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

std::string read_output(int fd) {
  std::string out(kMaxOutput, '\0');
  ssize_t n = pread(fd, out.data(), out.size(), 0);
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// Spawns the shell in a new process group with default signal handling; -1 (and errno text) on failure.
pid_t spawn_shell(const std::string& command, const std::vector<std::string>& env, int out_fd, std::string& error) {
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&files, out_fd, 1);
  posix_spawn_file_actions_adddup2(&files, out_fd, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> argv = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>(command.c_str()),
                             nullptr};
  std::vector<char*> envp;
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, "/bin/sh", &files, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&files);
  if (rc != 0) {
    error = std::string("posix_spawn: ") + std::strerror(rc);
    return -1;
  }
  return pid;
}

}  // namespace

awaitable<CommandResult> run_command(std::string command, std::vector<EnvVar> vars, Duration timeout,
                                     const bool* cancelled) {
  CommandResult result;
  const int out_fd = memfd_create("baton-hook", MFD_CLOEXEC);
  if (out_fd < 0) {
    result.output = std::string("memfd_create: ") + std::strerror(errno);
    co_return result;
  }
  std::string error;
  const pid_t pid = spawn_shell(command, command_env(environ, vars), out_fd, error);
  if (pid < 0) {
    ::close(out_fd);
    result.output = error;
    co_return result;
  }
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const TimePoint deadline = Clock::now() + timeout;
  int status = 0;
  bool reaped = false;
  while (true) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid || (w < 0 && errno != EINTR)) {
      reaped = w == pid;
      break;
    }
    if (Clock::now() >= deadline || (cancelled != nullptr && *cancelled)) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      break;
    }
    timer.expires_after(kPollEvery);
    co_await timer.async_wait(use_tuple);
  }
  if (result.timed_out) {
    // SIGKILL cannot be ignored: the shell is gone within moments; reap it without blocking for long.
    for (int i = 0; i < 100 && !reaped; ++i) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      reaped = w == pid || (w < 0 && errno != EINTR);
      if (reaped) break;
      timer.expires_after(kPollEvery);
      co_await timer.async_wait(use_tuple);
    }
  } else if (reaped) {
    result.exit_code = exit_status(status);
  }
  result.output = read_output(out_fd);
  ::close(out_fd);
  co_return result;
}

}  // namespace baton::health
