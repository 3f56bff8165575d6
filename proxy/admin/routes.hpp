// Admin HTTP routes as a pure function: a request and a read-only view in, a response or a command out.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "proxy/admin/view.hpp"

namespace baton::proxy::admin {

struct HttpRequest {
  std::string method;         // "GET", "POST", ...
  std::string target;         // path and query, as on the request line
  std::string authorization;  // the Authorization header, "" when absent
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra: Allow, WWW-Authenticate, ...

  const std::string* header(std::string_view name) const;  // case-insensitive
};

enum class CommandKind { kReload, kPause, kResume, kDrainNode, kEnableNode, kSwitchover };
std::string_view to_string(CommandKind k);

// An authenticated POST the control plane carries out, then answers with command_response().
struct Command {
  CommandKind kind = CommandKind::kReload;
  std::string cluster;  // pause/resume: "" = every cluster; empty for reload
  std::string node;     // drain/enable: the node; switchover: the target ("" = let baton choose)

  bool operator==(const Command&) const = default;
};

using RouteResult = std::variant<HttpResponse, Command>;

struct AdminSettings {
  std::string token;  // bearer token for POST endpoints; "" = POST endpoints refused (403)
};

// GET  /healthz /readyz /metrics /  /api/v1/clusters[/{cluster}] /api/v1/nodes /api/v1/pools
//      /api/v1/clients /api/v1/events
// POST /api/v1/reload /api/v1/pause /api/v1/resume (all clusters)
//      /api/v1/clusters/{cluster}/pause|resume|switchover   (switchover: ?target=NODE or {"target":"NODE"})
//      /api/v1/clusters/{cluster}/nodes/{node}/drain|enable
//      /api/v1/switchover (the only cluster, or ?cluster=)   /api/v1/nodes/{node}/drain|enable
// Errors are JSON {"error": "..."}: 400 bad target or body, 401/403 auth, 404 unknown path,
// cluster or node, 405 wrong method (with Allow).
RouteResult route(const HttpRequest& request, const AdminView& view, const AdminSettings& settings);

// How a command ended, as the control plane reports it.
struct CommandOutcome {
  enum class Status { kDone, kAccepted, kConflict, kFailed };  // 200, 202, 409, 500
  Status status = Status::kDone;
  std::string message;
};
HttpResponse command_response(const Command& command, const CommandOutcome& outcome);

// Pieces exposed for tests and the server.
bool equal_constant_time(std::string_view a, std::string_view b);
std::optional<std::string> percent_decode(std::string_view s);  // nullopt on a bad escape
std::string format_utc(std::chrono::system_clock::time_point t);  // 2024-05-01T12:00:00.123Z
HttpResponse json_error(int status, std::string_view message);

}  // namespace baton::proxy::admin
