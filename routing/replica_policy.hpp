// Where a listener sends a transaction: the primary, a standby the balancer chose, or nowhere with a reason.
#pragma once

#include <span>
#include <string_view>

#include "health/topology.hpp"
#include "routing/balancer.hpp"

namespace baton::routing {

// A listener's role (mirrors proxy::ListenerRole, which routing/ cannot include).
//  kSplit: surely read-only reads to a standby, everything else to the primary.
//  kPrimary: everything to the primary.
//  kReplica: everything to a standby (a write fails there with the server's own read-only error).
enum class ListenerRole { kSplit, kPrimary, kReplica };
std::string_view to_string(ListenerRole r);

// What a split or replica listener does when the balancer finds no standby (replica_fallback).
enum class ReplicaFallback { kPrimary, kRefuse };

// What the classifier says about the transaction about to start: kReadOnly only for a statement
// that is surely read-only AND outside an explicit transaction (or a BEGIN READ ONLY); hints
// already applied (/* baton:replica */ -> kReadOnly, /* baton:primary */ -> kReadWrite).
enum class Access { kReadOnly, kReadWrite };

struct RoutePolicy {
  ListenerRole role = ListenerRole::kSplit;
  ReplicaFallback fallback = ReplicaFallback::kPrimary;
};

// The first step: does this transaction want a standby at all? Only then run the balancer.
enum class Wants { kPrimary, kStandby };
Wants wants(ListenerRole role, Access access);

struct Route {
  enum class Kind { kPrimary, kStandby, kRefused };
  Kind kind = Kind::kPrimary;
  health::NodeId node = 0;      // kStandby: the chosen standby
  // kPrimary for a transaction that wanted a standby: the read fell back (count it). kRefused: why.
  bool fell_back = false;
  NoStandby reason = NoStandby::kNoneUp;  // meaningful when fell_back or kRefused
  std::string_view error;                 // kRefused: the text for the client (static storage)
  // Copied from the pick (empty when no pick ran): standbys left out, for metrics.
  std::span<const health::NodeId> skipped_for_lag;
  std::span<const health::NodeId> skipped_not_caught_up;
};
std::string_view to_string(Route::Kind k);  // "primary", "standby", "refused"

// The second step, pure: the route given the balancer's pick (ignored when wants() is kPrimary).
// With no standby chosen: replica_fallback = primary sends the read to the primary; refuse
// refuses it with client_message(reason) -- except that a split listener always sends a
// read-your-writes read (reason kNoneCaughtUp) to the primary, which is where that rule sends it.
Route decide_route(const RoutePolicy& policy, Access access, const Pick& pick);

// Both steps: runs the balancer only when the transaction wants a standby.
Route route(const RoutePolicy& policy, Access access, Balancer& balancer, const health::Topology& topology,
            const PickOptions& options);

}  // namespace baton::routing
