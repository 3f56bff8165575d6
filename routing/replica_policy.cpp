// Where a listener sends a transaction: the role and fallback rules over the balancer's pick.
#include "routing/replica_policy.hpp"

namespace baton::routing {

std::string_view to_string(ListenerRole r) {
  switch (r) {
    case ListenerRole::kSplit: return "split";
    case ListenerRole::kPrimary: return "primary";
    case ListenerRole::kReplica: return "replica";
  }
  return "?";
}

std::string_view to_string(Route::Kind k) {
  switch (k) {
    case Route::Kind::kPrimary: return "primary";
    case Route::Kind::kStandby: return "standby";
    case Route::Kind::kRefused: return "refused";
  }
  return "?";
}

Wants wants(ListenerRole role, Access access) {
  switch (role) {
    case ListenerRole::kPrimary: return Wants::kPrimary;
    case ListenerRole::kReplica: return Wants::kStandby;
    case ListenerRole::kSplit: return access == Access::kReadOnly ? Wants::kStandby : Wants::kPrimary;
  }
  return Wants::kPrimary;
}

Route decide_route(const RoutePolicy& policy, Access access, const Pick& pick) {
  Route r;
  if (wants(policy.role, access) == Wants::kPrimary) return r;
  r.skipped_for_lag = pick.skipped_for_lag;
  r.skipped_not_caught_up = pick.skipped_not_caught_up;
  if (pick.node) {
    r.kind = Route::Kind::kStandby;
    r.node = *pick.node;
    return r;
  }
  r.reason = pick.reason;
  const bool read_your_writes_on_split =
      policy.role == ListenerRole::kSplit && pick.reason == NoStandby::kNoneCaughtUp;
  if (policy.fallback == ReplicaFallback::kPrimary || read_your_writes_on_split) {
    r.kind = Route::Kind::kPrimary;
    r.fell_back = true;
    return r;
  }
  r.kind = Route::Kind::kRefused;
  r.error = client_message(pick.reason);
  return r;
}

Route route(const RoutePolicy& policy, Access access, Balancer& balancer, const health::Topology& topology,
            const PickOptions& options) {
  if (wants(policy.role, access) == Wants::kPrimary) return Route{};
  return decide_route(policy, access, balancer.pick(topology, options));
}

}  // namespace baton::routing
