// Unit tests for Topology snapshots and the failover state file's text format.
#include <catch2/catch.hpp>

#include <variant>

#include "health/state_file.hpp"
#include "health/topology.hpp"

using namespace baton::health;

namespace {

std::vector<NodeSpec> specs() {
  return {{.name = "a", .host = "10.0.0.1", .port = 5432, .weight = 1, .priority = 0, .no_promote = false},
          {.name = "b", .host = "10.0.0.2", .port = 5432, .weight = 2, .priority = 5, .no_promote = false},
          {.name = "c", .host = "10.0.0.2", .port = 5433, .weight = 1, .priority = 0, .no_promote = true}};
}

NodeChange change_of(NodeId id) {
  NodeChange c;
  c.node = id;
  return c;
}

}  // namespace

TEST_CASE("make_topology copies the static node facts and starts every node down", "[failover][topology]") {
  Topology t = make_topology(specs(), 7);
  CHECK(t.epoch == 7);
  REQUIRE(t.nodes.size() == 3);
  CHECK(t.nodes[1].name == "b");
  CHECK(t.nodes[1].weight == 2);
  CHECK(t.nodes[1].priority == 5);
  CHECK(t.nodes[2].no_promote);
  CHECK(t.nodes[0].health == NodeHealth::kDown);
  CHECK(t.nodes[0].role == NodeRole::kUnknown);
  CHECK_FALSE(t.primary);
  CHECK_FALSE(t.has_writable_primary());
  CHECK(describe(t) == "epoch=7 primary=- a=unknown/down b=unknown/down c=unknown/down");
}

TEST_CASE("find and find_by_address look nodes up", "[failover][topology]") {
  Topology t = make_topology(specs(), 0);
  CHECK(t.find("c") == NodeId{2});
  CHECK_FALSE(t.find("d"));
  CHECK(t.find_by_address("10.0.0.2", 5433) == NodeId{2});
  CHECK(t.find_by_address("10.0.0.2", 5432) == NodeId{1});
  CHECK_FALSE(t.find_by_address("10.0.0.3", 5432));
}

TEST_CASE("next_topology applies a change to a copy and leaves the previous snapshot alone", "[failover][topology]") {
  Topology first = make_topology(specs(), 1);
  TopologyChange change;
  change.epoch = 2;
  change.primary = std::optional<NodeId>{0};
  NodeChange a = change_of(0);
  a.role = NodeRole::kPrimary;
  a.health = NodeHealth::kUp;
  a.timeline = 3;
  NodeChange b = change_of(1);
  b.role = NodeRole::kStandby;
  b.health = NodeHealth::kUp;
  b.lag_bytes = 4096;
  b.lag_seconds = 1.5;
  NodeChange bogus = change_of(9);
  bogus.health = NodeHealth::kUp;
  change.nodes = {a, b, bogus};

  TopologyPtr next = next_topology(first, change);
  CHECK(next->epoch == 2);
  CHECK(next->primary == NodeId{0});
  CHECK(next->has_writable_primary());
  CHECK(next->nodes[0].timeline == 3);
  CHECK(next->nodes[1].lag_bytes == 4096);
  CHECK(next->nodes[1].lag_seconds == 1.5);
  CHECK(next->nodes[2].health == NodeHealth::kDown);
  CHECK(describe(*next) == "epoch=2 primary=a a=primary/up b=standby/up c=unknown/down");
  CHECK(first.epoch == 1);
  CHECK_FALSE(first.primary);
  CHECK(first.nodes[0].health == NodeHealth::kDown);
}

TEST_CASE("next_topology never lowers the epoch and can clear the primary", "[failover][topology]") {
  Topology t = make_topology(specs(), 5);
  t.primary = 1;
  TopologyChange change;
  change.epoch = 4;
  change.primary = std::optional<NodeId>{};
  TopologyPtr next = next_topology(t, change);
  CHECK(next->epoch == 5);
  CHECK_FALSE(next->primary);

  TopologyChange out_of_range;
  out_of_range.primary = std::optional<NodeId>{3};
  CHECK(next_topology(t, out_of_range)->primary == NodeId{1});
}

TEST_CASE("a suspect or fenced primary is not writable", "[failover][topology]") {
  Topology t = make_topology(specs(), 0);
  t.primary = 0;
  t.nodes[0].role = NodeRole::kPrimary;
  t.nodes[0].health = NodeHealth::kSuspect;
  CHECK_FALSE(t.has_writable_primary());
  t.nodes[0].health = NodeHealth::kFenced;
  CHECK_FALSE(t.has_writable_primary());
  CHECK(describe(t) == "epoch=0 primary=a a=fenced b=unknown/down c=unknown/down");
}

TEST_CASE("state file: encode gives the documented text and decode reads it back", "[failover][state_file]") {
  StateRecord r{.epoch = 7, .timeline = 3, .primary = "b", .fenced = {"a", "c:5433"}};
  const std::string text = encode_state(r);
  CHECK(text ==
        "# baton failover state: do not edit while baton runs\n"
        "version=1\nepoch=7\ntimeline=3\nprimary=b\nfenced=a\nfenced=c:5433\n");
  auto decoded = decode_state(text);
  REQUIRE(std::holds_alternative<StateRecord>(decoded));
  CHECK(std::get<StateRecord>(decoded) == r);

  StateRecord empty{.epoch = 0, .timeline = 0, .primary = "", .fenced = {}};
  auto d2 = decode_state(encode_state(empty));
  REQUIRE(std::holds_alternative<StateRecord>(d2));
  CHECK(std::get<StateRecord>(d2) == empty);

  StateRecord big{.epoch = 18446744073709551615ull, .timeline = 4294967295u, .primary = "x", .fenced = {}};
  auto d3 = decode_state(encode_state(big));
  REQUIRE(std::holds_alternative<StateRecord>(d3));
  CHECK(std::get<StateRecord>(d3) == big);
}

TEST_CASE("state file: keys in any order, comments, blank lines and CRLF are accepted", "[failover][state_file]") {
  auto d = decode_state("\r\n# hand-written\r\nfenced=a\r\ntimeline=2\r\nepoch=9\r\nversion=1\r\n");
  REQUIRE(std::holds_alternative<StateRecord>(d));
  const StateRecord& r = std::get<StateRecord>(d);
  CHECK(r.epoch == 9);
  CHECK(r.timeline == 2);
  CHECK(r.primary.empty());
  CHECK(r.fenced == std::vector<std::string>{"a"});
}

TEST_CASE("state file: malformed input is refused with the line", "[failover][state_file]") {
  struct Bad {
    const char* text;
    const char* what;
    std::size_t line;
  };
  const Bad cases[] = {
      {"version=1\nepoch=1\n", "missing timeline", 0},
      {"epoch=1\ntimeline=1\n", "missing version", 0},
      {"version=1\ntimeline=1\n", "missing epoch", 0},
      {"version=2\nepoch=1\ntimeline=1\n", "unsupported version", 1},
      {"version=1\nepoch=-1\ntimeline=1\n", "epoch is not an unsigned 64-bit number", 2},
      {"version=1\nepoch= 1\ntimeline=1\n", "epoch is not an unsigned 64-bit number", 2},
      {"version=1\nepoch=18446744073709551616\ntimeline=1\n", "epoch is not an unsigned 64-bit number", 2},
      {"version=1\nepoch=1\ntimeline=4294967296\n", "timeline is not an unsigned 32-bit number", 3},
      {"version=1\nepoch=1\ntimeline=\n", "timeline is not an unsigned 32-bit number", 3},
      {"version=1\nepoch=1\nepoch=2\ntimeline=1\n", "duplicate key epoch", 3},
      {"version=1\nepoch=1\ntimeline=1\nprimary=a\nprimary=b\n", "duplicate key primary", 5},
      {"version=1\nepoch=1\ntimeline=1\nfenced=\n", "invalid node name", 4},
      {"version=1\nepoch=1\ntimeline=1\nfenced= a\n", "invalid node name", 4},
      {"version=1\nepoch=1\ntimeline=1\nfenced=a\nfenced=a\n", "node fenced twice", 5},
      {"version=1\nepoch=1\ntimeline=1\ncolour=blue\n", "unknown key", 4},
      {"version=1\nepoch 1\ntimeline=1\n", "expected key=value", 2},
  };
  for (const Bad& bad : cases) {
    INFO(bad.text);
    auto d = decode_state(bad.text);
    REQUIRE(std::holds_alternative<StateFileError>(d));
    CHECK(std::get<StateFileError>(d).what == bad.what);
    CHECK(std::get<StateFileError>(d).line == bad.line);
  }
}
