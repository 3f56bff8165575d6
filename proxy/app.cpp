// The process: builds TLS contexts and workers from the configuration, then runs the control loop.
#include "proxy/app.hpp"

#include <chrono>
#include <thread>

#include "proxy/control/control_plane.hpp"
#include "proxy/log/log.hpp"
#include "proxy/net/worker.hpp"

namespace baton::proxy {

namespace {
constexpr int kMaxWorkers = 255;
}

App::App(Config config) {
  install_config(std::move(config));
  const Config& cfg = this->config();
  for (const ClusterConfig& c : cfg.clusters) {
    std::vector<health::NodeSpec> specs;
    for (const NodeConfig& n : c.nodes) {
      specs.push_back(health::NodeSpec{n.name, n.host, n.port, n.weight, n.priority, n.no_promote});
    }
    // Nothing is known until the monitor's first probes: no primary, every node down.
    topologies_.push_back(std::make_shared<const health::Topology>(health::make_topology(specs, 0)));
    paused_.push_back(false);
    trouble_.emplace_back();
  }
  trouble_reported_.resize(cfg.clusters.size());
  for (std::size_t i = 0; i < trouble_reported_.size(); ++i) {
    trouble_reported_[i] = std::vector<std::atomic<std::int64_t>>(cfg.clusters[i].nodes.size());
  }
}

void App::set_trouble(std::size_t cluster, std::string text) {
  std::lock_guard lock(topology_mutex_);
  if (cluster < trouble_.size()) trouble_[cluster] = std::move(text);
}

std::string App::trouble(std::size_t cluster) const {
  std::lock_guard lock(topology_mutex_);
  return cluster < trouble_.size() ? trouble_[cluster] : std::string();
}

void App::report_node_trouble(std::size_t cluster, std::size_t node) {
  if (cluster < trouble_reported_.size() && node < trouble_reported_[cluster].size()) {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
    std::atomic<std::int64_t>& last = trouble_reported_[cluster][node];
    std::int64_t seen = last.load(std::memory_order_relaxed);
    // (Sessions of every worker lose their connections to a dead node at once: one report.)
    if (now - seen < 100'000'000 || !last.compare_exchange_strong(seen, now, std::memory_order_relaxed)) return;
  }
  std::lock_guard lock(trouble_hook_mutex_);
  if (!trouble_hook_) return;
  asio::post(trouble_executor_, [hook = trouble_hook_, cluster, node] { hook(cluster, node); });
}

void App::set_node_trouble_hook(asio::any_io_executor control, std::function<void(std::size_t, std::size_t)> hook) {
  std::lock_guard lock(trouble_hook_mutex_);
  trouble_executor_ = std::move(control);
  trouble_hook_ = std::move(hook);
}

void App::install_config(Config config) {
  configs_.push_back(std::make_unique<const Config>(std::move(config)));
  current_.store(configs_.back().get(), std::memory_order_release);
}

health::TopologyPtr App::topology(std::size_t cluster) const {
  std::lock_guard lock(topology_mutex_);
  return cluster < topologies_.size() ? topologies_[cluster] : nullptr;
}

void App::publish_topology(std::size_t cluster, health::TopologyPtr topology) {
  {
    std::lock_guard lock(topology_mutex_);
    if (cluster >= topologies_.size()) return;
    topologies_[cluster] = topology;
  }
  metrics_->on_topology(config().clusters[cluster].name, *topology);
  for (auto& w : workers_) {
    Worker* target = w.get();
    target->post([target, cluster, topology] { target->set_topology(cluster, topology); });
  }
}

void App::set_writes_paused(std::size_t cluster, bool paused) {
  {
    std::lock_guard lock(topology_mutex_);
    if (cluster >= paused_.size()) return;
    paused_[cluster] = paused;
  }
  for (auto& w : workers_) {
    Worker* target = w.get();
    target->post([target, cluster, paused] { target->set_writes_paused(cluster, paused); });
  }
}

void App::publish_position(std::size_t cluster, std::size_t node, std::uint64_t lsn) {
  for (auto& w : workers_) {
    Worker* target = w.get();
    target->post([target, cluster, node, lsn] { target->set_position(cluster, node, lsn); });
  }
}

bool App::writes_paused(std::size_t cluster) const {
  std::lock_guard lock(topology_mutex_);
  return cluster < paused_.size() && paused_[cluster];
}

App::~App() {
  for (auto& w : workers_) w->stop();
}

std::string App::build_tls() {
  namespace ssl = asio::ssl;
  for (const ListenerConfig& l : config().listeners) {
    if (l.tls_mode == ClientTlsMode::kDisable) continue;
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    error_code ec;
    ctx->use_certificate_chain_file(l.tls.cert_file, ec);
    if (ec) return "listeners \"" + l.name + "\": tls.cert_file " + l.tls.cert_file + ": " + ec.message();
    ctx->use_private_key_file(l.tls.key_file, ssl::context::pem, ec);
    if (ec) return "listeners \"" + l.name + "\": tls.key_file " + l.tls.key_file + ": " + ec.message();
    client_tls_[&l] = std::move(ctx);
  }
  for (const ClusterConfig& c : config().clusters) {
    if (c.server_tls_mode == ServerTlsMode::kDisable) continue;
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    error_code ec;
    bool verify = c.server_tls_mode == ServerTlsMode::kVerifyCa || c.server_tls_mode == ServerTlsMode::kVerifyFull;
    if (verify) {
      ctx->load_verify_file(c.server_tls.ca_file, ec);
      if (ec) return "clusters \"" + c.name + "\": server_tls.ca_file " + c.server_tls.ca_file + ": " + ec.message();
      ctx->set_verify_mode(ssl::verify_peer);
    } else {
      ctx->set_verify_mode(ssl::verify_none);
    }
    if (!c.server_tls.cert_file.empty()) {
      ctx->use_certificate_chain_file(c.server_tls.cert_file, ec);
      if (!ec) ctx->use_private_key_file(c.server_tls.key_file, ssl::context::pem, ec);
      if (ec) return "clusters \"" + c.name + "\": server_tls client certificate: " + ec.message();
    }
    server_tls_[&c] = std::move(ctx);
  }
  return {};
}

asio::ssl::context* App::client_tls(const ListenerConfig& l) {
  auto it = client_tls_.find(&l);
  return it == client_tls_.end() ? nullptr : it->second.get();
}

asio::ssl::context* App::server_tls(const ClusterConfig& c) {
  auto it = server_tls_.find(&c);
  return it == server_tls_.end() ? nullptr : it->second.get();
}

std::shared_ptr<PoolShared> App::pool_shared(const std::string& key, int max_size) {
  std::lock_guard lock(pools_mutex_);
  auto& p = pools_[key];
  if (!p) p = std::make_shared<PoolShared>(max_size);
  return p;
}

void App::signal_pool(int from, const std::string& key) {
  for (auto& w : workers_) {
    if (w->index() == from) continue;
    Worker* target = w.get();
    target->post([target, key] { target->on_pool_signal(key); });
  }
}

bool App::try_admit_client() {
  int n = clients_.load(std::memory_order_relaxed);
  while (n < config().pool.max_client_conn) {
    if (clients_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) return true;
  }
  return false;
}

void App::release_client() { clients_.fetch_sub(1, std::memory_order_acq_rel); }

int App::run() {
  if (std::string err = build_tls(); !err.empty()) {
    log::error("app", err);
    return 1;
  }
  int n = config().general.workers > 0 ? config().general.workers
                                       : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  // A cancel key's top byte names the worker that owns the session.
  if (n > kMaxWorkers) {
    log::warn("app", "general.workers = ", std::to_string(n), " is more than baton supports; using ",
              std::to_string(kMaxWorkers));
    n = kMaxWorkers;
  }
  for (int i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>(*this, i));
  for (auto& w : workers_) {
    if (std::string err = w->listen(); !err.empty()) {
      log::error("app", err);
      return 1;
    }
  }
  metrics_ = std::make_unique<metrics::Metrics>(metrics::make_layout(config()), n);
  // io_uring where the kernel allows it (a probe: each worker opens its own ring on its thread).
  Worker::Io io = Worker::Io::kEpoll;
  if (config().general.io != IoMode::kEpoll) {
    std::string why;
    if (Ring::open(why)) {
      io = Worker::Io::kRing;
    } else if (config().general.io == IoMode::kIoUring) {
      log::error("app", "general.io = \"io_uring\", but this kernel does not allow it: ", why);
      return 1;
    } else {
      log::info("app", "io_uring is not available (", why, "): workers use epoll");
    }
  }
  for (auto& w : workers_) w->start(io);
  for (const ListenerConfig& l : config().listeners) {
    log::info("app", "listening on ", l.host, ":", std::to_string(l.port), " (", l.name, ", ", to_string(l.protocol),
              ", cluster ", l.cluster, ")");
  }
  log::info("app", "baton started with ", std::to_string(n), " workers (", io == Worker::Io::kRing ? "io_uring" : "epoll", ")");

  // The control plane: signals, admin API, reload, drain and the cluster monitors, on this thread.
  asio::io_context control(1);
  ControlPlane plane(*this, control);
  if (std::string err = plane.start(); !err.empty()) {
    log::error("app", err);
    for (auto& w : workers_) w->stop();
    return 1;
  }
  control.run();
  int exit_code = plane.exit_code();
  for (auto& w : workers_) w->stop();
  log::info("app", "stopped");
  return exit_code;
}

}  // namespace baton::proxy
