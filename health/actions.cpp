// One-line descriptions of failover actions, for logs and tests.
#include "health/actions.hpp"

#include <type_traits>

namespace baton::health {

namespace {

std::string num(std::uint64_t v) { return std::to_string(v); }

std::string describe_action(const PromoteNode& a) {
  return "PromoteNode{node=" + num(a.node) + " epoch=" + num(a.epoch) + "}";
}
std::string describe_action(const RepointStandby& a) {
  return "RepointStandby{node=" + num(a.node) + " new_primary=" + num(a.new_primary) + "}";
}
std::string describe_action(const FenceNode& a) { return "FenceNode{node=" + num(a.node) + "}"; }
std::string describe_action(const PauseWrites&) { return "PauseWrites"; }
std::string describe_action(const ResumeWrites&) { return "ResumeWrites"; }
std::string describe_action(const WaitReplay& a) {
  return "WaitReplay{node=" + num(a.node) + " lsn=" + num(a.lsn) + "}";
}
std::string describe_action(const MakeReadOnly& a) { return "MakeReadOnly{node=" + num(a.node) + "}"; }
std::string describe_action(const MakeWritable& a) { return "MakeWritable{node=" + num(a.node) + "}"; }
std::string describe_action(const PublishTopology& a) {
  return "PublishTopology{" + (a.topology ? describe(*a.topology) : std::string("null")) + "}";
}
std::string describe_action(const RaiseAlert& a) { return "RaiseAlert{" + a.text + "}"; }
std::string describe_action(const RecordState& a) {
  std::string out = "RecordState{epoch=" + num(a.epoch) + " timeline=" + num(a.timeline) +
                    " primary=" + (a.primary.empty() ? std::string("-") : a.primary) + " fenced=";
  for (std::size_t i = 0; i < a.fenced.size(); ++i) {
    if (i > 0) out += ',';
    out += a.fenced[i];
  }
  return out + "}";
}

}  // namespace

std::string to_string(const Action& a) {
  return std::visit([](const auto& x) { return describe_action(x); }, a);
}

}  // namespace baton::health
