// Admin HTTP routes: the route table, bearer-token checks and the JSON each GET endpoint returns.
#include "proxy/admin/routes.hpp"

#include <cstdio>

#include <boost/json.hpp>

#include "proxy/admin/status_page.hpp"

namespace baton::proxy::admin {

namespace json = boost::json;

namespace {

constexpr std::string_view kJson = "application/json";

HttpResponse json_response(int status, const json::value& v) {
  return {status, std::string(kJson), json::serialize(v) + "\n", {}};
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// --- JSON for each kind of view ---

json::object node_json(const NodeView& n) {
  return {{"name", n.name},
          {"host", n.host},
          {"port", n.port},
          {"role", health::to_string(n.role)},
          {"health", health::to_string(n.health)},
          {"lag_bytes", n.lag_bytes},
          {"lag_seconds", n.lag_seconds},
          {"timeline", n.timeline},
          {"weight", n.weight},
          {"priority", n.priority},
          {"no_promote", n.no_promote}};
}

json::object cluster_json(const ClusterView& c) {
  json::array nodes;
  for (const NodeView& n : c.nodes) nodes.push_back(node_json(n));
  json::value primary = nullptr;
  if (c.primary) primary = json::string(*c.primary);
  return {{"name", c.name},
          {"protocol", c.protocol},
          {"epoch", c.epoch},
          {"primary", primary},
          {"failover_state", c.failover_state},
          {"writes_paused", c.writes_paused},
          {"nodes", std::move(nodes)}};
}

json::object pool_json(const PoolView& p) {
  return {{"cluster", p.cluster}, {"node", p.node},     {"database", p.database}, {"user", p.user},
          {"mode", p.mode},       {"size", p.size},     {"active", p.active},     {"idle", p.idle},
          {"opening", p.opening}, {"waiting", p.waiting}};
}

json::object listener_json(const ListenerView& l) {
  return {{"name", l.name},       {"protocol", l.protocol}, {"host", l.host},     {"port", l.port},
          {"cluster", l.cluster}, {"role", l.role},         {"up", l.up},         {"active", l.active},
          {"waiting", l.waiting}, {"idle", l.idle},     {"idle_hot", l.idle_hot}};
}

// --- the target: path segments and query parameters ---

struct Target {
  std::vector<std::string> segments;
  std::vector<std::pair<std::string, std::string>> query;

  const std::string* param(std::string_view name) const {
    for (const auto& [k, v] : query) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

std::optional<Target> parse_target(std::string_view target) {
  Target t;
  std::string_view path = target;
  std::string_view query;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
  if (path.empty() || path.front() != '/') return std::nullopt;
  path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  while (!path.empty()) {
    const auto slash = path.find('/');
    auto seg = percent_decode(path.substr(0, slash));
    if (!seg || seg->empty()) return std::nullopt;
    t.segments.push_back(std::move(*seg));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
  }
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq));
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!key || !value) return std::nullopt;
    t.query.emplace_back(std::move(*key), std::move(*value));
  }
  return t;
}

// --- the route table ---

enum class Endpoint {
  kStatusPage, kHealthz, kReadyz, kMetrics, kClusters, kCluster, kNodes, kPools, kClients, kEvents,
  kReload, kPauseAll, kResumeAll, kPause, kResume, kSwitchover, kDrain, kEnable,
  // Short forms that name no cluster: the only cluster (or ?cluster=), the cluster that has the node.
  kSwitchoverAny, kNodeDrain, kNodeEnable,
};

struct Match {
  Endpoint endpoint;
  std::string_view method;  // the one method the endpoint takes
};

std::optional<Match> match(const std::vector<std::string>& s) {
  using E = Endpoint;
  const std::size_t n = s.size();
  if (n == 0) return Match{E::kStatusPage, "GET"};
  if (n == 1 && s[0] == "healthz") return Match{E::kHealthz, "GET"};
  if (n == 1 && s[0] == "readyz") return Match{E::kReadyz, "GET"};
  if (n == 1 && s[0] == "metrics") return Match{E::kMetrics, "GET"};
  if (n < 3 || s[0] != "api" || s[1] != "v1") return std::nullopt;
  const std::string& r = s[2];
  if (n == 3) {
    if (r == "clusters") return Match{E::kClusters, "GET"};
    if (r == "nodes") return Match{E::kNodes, "GET"};
    if (r == "pools") return Match{E::kPools, "GET"};
    if (r == "clients") return Match{E::kClients, "GET"};
    if (r == "events") return Match{E::kEvents, "GET"};
    if (r == "reload") return Match{E::kReload, "POST"};
    if (r == "pause") return Match{E::kPauseAll, "POST"};
    if (r == "resume") return Match{E::kResumeAll, "POST"};
    if (r == "switchover") return Match{E::kSwitchoverAny, "POST"};
    return std::nullopt;
  }
  if (r == "nodes" && n == 5 && s[4] == "drain") return Match{E::kNodeDrain, "POST"};
  if (r == "nodes" && n == 5 && s[4] == "enable") return Match{E::kNodeEnable, "POST"};
  if (r != "clusters") return std::nullopt;
  if (n == 4) return Match{E::kCluster, "GET"};
  if (n == 5 && s[4] == "pause") return Match{E::kPause, "POST"};
  if (n == 5 && s[4] == "resume") return Match{E::kResume, "POST"};
  if (n == 5 && s[4] == "switchover") return Match{E::kSwitchover, "POST"};
  if (n == 7 && s[4] == "nodes" && s[6] == "drain") return Match{E::kDrain, "POST"};
  if (n == 7 && s[4] == "nodes" && s[6] == "enable") return Match{E::kEnable, "POST"};
  return std::nullopt;
}

// --- GET handlers ---

HttpResponse readyz(const AdminView& view) {
  json::array reasons;
  if (view.shutting_down) reasons.push_back("baton is shutting down");
  for (const ListenerView& l : view.listeners) {
    if (!l.up) {
      reasons.push_back(json::string("listener " + l.name + " (" + l.host + ":" + std::to_string(l.port) +
                                     ") is not accepting connections"));
    }
  }
  for (const ClusterView& c : view.clusters) {
    if (!c.primary) reasons.push_back(json::string("cluster " + c.name + " has no known primary"));
  }
  if (reasons.empty()) return json_response(200, json::object{{"status", "ready"}});
  return json_response(503, json::object{{"status", "not ready"}, {"reasons", std::move(reasons)}});
}

HttpResponse metrics(const AdminView& view) {
  if (!view.metrics_text) return json_error(503, "metrics are not available");
  return {200, "text/plain; version=0.0.4; charset=utf-8", view.metrics_text(), {}};
}

// The cluster named by ?cluster=, if any; a name that matches no cluster is an error response.
std::variant<const ClusterView*, HttpResponse> cluster_filter(const Target& t, const AdminView& view) {
  const std::string* name = t.param("cluster");
  if (!name) return static_cast<const ClusterView*>(nullptr);
  const ClusterView* c = view.find_cluster(*name);
  if (!c) return json_error(404, "no such cluster: " + *name);
  return c;
}

HttpResponse get(Endpoint e, const Target& t, const AdminView& view) {
  switch (e) {
    case Endpoint::kStatusPage: return {200, "text/html; charset=utf-8", std::string(kStatusPageHtml), {}};
    case Endpoint::kHealthz: {
      if (view.stalled_workers.empty()) return json_response(200, json::object{{"status", "ok"}});
      json::array stalled;
      for (int w : view.stalled_workers) stalled.push_back(w);
      return json_response(503, json::object{{"status", "stalled"}, {"stalled_workers", std::move(stalled)}});
    }
    case Endpoint::kReadyz: return readyz(view);
    case Endpoint::kMetrics: return metrics(view);
    case Endpoint::kCluster: {
      const ClusterView* c = view.find_cluster(t.segments[3]);
      if (!c) return json_error(404, "no such cluster: " + t.segments[3]);
      return json_response(200, cluster_json(*c));
    }
    case Endpoint::kClusters: {
      json::array out;
      for (const ClusterView& c : view.clusters) out.push_back(cluster_json(c));
      return json_response(200, json::object{{"clusters", std::move(out)}});
    }
    case Endpoint::kNodes:
    case Endpoint::kPools: {
      auto filter = cluster_filter(t, view);
      if (auto* err = std::get_if<HttpResponse>(&filter)) return *err;
      const ClusterView* only = std::get<const ClusterView*>(filter);
      json::array out;
      if (e == Endpoint::kNodes) {
        for (const ClusterView& c : view.clusters) {
          if (only && only != &c) continue;
          for (const NodeView& n : c.nodes) {
            json::object o{{"cluster", c.name}};
            for (auto& kv : node_json(n)) o.emplace(kv.key(), std::move(kv.value()));
            out.push_back(std::move(o));
          }
        }
        return json_response(200, json::object{{"nodes", std::move(out)}});
      }
      for (const PoolView& p : view.pools) {
        if (!only || p.cluster == only->name) out.push_back(pool_json(p));
      }
      return json_response(200, json::object{{"pools", std::move(out)}});
    }
    case Endpoint::kClients: {
      json::array out;
      int active = 0, waiting = 0, idle = 0, idle_hot = 0;
      for (const ListenerView& l : view.listeners) {
        out.push_back(listener_json(l));
        active += l.active;
        waiting += l.waiting;
        idle += l.idle;
        idle_hot += l.idle_hot;
      }
      json::object total{{"active", active}, {"waiting", waiting}, {"idle", idle}, {"idle_hot", idle_hot}};
      return json_response(200, json::object{{"total", std::move(total)}, {"listeners", std::move(out)}});
    }
    case Endpoint::kEvents: {
      json::array out;
      for (const EventView& ev : view.events) {
        out.push_back(json::object{{"time", format_utc(ev.time)}, {"cluster", ev.cluster}, {"text", ev.text}});
      }
      return json_response(200, json::object{{"events", std::move(out)}});
    }
    default: break;
  }
  return json_error(500, "unhandled endpoint");
}

// --- POST: authentication, then the command ---

std::optional<HttpResponse> check_bearer(const HttpRequest& req, const AdminSettings& settings) {
  if (settings.token.empty()) {
    return json_error(403, "POST endpoints are disabled: no admin token is configured (set admin.token)");
  }
  std::string_view h = req.authorization;
  constexpr std::string_view kScheme = "bearer";
  const bool bearer = h.size() > kScheme.size() && iequals(h.substr(0, kScheme.size()), kScheme) &&
                      h[kScheme.size()] == ' ';
  if (!bearer) {
    HttpResponse r = json_error(401, "a bearer token is required (Authorization: Bearer <token>)");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"baton\"");
    return r;
  }
  h.remove_prefix(kScheme.size());
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && (h.back() == ' ' || h.back() == '\t')) h.remove_suffix(1);
  if (!equal_constant_time(h, settings.token)) {
    HttpResponse r = json_error(401, "the bearer token is not valid");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"baton\", error=\"invalid_token\"");
    return r;
  }
  return std::nullopt;
}

// The switchover target from ?target= or a JSON body {"target": "node"}; "" when neither names one.
std::variant<std::string, HttpResponse> switchover_target(const HttpRequest& req, const Target& t) {
  std::string target;
  if (const std::string* q = t.param("target")) target = *q;
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) return target;
  json::error_code ec;
  json::value body = json::parse(req.body, ec);
  if (ec || !body.is_object()) return json_error(400, "the body must be a JSON object such as {\"target\": \"node\"}");
  if (const json::value* v = body.as_object().if_contains("target")) {
    if (!v->is_string()) return json_error(400, "\"target\" must be a string");
    std::string from_body(v->as_string());
    if (!target.empty() && target != from_body) return json_error(400, "?target= and the body name different nodes");
    target = std::move(from_body);
  }
  return target;
}

RouteResult post(Endpoint e, const HttpRequest& req, const Target& t, const AdminView& view) {
  switch (e) {
    case Endpoint::kReload: return Command{CommandKind::kReload, "", ""};
    case Endpoint::kPauseAll: return Command{CommandKind::kPause, "", ""};
    case Endpoint::kResumeAll: return Command{CommandKind::kResume, "", ""};
    case Endpoint::kNodeDrain:
    case Endpoint::kNodeEnable: {
      const std::string& node = t.segments[3];
      const ClusterView* owner = nullptr;
      for (const ClusterView& c : view.clusters) {
        if (!c.find_node(node)) continue;
        if (owner) return json_error(409, "node " + node + " is in several clusters: use /api/v1/clusters/{cluster}/nodes/" + node);
        owner = &c;
      }
      if (!owner) return json_error(404, "no such node: " + node);
      const CommandKind kind = e == Endpoint::kNodeDrain ? CommandKind::kDrainNode : CommandKind::kEnableNode;
      return Command{kind, owner->name, node};
    }
    default: break;
  }
  std::string cluster_name;
  if (e == Endpoint::kSwitchoverAny) {
    if (const std::string* c = t.param("cluster")) {
      cluster_name = *c;
    } else if (view.clusters.size() == 1) {
      cluster_name = view.clusters.front().name;
    } else {
      return json_error(400, "several clusters: name one with ?cluster= or use /api/v1/clusters/{cluster}/switchover");
    }
    e = Endpoint::kSwitchover;
  } else {
    cluster_name = t.segments[3];
  }
  const ClusterView* cluster = view.find_cluster(cluster_name);
  if (!cluster) return json_error(404, "no such cluster: " + cluster_name);
  switch (e) {
    case Endpoint::kPause: return Command{CommandKind::kPause, cluster_name, ""};
    case Endpoint::kResume: return Command{CommandKind::kResume, cluster_name, ""};
    case Endpoint::kSwitchover: {
      auto target = switchover_target(req, t);
      if (auto* err = std::get_if<HttpResponse>(&target)) return *err;
      std::string node = std::get<std::string>(std::move(target));
      if (!node.empty() && !cluster->find_node(node)) {
        return json_error(404, "no such node in cluster " + cluster_name + ": " + node);
      }
      if (!node.empty() && cluster->primary == node) {
        return json_error(409, node + " is already the primary of cluster " + cluster_name);
      }
      return Command{CommandKind::kSwitchover, cluster_name, std::move(node)};
    }
    case Endpoint::kDrain:
    case Endpoint::kEnable: {
      const std::string& node = t.segments[5];
      if (!cluster->find_node(node)) return json_error(404, "no such node in cluster " + cluster_name + ": " + node);
      const CommandKind kind = e == Endpoint::kDrain ? CommandKind::kDrainNode : CommandKind::kEnableNode;
      return Command{kind, cluster_name, node};
    }
    default: break;
  }
  return json_error(500, "unhandled endpoint");
}

}  // namespace

const std::string* HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return &v;
  }
  return nullptr;
}

std::string_view to_string(CommandKind k) {
  switch (k) {
    case CommandKind::kReload: return "reload";
    case CommandKind::kPause: return "pause";
    case CommandKind::kResume: return "resume";
    case CommandKind::kDrainNode: return "drain";
    case CommandKind::kEnableNode: return "enable";
    case CommandKind::kSwitchover: return "switchover";
  }
  return "?";
}

RouteResult route(const HttpRequest& request, const AdminView& view, const AdminSettings& settings) {
  const auto target = parse_target(request.target);
  if (!target) return json_error(400, "malformed request target");
  const auto m = match(target->segments);
  if (!m) return json_error(404, "no such endpoint: " + request.method + " " + request.target);
  if (request.method != m->method) {
    HttpResponse r = json_error(405, "use " + std::string(m->method) + " for this endpoint");
    r.headers.emplace_back("Allow", std::string(m->method));
    return r;
  }
  if (m->method == "GET") return get(m->endpoint, *target, view);
  if (auto denied = check_bearer(request, settings)) return *denied;
  return post(m->endpoint, request, *target, view);
}

HttpResponse command_response(const Command& command, const CommandOutcome& outcome) {
  int status = 200;
  std::string_view result = "done";
  switch (outcome.status) {
    case CommandOutcome::Status::kDone: break;
    case CommandOutcome::Status::kAccepted: status = 202; result = "accepted"; break;
    case CommandOutcome::Status::kConflict: status = 409; result = "conflict"; break;
    case CommandOutcome::Status::kFailed: status = 500; result = "failed"; break;
  }
  json::object o{{"command", to_string(command.kind)}, {"result", result}, {"message", outcome.message}};
  if (!command.cluster.empty()) o["cluster"] = command.cluster;
  if (!command.node.empty()) o["node"] = command.node;
  return json_response(status, o);
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  // Every byte of `a` is looked at whatever the content; only a's length (the caller's input) shows.
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const unsigned char x = static_cast<unsigned char>(a[i]);
    const unsigned char y = b.empty() ? 0 : static_cast<unsigned char>(b[i % b.size()]);
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

std::optional<std::string> percent_decode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex(s[i + 1]);
    const int lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string format_utc(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> hms{ms - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
  return buf;
}

HttpResponse json_error(int status, std::string_view message) {
  return json_response(status, json::object{{"error", message}});
}

}  // namespace baton::proxy::admin
