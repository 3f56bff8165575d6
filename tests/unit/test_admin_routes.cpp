// Tests for proxy/admin/routes: every endpoint, bearer auth, 404/405, readiness reasons, JSON checked field by field.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "proxy/admin/routes.hpp"
#include "proxy/admin/status_page.hpp"

using namespace baton::proxy::admin;
using baton::health::NodeHealth;
using baton::health::NodeRole;
namespace json = boost::json;

namespace {

AdminView make_view() {
  AdminView v;
  v.version = "0.1.0";
  ClusterView main;
  main.name = "main";
  main.protocol = "postgres";
  main.epoch = 4;
  main.primary = "a";
  main.failover_state = "healthy";
  main.nodes.push_back({"a", "10.0.0.1", 5432, NodeRole::kPrimary, NodeHealth::kUp, 0, 0, 2, 1, 10, false});
  main.nodes.push_back({"b", "10.0.0.2", 5433, NodeRole::kStandby, NodeHealth::kUp, 1024, 0.5, 2, 3, 5, false});
  main.nodes.push_back({"c", "10.0.0.3", 5434, NodeRole::kStandby, NodeHealth::kDrained, 0, 0, 2, 1, 0, true});
  ClusterView eu;
  eu.name = "eu west";
  eu.protocol = "postgres";
  eu.epoch = 1;
  eu.primary = "e1";
  eu.failover_state = "healthy";
  eu.nodes.push_back({"e1", "10.1.0.1", 5432, NodeRole::kPrimary, NodeHealth::kUp, 0, 0, 1, 1, 0, false});
  v.clusters = {main, eu};
  v.listeners.push_back({"pg", "postgres", "127.0.0.1", 6432, "main", "split", true, 3, 1, 20, 4});
  v.listeners.push_back({"pg_ro", "postgres", "127.0.0.1", 6433, "main", "replica", true, 2, 0, 5, 1});
  v.pools.push_back({"main", "a", "app", "alice", "transaction", 20, 3, 5, 1, 1});
  v.pools.push_back({"main", "b", "app", "alice", "transaction", 20, 2, 0, 0, 0});
  v.pools.push_back({"eu west", "e1", "app", "bob", "session", 10, 0, 2, 0, 0});
  using namespace std::chrono;
  // 2024-05-01T12:34:56.789Z as a time_point (1714566896 s since the Unix epoch).
  v.events.push_back({system_clock::time_point(seconds(1714566896) + milliseconds(789)), "main", "node c drained"});
  v.events.push_back({system_clock::time_point(seconds(0)), "", "started"});
  v.metrics_text = [] { return std::string("# TYPE baton_up gauge\nbaton_up 1\n"); };
  return v;
}

const AdminSettings kSettings{"s3cret-token"};

HttpResponse respond(const HttpRequest& req, const AdminView& view = make_view(),
                     const AdminSettings& settings = kSettings) {
  RouteResult r = route(req, view, settings);
  REQUIRE(std::holds_alternative<HttpResponse>(r));
  return std::get<HttpResponse>(r);
}

HttpResponse get(const std::string& target, const AdminView& view = make_view()) {
  return respond({"GET", target, "", ""}, view);
}

Command command(const HttpRequest& req) {
  RouteResult r = route(req, make_view(), kSettings);
  if (auto* resp = std::get_if<HttpResponse>(&r)) FAIL("expected a command, got " << resp->status << " " << resp->body);
  return std::get<Command>(r);
}

HttpRequest post(const std::string& target, const std::string& body = "") {
  return {"POST", target, "Bearer s3cret-token", body};
}

json::object body_of(const HttpResponse& r) {
  CHECK(r.content_type == "application/json");
  json::value v = json::parse(r.body);
  REQUIRE(v.is_object());
  return v.as_object();
}

std::string error_of(const HttpResponse& r) { return std::string(body_of(r).at("error").as_string()); }

}  // namespace

TEST_CASE("GET /healthz answers ok", "[admin]") {
  const HttpResponse r = get("/healthz");
  CHECK(r.status == 200);
  CHECK(body_of(r).at("status").as_string() == "ok");
}

TEST_CASE("GET /healthz: 503 naming the worker loops that did not answer", "[admin]") {
  AdminView v = make_view();
  v.stalled_workers = {1, 3};
  const HttpResponse r = get("/healthz", v);
  CHECK(r.status == 503);
  CHECK(body_of(r).at("status").as_string() == "stalled");
  CHECK(json::serialize(body_of(r).at("stalled_workers")) == "[1,3]");
}

TEST_CASE("GET /readyz: 200 when listeners are up and every cluster has a primary, else 503 with reasons", "[admin]") {
  SECTION("ready") {
    const HttpResponse r = get("/readyz");
    CHECK(r.status == 200);
    CHECK(body_of(r).at("status").as_string() == "ready");
  }
  SECTION("a listener down and a cluster without primary") {
    AdminView v = make_view();
    v.listeners[1].up = false;
    v.clusters[1].primary.reset();
    const HttpResponse r = get("/readyz", v);
    CHECK(r.status == 503);
    const json::object o = body_of(r);
    CHECK(o.at("status").as_string() == "not ready");
    const json::array& reasons = o.at("reasons").as_array();
    REQUIRE(reasons.size() == 2);
    CHECK(reasons[0].as_string() == "listener pg_ro (127.0.0.1:6433) is not accepting connections");
    CHECK(reasons[1].as_string() == "cluster eu west has no known primary");
  }
  SECTION("shutting down") {
    AdminView v = make_view();
    v.shutting_down = true;
    const HttpResponse r = get("/readyz", v);
    CHECK(r.status == 503);
    const json::object o = body_of(r);
    const json::array& reasons = o.at("reasons").as_array();
    REQUIRE(reasons.size() == 1);
    CHECK(reasons[0].as_string() == "baton is shutting down");
  }
}

TEST_CASE("GET /metrics returns the serialized text from the view", "[admin]") {
  const HttpResponse r = get("/metrics");
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(r.body == "# TYPE baton_up gauge\nbaton_up 1\n");
  AdminView v = make_view();
  v.metrics_text = nullptr;
  CHECK(get("/metrics", v).status == 503);
}

TEST_CASE("GET /api/v1/clusters lists clusters with their nodes", "[admin]") {
  const HttpResponse r = get("/api/v1/clusters");
  REQUIRE(r.status == 200);
  const json::object body = body_of(r);
  const json::array& clusters = body.at("clusters").as_array();
  REQUIRE(clusters.size() == 2);
  const json::object& c = clusters[0].as_object();
  CHECK(c.at("name").as_string() == "main");
  CHECK(c.at("protocol").as_string() == "postgres");
  CHECK(c.at("epoch").to_number<int>() == 4);
  CHECK(c.at("primary").as_string() == "a");
  CHECK(c.at("failover_state").as_string() == "healthy");
  CHECK(c.at("writes_paused").as_bool() == false);
  const json::array& nodes = c.at("nodes").as_array();
  REQUIRE(nodes.size() == 3);
  const json::object& b = nodes[1].as_object();
  CHECK(b.at("name").as_string() == "b");
  CHECK(b.at("host").as_string() == "10.0.0.2");
  CHECK(b.at("port").to_number<int>() == 5433);
  CHECK(b.at("role").as_string() == "standby");
  CHECK(b.at("health").as_string() == "up");
  CHECK(b.at("lag_bytes").to_number<int>() == 1024);
  CHECK(b.at("lag_seconds").to_number<double>() == 0.5);
  CHECK(b.at("timeline").to_number<int>() == 2);
  CHECK(b.at("weight").to_number<int>() == 3);
  CHECK(b.at("priority").to_number<int>() == 5);
  CHECK(b.at("no_promote").as_bool() == false);
  CHECK(nodes[2].at("health").as_string() == "drained");
  CHECK(nodes[2].at("no_promote").as_bool() == true);

  SECTION("no primary is null") {
    AdminView v = make_view();
    v.clusters[0].primary.reset();
    const json::object o = body_of(get("/api/v1/clusters", v));
    CHECK(o.at("clusters").as_array()[0].at("primary").is_null());
  }
}

TEST_CASE("GET /api/v1/clusters/{name} with a percent-encoded name; unknown names are 404", "[admin]") {
  const HttpResponse r = get("/api/v1/clusters/eu%20west");
  REQUIRE(r.status == 200);
  const json::object o = body_of(r);
  CHECK(o.at("name").as_string() == "eu west");
  CHECK(o.at("nodes").as_array().size() == 1);
  const HttpResponse missing = get("/api/v1/clusters/nope");
  CHECK(missing.status == 404);
  CHECK(error_of(missing) == "no such cluster: nope");
  CHECK(get("/api/v1/clusters/").status == 200);  // a trailing slash is tolerated
}

TEST_CASE("GET /api/v1/nodes lists every node with its cluster, optionally filtered", "[admin]") {
  const json::array all = body_of(get("/api/v1/nodes")).at("nodes").as_array();
  REQUIRE(all.size() == 4);
  CHECK(all[0].at("cluster").as_string() == "main");
  CHECK(all[0].at("name").as_string() == "a");
  CHECK(all[0].at("role").as_string() == "primary");
  CHECK(all[3].at("cluster").as_string() == "eu west");
  CHECK(all[3].at("name").as_string() == "e1");
  const json::array eu = body_of(get("/api/v1/nodes?cluster=eu%20west")).at("nodes").as_array();
  REQUIRE(eu.size() == 1);
  CHECK(eu[0].at("name").as_string() == "e1");
  CHECK(get("/api/v1/nodes?cluster=nope").status == 404);
}

TEST_CASE("GET /api/v1/pools lists pool use", "[admin]") {
  const json::array pools = body_of(get("/api/v1/pools")).at("pools").as_array();
  REQUIRE(pools.size() == 3);
  const json::object& p = pools[0].as_object();
  CHECK(p.at("cluster").as_string() == "main");
  CHECK(p.at("node").as_string() == "a");
  CHECK(p.at("database").as_string() == "app");
  CHECK(p.at("user").as_string() == "alice");
  CHECK(p.at("mode").as_string() == "transaction");
  CHECK(p.at("size").to_number<int>() == 20);
  CHECK(p.at("active").to_number<int>() == 3);
  CHECK(p.at("idle").to_number<int>() == 5);
  CHECK(p.at("opening").to_number<int>() == 1);
  CHECK(p.at("waiting").to_number<int>() == 1);
  const json::array main = body_of(get("/api/v1/pools?cluster=main")).at("pools").as_array();
  CHECK(main.size() == 2);
}

TEST_CASE("GET /api/v1/clients counts clients per listener and in total", "[admin]") {
  const json::object o = body_of(get("/api/v1/clients"));
  const json::object& total = o.at("total").as_object();
  CHECK(total.at("active").to_number<int>() == 5);
  CHECK(total.at("waiting").to_number<int>() == 1);
  CHECK(total.at("idle").to_number<int>() == 25);
  CHECK(total.at("idle_hot").to_number<int>() == 5);
  const json::array& ls = o.at("listeners").as_array();
  REQUIRE(ls.size() == 2);
  const json::object& l = ls[0].as_object();
  CHECK(l.at("name").as_string() == "pg");
  CHECK(l.at("protocol").as_string() == "postgres");
  CHECK(l.at("host").as_string() == "127.0.0.1");
  CHECK(l.at("port").to_number<int>() == 6432);
  CHECK(l.at("cluster").as_string() == "main");
  CHECK(l.at("role").as_string() == "split");
  CHECK(l.at("up").as_bool() == true);
  CHECK(l.at("active").to_number<int>() == 3);
  CHECK(l.at("waiting").to_number<int>() == 1);
  CHECK(l.at("idle").to_number<int>() == 20);
  CHECK(l.at("idle_hot").to_number<int>() == 4);
}

TEST_CASE("GET /api/v1/events gives UTC times and texts", "[admin]") {
  const json::array ev = body_of(get("/api/v1/events")).at("events").as_array();
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].at("time").as_string() == "2024-05-01T12:34:56.789Z");
  CHECK(ev[0].at("cluster").as_string() == "main");
  CHECK(ev[0].at("text").as_string() == "node c drained");
  CHECK(ev[1].at("time").as_string() == "1970-01-01T00:00:00.000Z");
  // 951782400 s = 2000-02-29T00:00:00Z, a leap day.
  CHECK(format_utc(std::chrono::system_clock::time_point(std::chrono::seconds(951782400))) ==
        "2000-02-29T00:00:00.000Z");
}

TEST_CASE("GET / serves the status page", "[admin]") {
  const HttpResponse r = get("/");
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/html; charset=utf-8");
  CHECK(r.body.starts_with("<!doctype html>"));
  CHECK(r.body.find("/api/v1/clusters") != std::string::npos);
  CHECK(r.body.find("/api/v1/pools") != std::string::npos);
  CHECK(r.body.find("setInterval(refresh, 2000)") != std::string::npos);
  CHECK(r.body.find("innerHTML") == std::string::npos);  // data is written as text only
  CHECK(r.body == kStatusPageHtml);
}

TEST_CASE("unknown paths are 404, wrong methods 405 with Allow, bad targets 400", "[admin]") {
  const HttpResponse nf = get("/api/v1/nothing");
  CHECK(nf.status == 404);
  CHECK(error_of(nf) == "no such endpoint: GET /api/v1/nothing");
  CHECK(get("/api/v2/clusters").status == 404);
  CHECK(get("/api/v1/clusters/main/nodes/a").status == 404);
  CHECK(get("/healthz/extra").status == 404);

  const HttpResponse m1 = respond({"GET", "/api/v1/reload", "", ""});
  CHECK(m1.status == 405);
  REQUIRE(m1.header("allow") != nullptr);
  CHECK(*m1.header("Allow") == "POST");
  const HttpResponse m2 = respond(post("/api/v1/clusters"));
  CHECK(m2.status == 405);
  CHECK(*m2.header("Allow") == "GET");
  const HttpResponse m3 = respond({"DELETE", "/healthz", "", ""});
  CHECK(m3.status == 405);
  CHECK(*m3.header("Allow") == "GET");
  CHECK(respond({"GET", "/api/v1/clusters/main/drain", "", ""}).status == 404);

  CHECK(get("/api/v1/clusters/%zz").status == 400);
  CHECK(get("/api/v1/clusters/%4").status == 400);
  CHECK(get("api/v1/clusters").status == 400);
  CHECK(get("/api//v1").status == 400);
}

TEST_CASE("POST endpoints need the bearer token", "[admin]") {
  SECTION("no token configured: 403 with a clear message") {
    const HttpResponse r = respond(post("/api/v1/reload"), make_view(), AdminSettings{""});
    CHECK(r.status == 403);
    CHECK(error_of(r) == "POST endpoints are disabled: no admin token is configured (set admin.token)");
    CHECK(r.header("WWW-Authenticate") == nullptr);
  }
  SECTION("missing: 401 with a bare Bearer challenge (RFC 6750 section 3)") {
    const HttpResponse r = respond({"POST", "/api/v1/reload", "", ""});
    CHECK(r.status == 401);
    REQUIRE(r.header("WWW-Authenticate") != nullptr);
    CHECK(*r.header("WWW-Authenticate") == "Bearer realm=\"baton\"");
  }
  SECTION("another scheme counts as missing") {
    const HttpResponse r = respond({"POST", "/api/v1/reload", "Basic czNjcmV0LXRva2Vu", ""});
    CHECK(r.status == 401);
    CHECK(*r.header("WWW-Authenticate") == "Bearer realm=\"baton\"");
    CHECK(respond({"POST", "/api/v1/reload", "Bearer", ""}).status == 401);
    CHECK(respond({"POST", "/api/v1/reload", "Bearers3cret-token", ""}).status == 401);
  }
  SECTION("wrong: 401 with error=\"invalid_token\"") {
    for (const char* h : {"Bearer s3cret-toke", "Bearer s3cret-token2", "Bearer S3cret-token", "Bearer "}) {
      INFO(h);
      const HttpResponse r = respond({"POST", "/api/v1/reload", h, ""});
      CHECK(r.status == 401);
      REQUIRE(r.header("WWW-Authenticate") != nullptr);
      CHECK(*r.header("WWW-Authenticate") == "Bearer realm=\"baton\", error=\"invalid_token\"");
    }
  }
  SECTION("the scheme is case-insensitive (RFC 7235 section 2.1)") {
    CHECK(command({"POST", "/api/v1/reload", "bearer s3cret-token", ""}).kind == CommandKind::kReload);
    CHECK(command({"POST", "/api/v1/reload", "BEARER   s3cret-token ", ""}).kind == CommandKind::kReload);
  }
  SECTION("unknown cluster names are not revealed before authentication") {
    CHECK(respond({"POST", "/api/v1/clusters/nope/pause", "", ""}).status == 401);
    CHECK(respond(post("/api/v1/clusters/nope/pause")).status == 404);
  }
  SECTION("GET needs no token") {
    CHECK(respond({"GET", "/api/v1/clusters", "", ""}, make_view(), AdminSettings{""}).status == 200);
  }
}

TEST_CASE("authenticated POSTs become commands for the control plane", "[admin]") {
  CHECK(command(post("/api/v1/reload")) == Command{CommandKind::kReload, "", ""});
  CHECK(command(post("/api/v1/pause")) == Command{CommandKind::kPause, "", ""});
  CHECK(command(post("/api/v1/resume")) == Command{CommandKind::kResume, "", ""});
  CHECK(command(post("/api/v1/clusters/main/pause")) == Command{CommandKind::kPause, "main", ""});
  CHECK(command(post("/api/v1/clusters/eu%20west/resume")) == Command{CommandKind::kResume, "eu west", ""});
  CHECK(command(post("/api/v1/clusters/main/nodes/c/drain")) == Command{CommandKind::kDrainNode, "main", "c"});
  CHECK(command(post("/api/v1/clusters/main/nodes/c/enable")) == Command{CommandKind::kEnableNode, "main", "c"});
  const HttpResponse nn = respond(post("/api/v1/clusters/main/nodes/zz/drain"));
  CHECK(nn.status == 404);
  CHECK(error_of(nn) == "no such node in cluster main: zz");
}

TEST_CASE("switchover: target from the query or a JSON body, checked against the view", "[admin]") {
  CHECK(command(post("/api/v1/clusters/main/switchover")) == Command{CommandKind::kSwitchover, "main", ""});
  CHECK(command(post("/api/v1/clusters/main/switchover?target=b")) == Command{CommandKind::kSwitchover, "main", "b"});
  CHECK(command(post("/api/v1/clusters/main/switchover", R"({"target":"b"})")) ==
        Command{CommandKind::kSwitchover, "main", "b"});
  CHECK(command(post("/api/v1/clusters/main/switchover?target=b", R"({"target":"b"})")) ==
        Command{CommandKind::kSwitchover, "main", "b"});
  CHECK(command(post("/api/v1/clusters/main/switchover", "{}")) == Command{CommandKind::kSwitchover, "main", ""});
  CHECK(command(post("/api/v1/clusters/main/switchover", " \n")) == Command{CommandKind::kSwitchover, "main", ""});

  CHECK(respond(post("/api/v1/clusters/main/switchover?target=c", R"({"target":"b"})")).status == 400);
  CHECK(respond(post("/api/v1/clusters/main/switchover", "target=b")).status == 400);
  CHECK(respond(post("/api/v1/clusters/main/switchover", "[1]")).status == 400);
  CHECK(respond(post("/api/v1/clusters/main/switchover", R"({"target":1})")).status == 400);
  const HttpResponse unknown = respond(post("/api/v1/clusters/main/switchover?target=zz"));
  CHECK(unknown.status == 404);
  CHECK(error_of(unknown) == "no such node in cluster main: zz");
  const HttpResponse same = respond(post("/api/v1/clusters/main/switchover?target=a"));
  CHECK(same.status == 409);
  CHECK(error_of(same) == "a is already the primary of cluster main");
}

TEST_CASE("command_response maps outcomes to statuses and JSON", "[admin]") {
  const Command c{CommandKind::kSwitchover, "main", "b"};
  const HttpResponse done = command_response(c, {CommandOutcome::Status::kDone, "b is the primary"});
  CHECK(done.status == 200);
  const json::object o = body_of(done);
  CHECK(o.at("command").as_string() == "switchover");
  CHECK(o.at("result").as_string() == "done");
  CHECK(o.at("cluster").as_string() == "main");
  CHECK(o.at("node").as_string() == "b");
  CHECK(o.at("message").as_string() == "b is the primary");
  CHECK(command_response(c, {CommandOutcome::Status::kAccepted, ""}).status == 202);
  CHECK(command_response(c, {CommandOutcome::Status::kConflict, ""}).status == 409);
  CHECK(command_response(c, {CommandOutcome::Status::kFailed, ""}).status == 500);
  const json::object r = body_of(command_response(Command{CommandKind::kReload, "", ""}, {}));
  CHECK(r.at("command").as_string() == "reload");
  CHECK_FALSE(r.contains("cluster"));
  CHECK_FALSE(r.contains("node"));
}

TEST_CASE("helpers: constant-time comparison and percent-decoding", "[admin]") {
  CHECK(equal_constant_time("abc", "abc"));
  CHECK_FALSE(equal_constant_time("abc", "abd"));
  CHECK_FALSE(equal_constant_time("abc", "ab"));
  CHECK_FALSE(equal_constant_time("ab", "abc"));
  CHECK_FALSE(equal_constant_time("abcabc", "abc"));  // the wrap-around index must not make these equal
  CHECK_FALSE(equal_constant_time("", "abc"));
  CHECK_FALSE(equal_constant_time("abc", ""));
  CHECK(equal_constant_time("", ""));
  CHECK(percent_decode("a%20b%2Fc") == std::optional<std::string>("a b/c"));
  CHECK(percent_decode("a+b") == std::optional<std::string>("a+b"));
  CHECK_FALSE(percent_decode("%G0").has_value());
  CHECK_FALSE(percent_decode("%").has_value());
  CHECK_FALSE(percent_decode("ab%2").has_value());
  CHECK(to_string(CommandKind::kDrainNode) == "drain");
}
