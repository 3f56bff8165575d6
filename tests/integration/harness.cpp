// Integration-test harness: processes, ports, temp dirs, PostgreSQL clusters, baton processes and a TCP relay.
#include "tests/integration/harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <mutex>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace baton::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";

int exit_status(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

bool keep_temp() {
  const char* keep = std::getenv("BATON_KEEP_TMP");
  return keep != nullptr && *keep != '\0' && std::string(keep) != "0";
}

void remove_tree(const std::string& dir) {
  if (dir.empty() || keep_temp()) return;
  run("rm -rf " + shell_quote(dir), std::chrono::seconds(60));
}

// Spawn settings shared by every child: default signal dispositions (the test binary ignores
// SIGPIPE; children must not inherit that), an empty signal mask, optionally a new process group.
class SpawnAttr {
 public:
  explicit SpawnAttr(bool new_process_group) {
    posix_spawnattr_init(&attr_);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (new_process_group) {
      flags |= POSIX_SPAWN_SETPGROUP;
      posix_spawnattr_setpgroup(&attr_, 0);
    }
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr_, &none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2}) sigaddset(&defaults, s);
    posix_spawnattr_setsigdefault(&attr_, &defaults);
    posix_spawnattr_setflags(&attr_, flags);
  }
  ~SpawnAttr() { posix_spawnattr_destroy(&attr_); }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
  const posix_spawnattr_t* get() const { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

class FileActions {
 public:
  FileActions() { posix_spawn_file_actions_init(&fa_); }
  ~FileActions() { posix_spawn_file_actions_destroy(&fa_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  posix_spawn_file_actions_t* get() { return &fa_; }

 private:
  posix_spawn_file_actions_t fa_;
};

bool port_is_free(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // No SO_REUSEADDR: a port with connections still in TIME_WAIT counts as taken.
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

bool can_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string trim_trailing_newlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// The live BatonProcess objects, for printing their logs when an assertion fails.
struct LiveProcess {
  const BatonProcess* process;
  std::size_t printed;  // bytes of its log already printed
};
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::vector<LiveProcess>& registry() {
  static std::vector<LiveProcess> r;
  return r;
}
void register_process(const BatonProcess* p) {
  std::lock_guard lock(registry_mutex());
  registry().push_back({p, 0});
}
void unregister_process(const BatonProcess* p) {
  std::lock_guard lock(registry_mutex());
  auto& r = registry();
  r.erase(std::remove_if(r.begin(), r.end(), [p](const LiveProcess& e) { return e.process == p; }), r.end());
}

}  // namespace

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

RunResult run(const std::string& shell_command, std::chrono::seconds timeout) {
  RunResult result;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));

  FileActions fa;
  posix_spawn_file_actions_addopen(fa.get(), 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(fa.get(), fds[1], 1);
  posix_spawn_file_actions_adddup2(fa.get(), fds[1], 2);
  posix_spawn_file_actions_addclosefrom_np(fa.get(), 3);
  SpawnAttr attr(/*new_process_group=*/true);

  std::string arg0 = "sh", arg1 = "-c", arg2 = shell_command;
  char* argv[] = {arg0.data(), arg1.data(), arg2.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/bin/sh", fa.get(), attr.get(), argv, environ);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw std::runtime_error(std::string("posix_spawn /bin/sh: ") + std::strerror(rc));
  }
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);

  auto drain = [&]() {
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n > 0) {
        result.output.append(buf, static_cast<std::size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        return n == 0;  // true at EOF
      }
    }
  };

  const auto deadline = Clock::now() + timeout;
  bool eof = false;
  int status = 0;
  bool exited = false;
  while (!exited) {
    pollfd p{fds[0], POLLIN, 0};
    if (!eof) {
      ::poll(&p, 1, 50);
      eof = drain();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      exited = true;
    } else if (Clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      drain();
      ::close(fds[0]);
      result.exit_code = -1;
      result.output += "\n[timed out after " + std::to_string(timeout.count()) + " s: " + shell_command + "]\n";
      return result;
    }
  }
  // The shell has exited; whatever it left running may still hold the pipe: take what is there.
  if (!eof) drain();
  ::close(fds[0]);
  result.exit_code = exit_status(status);
  return result;
}

int free_port_block(int count) {
  static std::mutex m;
  static std::set<int> handed_out;
  static std::mt19937 rng(static_cast<unsigned>(::getpid()) ^
                          static_cast<unsigned>(Clock::now().time_since_epoch().count()));
  std::lock_guard lock(m);
  // Below Linux's default ephemeral range (32768-60999), so outgoing connections never hold them.
  constexpr int kLow = 15000, kHigh = 32000;
  std::uniform_int_distribution<int> pick(kLow, kHigh - count);
  for (int attempt = 0; attempt < 2000; ++attempt) {
    int base = pick(rng);
    bool ok = true;
    for (int p = base; p < base + count && ok; ++p) {
      ok = handed_out.count(p) == 0 && port_is_free(p);
    }
    if (ok) {
      for (int p = base; p < base + count; ++p) handed_out.insert(p);
      return base;
    }
  }
  throw std::runtime_error("no block of " + std::to_string(count) + " free ports found");
}

int free_port() { return free_port_block(1); }

std::string source_dir() {
  if (const char* env = std::getenv("BATON_SOURCE_DIR"); env != nullptr && *env != '\0') return env;
  return BATON_SOURCE_DIR;
}

std::string baton_binary() {
  if (const char* env = std::getenv("BATON_BINARY"); env != nullptr && *env != '\0') return env;
  return BATON_BINARY;
}

std::string value_of(const std::string& output, const std::string& key) {
  std::size_t at = 0;
  const std::string needle = key + "=";
  while ((at = output.find(needle, at)) != std::string::npos) {
    if (at == 0 || output[at - 1] == '\n') {
      std::size_t start = at + needle.size();
      std::size_t end = output.find('\n', start);
      return output.substr(start, end == std::string::npos ? std::string::npos : end - start);
    }
    at += needle.size();
  }
  return "<missing " + key + ">";
}

RunResult run_client(const std::string& script, const std::string& args, std::chrono::seconds timeout) {
  return run("/usr/bin/python3 -B " + shell_quote(source_dir() + "/tests/integration/clients/" + script) + " " + args,
             timeout);
}

std::string make_temp_dir(const std::string& prefix) {
  std::string root = "/tmp";
  if (const char* env = std::getenv("BATON_TMP_ROOT"); env != nullptr && *env != '\0') root = env;
  std::string templ = root + "/" + prefix + "XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + templ + ": " + std::strerror(errno));
  }
  ::chmod(templ.c_str(), 0755);
  return templ;
}

bool wait_for_port(int port, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (can_connect(port)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

bool wait_until(std::chrono::milliseconds timeout, const std::function<bool()>& done) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------------------------------------
// PgCluster

PgCluster::PgCluster(Options options) : options_(options) { start(); }

void PgCluster::start() {
  const std::string script = source_dir() + "/tests/fixtures/pg_cluster.sh";
  if (options_.tls) {
    cert_dir_ = make_temp_dir("baton-certs-");
    RunResult certs = run("bash " + shell_quote(source_dir() + "/tests/fixtures/make_certs.sh") + " " +
                          shell_quote(cert_dir_));
    if (certs.exit_code != 0) throw std::runtime_error("make_certs.sh failed:\n" + certs.output);
  }
  std::string failures;
  for (int attempt = 0; attempt < 3; ++attempt) {
    dir_ = make_temp_dir("baton-pg-");
    int base = free_port_block(options_.replicas + 1);
    std::string cmd = "bash " + shell_quote(script) + " start " + shell_quote(dir_) + " " + std::to_string(base) +
                      " --replicas " + std::to_string(options_.replicas);
    if (options_.synchronous) cmd += " --sync";
    if (options_.tls) cmd += " --tls " + shell_quote(cert_dir_);
    RunResult r = run(cmd, std::chrono::seconds(180));
    if (r.exit_code == 0) {
      load_env();
      started_ = true;
      return;
    }
    // A port taken between the check and the bind, or a slow start: stop what came up, retry.
    failures += "attempt " + std::to_string(attempt + 1) + " (" + dir_ + ", port " + std::to_string(base) +
                "):\n" + r.output + "\n";
    run("bash " + shell_quote(script) + " stop " + shell_quote(dir_), std::chrono::seconds(60));
  }
  throw std::runtime_error("pg_cluster.sh start failed:\n" + failures);
}

void PgCluster::load_env() {
  std::istringstream in(read_file(dir_ + "/cluster.env"));
  std::string line;
  ports_.clear();
  pids_.clear();
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq);
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    std::istringstream words(value);
    if (key == "PORTS") {
      for (int p; words >> p;) ports_.push_back(p);
    } else if (key == "PIDS") {
      for (pid_t p; words >> p;) pids_.push_back(p);
    } else if (key == "SOCKDIR") {
      sock_dir_ = value;
    }
  }
  if (ports_.empty() || ports_.size() != pids_.size() || sock_dir_.empty()) {
    throw std::runtime_error("bad " + dir_ + "/cluster.env");
  }
}

PgCluster::~PgCluster() {
  if (!started_ && dir_.empty()) return;
  try {
    run("bash " + shell_quote(source_dir() + "/tests/fixtures/pg_cluster.sh") + " stop " + shell_quote(dir_),
        std::chrono::seconds(90));
    remove_tree(dir_);
    remove_tree(cert_dir_);
  } catch (...) {
  }
}

PgCluster& PgCluster::shared() {
  static std::mutex m;
  static std::unique_ptr<PgCluster> cluster;
  std::lock_guard lock(m);
  if (!cluster) cluster = std::make_unique<PgCluster>(Options{.replicas = 2, .synchronous = false, .tls = true});
  return *cluster;
}

int PgCluster::port(int node) const { return ports_.at(static_cast<std::size_t>(node)); }
int PgCluster::node_count() const { return static_cast<int>(ports_.size()); }
std::string PgCluster::dir() const { return dir_; }
std::string PgCluster::cert_dir() const { return cert_dir_; }
std::string PgCluster::socket_dir() const { return sock_dir_; }

pid_t PgCluster::postmaster_pid(int node) const {
  std::istringstream in(read_file(dir_ + "/node" + std::to_string(node) + "/postmaster.pid"));
  pid_t pid = 0;
  if (in >> pid && pid > 0) return pid;
  return pids_.at(static_cast<std::size_t>(node));
}

RunResult PgCluster::psql(int node, const std::string& sql, const std::string& database) const {
  std::string cmd = "printf '%s\\n' " + shell_quote(sql) + " | " + kPgBin + "/psql -h " + shell_quote(sock_dir_) +
                    " -p " + std::to_string(port(node)) + " -U postgres -d " + shell_quote(database) +
                    " -XAtq -v ON_ERROR_STOP=1 -f -";
  return run(cmd, std::chrono::seconds(120));
}

std::string PgCluster::query(int node, const std::string& sql, const std::string& database) const {
  RunResult r = psql(node, sql, database);
  if (r.exit_code != 0) {
    throw std::runtime_error("psql on node" + std::to_string(node) + " failed (exit " + std::to_string(r.exit_code) +
                             "): " + sql + "\n" + r.output);
  }
  return trim_trailing_newlines(r.output);
}

void PgCluster::wait_replicated(std::chrono::seconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  const std::string lsn = query(0, "SELECT pg_current_wal_lsn()", "postgres");
  for (int node = 1; node < node_count(); ++node) {
    const std::string check =
        "SELECT coalesce(pg_last_wal_replay_lsn() >= '" + lsn + "'::pg_lsn, false)";
    for (;;) {
      RunResult r = psql(node, check, "postgres");
      if (r.exit_code == 0 && trim_trailing_newlines(r.output) == "t") break;
      if (Clock::now() >= deadline) {
        throw std::runtime_error("node" + std::to_string(node) + " did not replay " + lsn + " within " +
                                 std::to_string(timeout.count()) + " s: " + r.output);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

std::string PgCluster::log_tail(int node, int lines) const {
  return run("tail -n " + std::to_string(lines) + " " + shell_quote(dir_ + "/node" + std::to_string(node) + ".log"))
      .output;
}

RunResult PgCluster::node_command(const std::string& args, std::chrono::seconds timeout) const {
  return run("bash " + shell_quote(source_dir() + "/tests/fixtures/pg_cluster.sh") + " " + args, timeout);
}

namespace {

std::string signal_name(int signal) {
  switch (signal) {
    case SIGKILL: return "KILL";
    case SIGSTOP: return "STOP";
    case SIGCONT: return "CONT";
    case SIGTERM: return "TERM";
    case SIGINT: return "INT";
    case SIGQUIT: return "QUIT";
    case SIGHUP: return "HUP";
    default: return std::to_string(signal);
  }
}

void require_ok(const RunResult& r, const std::string& what) {
  if (r.exit_code != 0) {
    throw std::runtime_error(what + " failed (exit " + std::to_string(r.exit_code) + "):\n" + r.output);
  }
}

}  // namespace

void PgCluster::signal_node(int node, int signal, SignalScope scope) {
  const std::string args = "signal " + shell_quote(dir_) + " " + std::to_string(node) + " " + signal_name(signal) +
                           (scope == SignalScope::kServer ? " --tree" : "");
  require_ok(node_command(args, std::chrono::seconds(30)), "pg_cluster.sh " + args);
}

void PgCluster::start_node(int node) {
  const std::string args = "start-node " + shell_quote(dir_) + " " + std::to_string(node);
  require_ok(node_command(args, std::chrono::seconds(120)), "pg_cluster.sh " + args);
  load_env();
}

void PgCluster::stop_node(int node) {
  const std::string args = "stop-node " + shell_quote(dir_) + " " + std::to_string(node);
  require_ok(node_command(args, std::chrono::seconds(90)), "pg_cluster.sh " + args);
  load_env();
}

void PgCluster::rebuild_as_standby(int node, int upstream) {
  const std::string args =
      "rebuild " + shell_quote(dir_) + " " + std::to_string(node) + " " + std::to_string(upstream);
  require_ok(node_command(args, std::chrono::seconds(180)), "pg_cluster.sh " + args);
  load_env();
}

std::string PgCluster::role(int node) const {
  const std::string args = "role " + shell_quote(dir_) + " " + std::to_string(node);
  RunResult r = node_command(args, std::chrono::seconds(30));
  require_ok(r, "pg_cluster.sh " + args);
  return trim_trailing_newlines(r.output);
}

bool PgCluster::is_primary(int node) const { return role(node) == "primary"; }

void PgCluster::promote(int node) const {
  const std::string out = query(node, "SELECT pg_promote(true, 60)", "postgres");
  if (out != "t") throw std::runtime_error("pg_promote on node" + std::to_string(node) + " answered " + out);
}

// ---------------------------------------------------------------------------------------------
// HTTP

HttpResult http_request(int port, const std::string& method, const std::string& target, const std::string& body,
                        const std::string& bearer_token, std::chrono::milliseconds timeout) {
  HttpResult result;
  const auto deadline = Clock::now() + timeout;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    result.error = std::string("socket: ") + std::strerror(errno);
    return result;
  }
  // Waits until fd is ready for `events` or the deadline passes.
  auto wait_for = [&](short events) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd, events, 0};
      int n = ::poll(&p, 1, static_cast<int>(left));
      if (n > 0) return true;
      if (n < 0 && errno != EINTR) return false;
    }
  };
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    result.error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return result;
  }
  int so_error = 0;
  socklen_t len = sizeof so_error;
  if (!wait_for(POLLOUT) || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
    result.error = "connect to port " + std::to_string(port) + ": " +
                   (so_error != 0 ? std::strerror(so_error) : "timed out");
    ::close(fd);
    return result;
  }

  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nConnection: close\r\n";
  if (!bearer_token.empty()) request += "Authorization: Bearer " + bearer_token + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    request += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  for (std::size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(POLLOUT)) {
        result.error = "send timed out";
        ::close(fd);
        return result;
      }
    } else {
      result.error = std::string("send: ") + std::strerror(errno);
      ::close(fd);
      return result;
    }
  }

  std::string response;
  for (;;) {
    char buf[16384];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      response.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!wait_for(POLLIN)) {
        result.error = "no complete answer within " + std::to_string(timeout.count()) + " ms";
        break;
      }
    } else {
      result.error = std::string("recv: ") + std::strerror(errno);
      break;
    }
  }
  ::close(fd);

  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody" (the body read to EOF; chunked bodies are decoded).
  const std::size_t head_end = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos || response.size() < 12) {
    if (result.error.empty()) result.error = "not an HTTP answer: " + response.substr(0, 200);
    return result;
  }
  result.status = std::atoi(response.c_str() + 9);
  std::string head = response.substr(0, head_end);
  std::string raw = response.substr(head_end + 4);
  std::string lower_head = head;
  std::transform(lower_head.begin(), lower_head.end(), lower_head.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower_head.find("transfer-encoding: chunked") == std::string::npos) {
    result.body = std::move(raw);
    return result;
  }
  std::size_t at = 0;
  for (;;) {
    std::size_t eol = raw.find("\r\n", at);
    if (eol == std::string::npos) break;
    std::size_t size = std::strtoul(raw.substr(at, eol - at).c_str(), nullptr, 16);
    if (size == 0) break;
    result.body += raw.substr(eol + 2, size);
    at = eol + 2 + size + 2;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// BatonProcess

BatonProcess::BatonProcess(const std::string& config_toml, std::vector<int> wait_ports)
    : uncaught_at_start_(std::uncaught_exceptions()) {
  dir_ = make_temp_dir("baton-proc-");
  config_path_ = dir_ + "/baton.toml";
  log_path_ = dir_ + "/baton.log";
  {
    std::ofstream out(config_path_, std::ios::binary);
    out << config_toml;
    if (!out) throw std::runtime_error("cannot write " + config_path_);
  }

  FileActions fa;
  posix_spawn_file_actions_addopen(fa.get(), 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(fa.get(), 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(fa.get(), 1, 2);
  posix_spawn_file_actions_addclosefrom_np(fa.get(), 3);
  // Same process group as the test binary: a signal to the whole run (timeout, ^C) reaches baton too.
  SpawnAttr attr(/*new_process_group=*/false);
  std::string binary = baton_binary(), flag = "--config", path = config_path_;
  char* argv[] = {binary.data(), flag.data(), path.data(), nullptr};
  int rc = ::posix_spawn(&pid_, binary.c_str(), fa.get(), attr.get(), argv, environ);
  if (rc != 0) throw std::runtime_error("posix_spawn " + binary + ": " + std::strerror(rc));
  std::ofstream(dir_ + "/baton.pid") << pid_ << "\n";  // for tests/run.sh's cleanup after a crash
  register_process(this);

  try {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    for (int port : wait_ports) {
      for (;;) {
        if (reap(false)) {
          throw std::runtime_error("baton exited with status " + std::to_string(status_) +
                                   " before port " + std::to_string(port) + " accepted; log:\n" + log());
        }
        if (can_connect(port)) break;
        if (Clock::now() >= deadline) {
          throw std::runtime_error("baton did not accept on port " + std::to_string(port) +
                                   " within 20 s; log:\n" + log());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
      }
    }
  } catch (...) {
    stop(SIGKILL, std::chrono::seconds(5));
    unregister_process(this);
    remove_tree(dir_);  // the exception carries the log
    throw;
  }
}

BatonProcess::~BatonProcess() {
  // An exception leaving the test body destroys this before Catch2's listener hears of the
  // failure: print the log now.
  if (std::uncaught_exceptions() > uncaught_at_start_) {
    try {
      print_live_baton_logs(std::cout);
    } catch (...) {
    }
  }
  stop(SIGTERM, std::chrono::seconds(10));
  unregister_process(this);
  remove_tree(dir_);
}

pid_t BatonProcess::pid() const { return pid_; }
std::string BatonProcess::log() const { return read_file(log_path_); }
std::string BatonProcess::log_path() const { return log_path_; }
std::string BatonProcess::config_path() const { return config_path_; }
bool BatonProcess::running() const { return !reap(false); }

bool BatonProcess::reap(bool block) const {
  if (exited_) return true;
  if (pid_ <= 0) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    exited_ = true;
    status_ = exit_status(status);
  } else if (r < 0) {
    exited_ = true;  // not our child any more (ECHILD): nothing to wait for
  }
  return exited_;
}

int BatonProcess::stop(int signal, std::chrono::seconds timeout) {
  if (reap(false)) return status_;
  ::kill(pid_, signal);
  const auto deadline = Clock::now() + timeout;
  while (!reap(false)) {
    if (Clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      reap(true);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

void print_live_baton_logs(std::ostream& out, std::size_t max_bytes) {
  std::lock_guard lock(registry_mutex());
  for (LiveProcess& entry : registry()) {
    const BatonProcess& p = *entry.process;
    std::string text = p.log();
    if (text.size() <= entry.printed) continue;
    std::size_t from = entry.printed;
    bool cut = false;
    if (text.size() - from > max_bytes) {
      from = text.size() - max_bytes;
      cut = true;
    }
    out << "---- baton pid " << p.pid() << (p.running() ? " (running)" : " (exited)") << ", log " << p.log_path()
        << (cut ? " (last part)" : "") << " ----\n"
        << text.substr(from);
    if (text.back() != '\n') out << "\n";
    out << "---- end of baton log ----\n\n";
    entry.printed = text.size();
  }
  out.flush();
}

// ---------------------------------------------------------------------------------------------
// TcpRelay

namespace {

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// Writes all `size` bytes to fd (blocking); false once the peer is gone.
bool send_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

TcpRelay::TcpRelay(int target_port, ObserverFactory observe)
    : target_port_(target_port), observe_(std::move(observe)) {
  // Port 0: the kernel picks a free port, so nothing can take it between the choice and the bind.
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 64) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string why = std::strerror(errno);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    throw std::runtime_error("TcpRelay: cannot listen on 127.0.0.1: " + why);
  }
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TcpRelay::~TcpRelay() {
  stop_ = true;
  acceptor_.join();  // it adds the pumps: once it has ended, pumps_ is complete
  for (std::thread& t : pumps_) t.join();
  ::close(listen_fd_);
}

void TcpRelay::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(target_port_);
    if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(client);
      if (server >= 0) ::close(server);
      continue;
    }
    std::unique_ptr<Observer> observer = observe_ ? observe_() : nullptr;
    pumps_.emplace_back(&TcpRelay::pump, this, client, server, std::move(observer));
  }
}

// Both directions of one connection in one thread, with short waits so that stop_ ends it soon.
void TcpRelay::pump(int client, int server, std::unique_ptr<Observer> observer) {
  char buf[16384];
  bool open = true;
  while (open && !stop_) {
    if (observer && observer->held()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    if (::poll(p, 2, 50) <= 0) continue;
    for (int k = 0; k < 2 && open; ++k) {
      if ((p[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t n = ::recv(p[k].fd, buf, sizeof buf, 0);
      open = n > 0 && send_all(p[1 - k].fd, buf, static_cast<std::size_t>(n));
      if (open && k == 0 && observer) observer->client_bytes(std::string_view(buf, static_cast<std::size_t>(n)));
    }
  }
  ::close(client);
  ::close(server);
}

}  // namespace baton::test
