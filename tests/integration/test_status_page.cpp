// The status page at GET / in a real headless browser (Debian's chromium): what its script draws, and a screenshot.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <thread>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using baton::test::BatonProcess;
using baton::test::PgCluster;
using baton::test::RunResult;
using baton::test::free_port;
using baton::test::run;
using baton::test::shell_quote;

namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr const char* kPsql = "/usr/lib/postgresql/15/bin/psql";
constexpr const char* kChromium = "/usr/bin/chromium";
constexpr int kPoolSize = 5;

std::string config(const PgCluster& c, int listen_port, int admin_port) {
  std::string nodes;
  for (int node = 0; node < c.node_count(); ++node) {
    nodes += "  [[clusters.nodes]]\n  name = \"node" + std::to_string(node) + "\"\n  host = \"127.0.0.1\"\n  port = " +
             std::to_string(c.port(node)) + "\n";
  }
  return "[general]\nworkers = 1\n"
         "\n[admin]\nlisten = \"127.0.0.1:" + std::to_string(admin_port) + "\"\n" +
         "\n[pool]\npool_size = " + std::to_string(kPoolSize) + "\n" +
         "\n[[listeners]]\nname = \"pg\"\nlisten = \"127.0.0.1:" + std::to_string(listen_port) +
         "\"\ncluster = \"main\"\nrole = \"primary\"\n"
         "\n[[clusters]]\nname = \"main\"\nmonitor_user = \"baton_monitor\"\nmonitor_password = \"monitor-secret\"\n" +
         nodes + "\n[[users]]\nname = \"app\"\npassword = \"app-secret\"\n";
}

// GET path on the admin port, parsed; null when there is no 200 answer with JSON (`why` then says what came).
json::value get_json(int port, const std::string& path, std::string* why = nullptr) {
  baton::test::HttpResult r = baton::test::http_request(port, "GET", path);
  boost::system::error_code ec;
  json::value v = r.status == 200 ? json::parse(r.body, ec) : json::value(nullptr);
  if ((r.status != 200 || ec) && why != nullptr) {
    *why = path + ": status " + std::to_string(r.status) + " " + r.error + " " + r.body;
  }
  return r.status == 200 && !ec ? v : json::value(nullptr);
}

// Waits (bounded) until the API names node0 primary with every node up; returns the last answer.
json::value wait_for_topology(int admin_port, std::chrono::seconds timeout, std::string& why) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  json::value last;
  while (std::chrono::steady_clock::now() < deadline) {
    last = get_json(admin_port, "/api/v1/clusters", &why);
    if (const json::object* root = last.if_object()) {
      const json::array& clusters = root->at("clusters").as_array();
      if (!clusters.empty()) {
        const json::object& c = clusters[0].as_object();
        bool all_up = true;
        for (const auto& n : c.at("nodes").as_array()) all_up = all_up && n.at("health") == "up";
        if (c.at("primary") == "node0" && all_up) return last;
      }
    }
    std::this_thread::sleep_for(200ms);
  }
  return last;
}

// Counts the request lines "GET <path> " one client sends through the relay in front of the admin port, to see
// the page refresh itself (the browser cannot be asked from outside how often its script ran).
class RequestCounter : public baton::test::TcpRelay::Observer {
 public:
  RequestCounter(const std::string& path, std::atomic<int>& count) : needle_("GET " + path + " "), count_(count) {}
  void client_bytes(std::string_view bytes) override {
    unsearched_.append(bytes);
    for (std::size_t at; (at = unsearched_.find(needle_)) != std::string::npos;) {
      ++count_;
      unsearched_.erase(0, at + needle_.size());
    }
    // Keeps a tail that may be the start of a request line split across reads.
    if (unsearched_.size() > needle_.size()) unsearched_.erase(0, unsearched_.size() - needle_.size());
  }

 private:
  const std::string needle_;
  std::atomic<int>& count_;
  std::string unsearched_;  // the client's bytes not yet searched through
};

// Runs headless chromium on `url` with `args`, its stderr (DBus noise) kept apart in a file.
RunResult chromium(const std::string& work_dir, const std::string& args, const std::string& url) {
  const std::string profile = work_dir + "/profile";
  return run(std::string(kChromium) +
                 " --headless=new --no-sandbox --disable-gpu --no-first-run --disable-extensions"
                 " --disable-background-networking --user-data-dir=" +
                 shell_quote(profile) + " --virtual-time-budget=5000 " + args + " " + shell_quote(url) + " 2>>" +
                 shell_quote(work_dir + "/chromium.err"),
             90s);
}

// The part of the DOM that the page drew for node `name`: from its box's opening tag to the next box.
std::string node_box(const std::string& dom, const std::string& name) {
  const std::string marker = "<div class=\"name\">" + name + "</div>";
  auto at = dom.find(marker);
  if (at == std::string::npos) return "";
  auto start = dom.rfind("<div class=\"node", at);
  auto end = dom.find("<div class=\"node", at);
  return dom.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

struct PoolUse {
  int active = 0;
  int idle = 0;
  int size = 0;
};

// A node's pools summed, as /api/v1/pools gives them (the page sums them the same way).
PoolUse pool_use(const json::value& pools, const std::string& node) {
  PoolUse u;
  for (const auto& p : pools.at("pools").as_array()) {
    if (p.at("node") != node.c_str()) continue;
    u.active += static_cast<int>(p.at("active").to_number<std::int64_t>());
    u.idle += static_cast<int>(p.at("idle").to_number<std::int64_t>());
    u.size += static_cast<int>(p.at("size").to_number<std::int64_t>());
  }
  return u;
}

std::uint32_t big_endian32(const std::string& s, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

}  // namespace

TEST_CASE("the status page in headless chromium shows nodes, roles, health, lag and pool use", "[admin-page]") {
  INFO("tests/install_deps.sh installs Debian's chromium");
  REQUIRE(::access(kChromium, X_OK) == 0);
  PgCluster& c = PgCluster::shared();
  const int listen_port = free_port();
  const int admin_port = free_port();
  BatonProcess baton(config(c, listen_port, admin_port), {listen_port, admin_port});
  const std::string work = baton::test::make_temp_dir("baton-status-page-");
  INFO("chromium's stderr and the screenshot are kept in " << work);
  // Chromium's profile (a few MiB) goes at the end; the screenshot stays for whoever wants to look at it.
  struct RemoveProfile {
    std::string dir;
    ~RemoveProfile() { std::filesystem::remove_all(dir); }
  } remove_profile{work + "/profile"};

  // A query through baton leaves an idle server connection in node0's pool.
  RunResult q = run("PGPASSWORD=app-secret " + std::string(kPsql) + " " +
                        shell_quote("host=127.0.0.1 port=" + std::to_string(listen_port) +
                                    " user=app dbname=app sslmode=disable connect_timeout=10") +
                        " -XAtqc 'SELECT 1'",
                    60s);
  INFO(q.output);
  REQUIRE(q.exit_code == 0);

  std::string why;
  json::value topology = wait_for_topology(admin_port, 30s, why);
  INFO("/api/v1/clusters: " << json::serialize(topology) << " " << why);
  REQUIRE(topology.is_object());
  const json::object& cluster = topology.at("clusters").at(0).as_object();
  REQUIRE(cluster.at("primary") == "node0");
  why.clear();
  json::value pools = get_json(admin_port, "/api/v1/pools", &why);
  INFO("/api/v1/pools: " << json::serialize(pools) << " " << why);
  REQUIRE(pools.is_object());

  // The static page names no node: everything checked below was drawn by its script from the API.
  baton::test::HttpResult page = baton::test::http_request(admin_port, "GET", "/");
  REQUIRE(page.status == 200);
  CHECK(page.body.find("node0") == std::string::npos);

  std::atomic<int> clusters_count{0};
  baton::test::TcpRelay relay(admin_port,
                              [&] { return std::make_unique<RequestCounter>("/api/v1/clusters", clusters_count); });
  const std::string url = "http://127.0.0.1:" + std::to_string(relay.port()) + "/";
  RunResult dom = chromium(work, "--dump-dom", url);
  INFO("chromium stderr: " << baton::test::read_file(work + "/chromium.err"));
  INFO("DOM: " << dom.output);
  REQUIRE(dom.exit_code == 0);

  const int clusters_requests = clusters_count.load();

  // What the script drew.
  CHECK(dom.output.find("<div id=\"error\"></div>") != std::string::npos);
  CHECK(std::regex_search(dom.output, std::regex("<div id=\"updated\">updated [^<]+</div>")));
  CHECK(dom.output.find("<h2>main<span class=\"meta\">epoch ") != std::string::npos);
  CHECK(dom.output.find(" · primary node0</span>") != std::string::npos);
  for (int node = 0; node < c.node_count(); ++node) {
    const std::string name = "node" + std::to_string(node);
    const std::string box = node_box(dom.output, name);
    INFO(name << ": " << box);
    REQUIRE_FALSE(box.empty());
    CHECK(box.find("<div class=\"addr\">127.0.0.1:" + std::to_string(c.port(node)) + "</div>") != std::string::npos);
    CHECK(box.find("<span class=\"badge health-up\">up</span>") != std::string::npos);
    if (node == 0) {
      CHECK_THAT(box, Catch::StartsWith("<div class=\"node primary\">"));
      CHECK(box.find("<span class=\"badge role-primary\">primary</span>") != std::string::npos);
      CHECK(box.find("lag ") == std::string::npos);  // lag is shown for standbys only
    } else {
      CHECK_THAT(box, Catch::StartsWith("<div class=\"node\">"));
      CHECK(box.find("<span class=\"badge role-standby\">standby</span>") != std::string::npos);
      CHECK(std::regex_search(box, std::regex(R"(<div class="small">lag \d+ B, \d+\.\d s</div>)")));
    }
    // The pool figures as drawn, against what /api/v1/pools says for the node.
    std::smatch m;
    REQUIRE(std::regex_search(box, m, std::regex(R"(pool (\d+) active, (\d+) idle, (\d+) opening / (\d+))")));
    const PoolUse use = pool_use(pools, name);
    CHECK(std::stoi(m[1]) == use.active);
    CHECK(std::stoi(m[2]) == use.idle);
    CHECK(std::stoi(m[4]) == use.size);
    if (node == 0) {
      CHECK(use.idle >= 1);  // the connection psql's query used
      CHECK(use.size == kPoolSize);
    }
  }

  // It refreshes itself: five seconds of the page's virtual time at one refresh every 2 s make the first
  // load and at least one more.
  CHECK(clusters_requests >= 2);

  // A screenshot.
  const std::string png = work + "/status.png";
  RunResult shot = chromium(work, "--screenshot=" + shell_quote(png) + " --window-size=1200,800 --hide-scrollbars", url);
  INFO(shot.output);
  REQUIRE(shot.exit_code == 0);
  REQUIRE(std::filesystem::exists(png));
  std::ifstream in(png, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // PNG (RFC 2083 / ISO 15948): the 8-byte signature, then the IHDR chunk (length 13) with width, height.
  REQUIRE(bytes.size() > 33);
  CHECK(bytes.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0);
  CHECK(big_endian32(bytes, 8) == 13u);
  CHECK(bytes.compare(12, 4, "IHDR") == 0);
  CHECK(big_endian32(bytes, 16) == 1200u);
  CHECK(big_endian32(bytes, 20) == 800u);
  // A blank 1200x800 page compresses to a few KiB; drawn boxes, badges and text make it larger.
  CHECK(bytes.size() > 12000u);
}
