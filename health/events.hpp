// What the failover machine hears: probe results, clock ticks, admin commands and action outcomes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "health/topology.hpp"

namespace baton::health {

// How a probe ended. kAuthError means the server answered but refused the monitor's credentials:
// it is reported, but it is not evidence that the node is down.
enum class ProbeStatus { kOk, kRefused, kTimeout, kAuthError, kOther };
std::string_view to_string(ProbeStatus s);

// The upstream a standby's WAL receiver is streaming from (pg_stat_wal_receiver.sender_host/port).
struct WalSender {
  std::string host;
  std::uint16_t port = 0;
};

// One probe of one node. The remaining fields are meaningful only when status is kOk.
struct ProbeResult {
  NodeId node = 0;
  ProbeStatus status = ProbeStatus::kOk;
  TimePoint at{};
  bool in_recovery = false;  // pg_is_in_recovery(): true on a standby
  std::uint32_t timeline = 0;
  Lsn current_lsn = 0;  // primary: pg_current_wal_lsn()
  Lsn receive_lsn = 0;  // standby: pg_last_wal_receive_lsn()
  Lsn replay_lsn = 0;   // standby: pg_last_wal_replay_lsn()
  double replay_lag_seconds = 0;
  std::optional<WalSender> streaming_from;  // none: the WAL receiver is not streaming
};

// The passage of time; the machine checks its deadlines against `now`.
struct Tick {
  TimePoint now{};
};

// Admin commands.
struct Switchover {
  std::optional<NodeId> target;  // none: elect the best standby
};
struct DrainNode {
  NodeId node = 0;
};
struct EnableNode {
  NodeId node = 0;
};
struct ReAddNode {  // the operator has rebuilt a fenced node as a standby
  NodeId node = 0;
};

// Outcomes of actions, reported by whoever ran them.
struct ReadOnlyDone {  // MakeReadOnly finished; final_lsn is the old primary's last WAL position
  NodeId node = 0;
  Lsn final_lsn = 0;
};
struct ReadOnlyFailed {
  NodeId node = 0;
  std::string reason;
};
struct PromoteSucceeded {
  NodeId node = 0;
  std::uint32_t timeline = 0;  // the new timeline; 0 when unknown (taken as the old one plus one)
};
struct PromoteFailed {  // also reported when the WaitReplay before the promotion failed
  NodeId node = 0;
  std::string reason;
};
struct RepointDone {
  NodeId node = 0;
};
struct RepointFailed {
  NodeId node = 0;
  std::string reason;
};
struct FenceDone {
  NodeId node = 0;
};

using Event = std::variant<ProbeResult, Tick, Switchover, DrainNode, EnableNode, ReAddNode, ReadOnlyDone,
                           ReadOnlyFailed, PromoteSucceeded, PromoteFailed, RepointDone, RepointFailed,
                           FenceDone>;

inline std::string_view to_string(ProbeStatus s) {
  switch (s) {
    case ProbeStatus::kOk: return "ok";
    case ProbeStatus::kRefused: return "refused";
    case ProbeStatus::kTimeout: return "timeout";
    case ProbeStatus::kAuthError: return "auth_error";
    case ProbeStatus::kOther: return "other";
  }
  return "?";
}

}  // namespace baton::health
