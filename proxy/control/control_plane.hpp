// The control-plane thread: signals, the admin HTTP API, config reload, pause/resume, drain, topology.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "health/topology.hpp"
#include "proxy/admin/routes.hpp"
#include "proxy/admin/view.hpp"
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>

#include "proxy/net/asio.hpp"

namespace baton::health {
class ClusterMonitor;
struct MonitorEvent;
}

namespace baton::proxy {

class App;
class Worker;
namespace admin {
class HttpServer;
}

class ControlPlane {
 public:
  ControlPlane(App& app, asio::io_context& io);
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Starts signals, the admin server and the cluster monitors; returns "" or why it cannot run.
  std::string start();
  // The exit status once run() of the io_context returned.
  int exit_code() const { return exit_code_; }

  // Notes an event for /api/v1/events and the log.
  void event(const std::string& cluster, const std::string& text);

 private:
  awaitable<admin::HttpResponse> handle(admin::HttpRequest request);
  awaitable<admin::AdminView> view();
  awaitable<admin::CommandOutcome> execute(const admin::Command& command);
  admin::CommandOutcome reload(const std::string& why);
  awaitable<admin::CommandOutcome> pause(const std::string& cluster, bool pause);
  // Waits until no session of `cluster` is inside a transaction, or `deadline`; true when none is.
  awaitable<bool> wait_idle(std::size_t cluster, std::chrono::steady_clock::time_point deadline);
  // Runs fn on every worker's thread and waits for all of them (bounded).
  awaitable<void> on_workers(const std::function<void(Worker&)>& fn);
  void arm_signals();
  void on_signal(int signal);
  awaitable<void> shutdown(std::chrono::milliseconds grace);
  // Every worker ends the sessions it has left (Worker::terminate_sessions), each on its thread.
  awaitable<void> terminate_sessions();
  std::string start_monitors();
  std::string monitor_state(std::size_t cluster) const;
  // Keeps what a client refused for want of a primary is told (App::trouble): the nodes whose
  // probes fail and why, and while the cluster has no primary the failover machine's last alert
  // (e.g. several nodes claiming primary on one timeline).
  void note_trouble(std::size_t cluster, const health::MonitorEvent& e);
  admin::CommandOutcome monitor_command(const admin::Command& command);
  std::size_t cluster_index(const std::string& name) const;

  App& app_;
  asio::io_context& io_;
  std::unique_ptr<asio::signal_set> signals_;
  std::unique_ptr<asio::ssl::context> admin_tls_;  // before http_: the server goes first
  std::unique_ptr<admin::HttpServer> http_;
  std::vector<std::unique_ptr<health::ClusterMonitor>> monitors_;  // one per cluster, config order
  std::deque<admin::EventView> events_;
  struct Trouble {
    std::map<std::string, std::string> probe_failures;  // node -> last failure
    std::string last_alert;
    bool no_primary = false;
  };
  std::vector<Trouble> trouble_;  // per cluster
  std::chrono::steady_clock::time_point started_;
  bool shutting_down_ = false;
  int exit_code_ = 0;
};

}  // namespace baton::proxy
