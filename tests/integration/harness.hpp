// Integration-test harness: shell commands with timeouts, free ports, PostgreSQL clusters and baton processes.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace baton::test {

struct RunResult {
  int exit_code = -1;  // the command's exit status; 128+N when killed by signal N; -1 on timeout
  std::string output;  // stdout and stderr merged
};

// Runs `shell_command` with /bin/sh -c (stdin from /dev/null). On timeout the command's process
// group is killed and exit_code is -1.
RunResult run(const std::string& shell_command, std::chrono::seconds timeout = std::chrono::seconds(120));

// Runs tests/integration/clients/SCRIPT with Debian's python3 (-B) and `args` (shell words, quoted
// by the caller), bounded by `timeout`.
RunResult run_client(const std::string& script, const std::string& args,
                     std::chrono::seconds timeout = std::chrono::seconds(120));

// Quotes `s` for a POSIX shell command line.
std::string shell_quote(const std::string& s);

// A TCP port on 127.0.0.1 that is free now and was not handed out before by this process.
int free_port();
// The first of `count` consecutive such ports.
int free_port_block(int count);

std::string source_dir();    // the repository (BATON_SOURCE_DIR)
std::string baton_binary();  // the baton executable (BATON_BINARY)

// A new directory named /tmp/PREFIXxxxxxx (or under $BATON_TMP_ROOT when set), mode 0755 so the
// postgres user can enter it.
std::string make_temp_dir(const std::string& prefix);

// True once 127.0.0.1:port accepts a TCP connection; false when `timeout` passes first.
bool wait_for_port(int port, std::chrono::milliseconds timeout);

// Polls `done` every 100 ms until it holds or `timeout` passes; returns whether it held.
bool wait_until(std::chrono::milliseconds timeout, const std::function<bool()>& done);

std::string read_file(const std::string& path);

// The value of the first "key=value" line of `output` (client scripts print such lines), or "<missing key>".
std::string value_of(const std::string& output, const std::string& key);

// A PostgreSQL 15 cluster (primary + streaming replicas) run by tests/fixtures/pg_cluster.sh.
class PgCluster {
 public:
  struct Options {
    int replicas = 2;
    bool synchronous = false;
    bool tls = false;
  };

  explicit PgCluster(Options options);  // starts a new cluster on a free port block
  ~PgCluster();                         // stops it
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // One cluster (2 replicas, TLS on) for the whole binary, started on first use, stopped at exit.
  static PgCluster& shared();

  int port(int node) const;  // 0 = the primary as started, 1.. = replicas
  int node_count() const;
  pid_t postmaster_pid(int node) const;  // the live postmaster.pid, else the PID recorded at start
  std::string dir() const;
  std::string cert_dir() const;  // ca.crt, server.crt, server.key (only with tls)
  std::string socket_dir() const;
  const Options& options() const { return options_; }

  // psql as postgres over the unix socket: -XAtq -v ON_ERROR_STOP=1, the SQL fed as a script.
  RunResult psql(int node, const std::string& sql, const std::string& database = "app") const;
  // The same, throwing std::runtime_error (with the output) unless psql exits 0; returns the
  // output without its trailing newline.
  std::string query(int node, const std::string& sql, const std::string& database = "app") const;

  // Waits until every replica has replayed the primary's current WAL position (throws on timeout).
  void wait_replicated(std::chrono::seconds timeout = std::chrono::seconds(30)) const;

  // The last `lines` lines of node's server log.
  std::string log_tail(int node, int lines = 50) const;

  // --- Node control, for failover tests. Each runs a pg_cluster.sh node command and throws
  // std::runtime_error with its output when that fails. The destructor stops every node that
  // runs, whatever happened to it (stopped servers are resumed first, orphans waited for).

  // Who receives a signal: the postmaster alone, or the postmaster and all its children.
  enum class SignalScope { kPostmaster, kServer };
  // Sends `signal` to node's postmaster (kServer: to its children too; SIGSTOP with kServer
  // freezes the whole server, SIGCONT with kServer thaws it). After SIGKILL of the postmaster
  // its children exit by themselves; start_node and the destructor wait for them.
  void signal_node(int node, int signal, SignalScope scope = SignalScope::kPostmaster);
  // Starts node's data directory as it is (the old primary after a kill comes back as a primary
  // on its old timeline; a standby as a standby).
  void start_node(int node);
  // Fast shutdown of one node (resumed first if it was stopped).
  void stop_node(int node);
  // The operator's re-add path: stops `node`, replaces its data with a fresh base backup of
  // `upstream` and starts it as upstream's streaming standby (slot "nodeK" on the upstream).
  void rebuild_as_standby(int node, int upstream);
  // "primary", "standby", "stopped" (SIGSTOP), "down" or "not accepting".
  std::string role(int node) const;
  bool is_primary(int node) const;
  // pg_promote(wait => true) on node (for fixture tests that fail over without baton).
  void promote(int node) const;

 private:
  RunResult node_command(const std::string& args, std::chrono::seconds timeout) const;
  void start();
  void load_env();

  Options options_;
  std::string dir_;
  std::string cert_dir_;
  std::string sock_dir_;
  std::vector<int> ports_;
  std::vector<pid_t> pids_;
  bool started_ = false;
};

// A baton process started from a TOML text.
class BatonProcess {
 public:
  // Writes `config_toml` to a temp file, starts baton_binary() --config FILE with stdout and
  // stderr to a log file, waits (bounded, 20 s) until every port in wait_ports accepts TCP.
  // Throws std::runtime_error with the log on failure.
  BatonProcess(const std::string& config_toml, std::vector<int> wait_ports);
  ~BatonProcess();  // SIGTERM to its PID, SIGKILL after 10 s; prints the log when a test throws
  BatonProcess(const BatonProcess&) = delete;
  BatonProcess& operator=(const BatonProcess&) = delete;

  pid_t pid() const;
  std::string log() const;
  std::string log_path() const;
  std::string config_path() const;
  bool running() const;
  // Sends `signal`, waits up to `timeout` (then SIGKILL); returns the exit status (128+N when
  // killed by signal N). Calling it again returns the same status.
  int stop(int signal = SIGTERM, std::chrono::seconds timeout = std::chrono::seconds(15));

 private:
  bool reap(bool block) const;  // true once the process has exited (status_ set)

  std::string dir_;
  std::string config_path_;
  std::string log_path_;
  pid_t pid_ = -1;
  mutable bool exited_ = false;
  mutable int status_ = -1;
  int uncaught_at_start_ = 0;  // to tell, when destroyed, whether an exception is unwinding the test
};

struct HttpResult {
  int status = -1;     // the HTTP status; -1 when no answer came (error says why)
  std::string body;
  std::string error;
};

// One HTTP/1.1 request to 127.0.0.1:port (Connection: close), with an optional JSON body and
// bearer token; the whole exchange is bounded by `timeout`.
HttpResult http_request(int port, const std::string& method, const std::string& target, const std::string& body = "",
                        const std::string& bearer_token = "",
                        std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

// Writes the new part of the log of every live BatonProcess to `out` (for failed assertions).
// Each process's log is printed from where the previous call stopped, at most `max_bytes` each.
void print_live_baton_logs(std::ostream& out, std::size_t max_bytes = 16384);

// A TCP relay on loopback for tests that watch or hold the bytes between a client and a server.
class TcpRelay {
 public:
  // What a test sees of one relayed connection. The relay makes one for each connection it accepts
  // and calls it from that connection's thread only; it must not throw.
  class Observer {
   public:
    virtual ~Observer() = default;
    // Each chunk the client sent, once it has been forwarded to the server.
    virtual void client_bytes(std::string_view bytes) { (void)bytes; }
    // Asked before each read: while true the connection is held (nothing read or forwarded either way).
    virtual bool held() { return false; }
  };
  // Makes the observer of a new connection; empty (or returning null): connections are only relayed.
  using ObserverFactory = std::function<std::unique_ptr<Observer>()>;

  // Listens on a free loopback port; connects each accepted client to 127.0.0.1:target_port (a client
  // whose connect fails is closed) and pumps both directions until either side closes.
  explicit TcpRelay(int target_port, ObserverFactory observe = {});
  ~TcpRelay();  // stops accepting, ends every connection (held ones too) and joins its threads
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  int port() const { return port_; }

 private:
  void accept_loop();
  void pump(int client, int server, std::unique_ptr<Observer> observer);

  int target_port_;
  ObserverFactory observe_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> pumps_;  // one per connection; only the accept thread adds to it
};

}  // namespace baton::test
