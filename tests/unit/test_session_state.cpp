// Unit tests for transaction-pooling bookkeeping: parameter carry-over SQL, startup options,
// the prepared-statement registry and LRU cache, and pool sizing decisions.
#include <catch2/catch.hpp>

#include "proxy/pg/expect_queue.hpp"
#include "proxy/pg/params.hpp"
#include "proxy/pg/prepared.hpp"
#include "proxy/pool/pool_policy.hpp"

using namespace baton::proxy;
using namespace baton::proxy::pg;

TEST_CASE("ParamSet compares names case-insensitively and keeps the first spelling", "[session-state]") {
  ParamSet p;
  p.set("DateStyle", "ISO, MDY");
  p.set("datestyle", "ISO, DMY");
  REQUIRE(p.items().size() == 1);
  CHECK(p.items()[0].first == "DateStyle");
  CHECK(*p.get("DATESTYLE") == "ISO, DMY");
  p.erase("DATEstyle");
  CHECK(p.get("DateStyle") == nullptr);

  CHECK(iequals("client_encoding", "CLIENT_ENCODING"));
  CHECK_FALSE(iequals("a[", "A{"));  // only letters fold
  CHECK_FALSE(iequals("TimeZone", "TimeZon"));
  CHECK_FALSE(iequals("abc", "abd"));
}

TEST_CASE("sync_sql aligns a server connection with what the client set", "[session-state]") {
  ClientParams client;
  SessionParams server;
  CHECK(sync_sql(client, server).empty());

  CHECK(client.reported.set("TimeZone", "Asia/Tokyo"));
  CHECK(client.reported.set("application_name", "it's"));
  CHECK_FALSE(client.reported.set("server_version", "15.0"));  // not tracked: never replayed
  server.reported.set("TimeZone", "UTC");
  server.reported.set("application_name", "it's");
  CHECK(sync_sql(client, server) == "SET TimeZone TO 'Asia/Tokyo'");

  server.other.set("statement_timeout", "'5s'");
  client.other.set("search_path", "app, public");
  CHECK(sync_sql(client, server) ==
        "SET TimeZone TO 'Asia/Tokyo'; RESET statement_timeout; SET search_path TO app, public");

  server.reported.set("TimeZone", "Asia/Tokyo");
  server.other = client.other;
  CHECK(sync_sql(client, server).empty());

  // The same state, set in another order and spelling, still needs nothing.
  ClientParams a;
  SessionParams b;
  a.reported.set("TimeZone", "UTC");
  a.reported.set("DateStyle", "ISO, MDY");
  b.reported.set("datestyle", "ISO, MDY");
  b.reported.set("timezone", "UTC");
  CHECK(sync_sql(a, b).empty());
  b.reported.set("timezone", "Europe/Paris");
  CHECK(sync_sql(a, b) == "SET TimeZone TO 'UTC'");
  // A value longer than std::string keeps in place, and a later value replaces the first.
  a.reported.set("application_name", "a name well past fifteen characters");
  CHECK(*a.reported.get(4) == "a name well past fifteen characters");
  a.reported.set("Application_Name", "short");
  CHECK(*a.reported.get(4) == "short");
  CHECK(sync_sql(a, b) == "SET TimeZone TO 'UTC'; SET application_name TO 'short'");
}

TEST_CASE("sync_sql: a server reporting more than the client tracks needs nothing; a missing one is set",
          "[session-state]") {
  // A server connection reports every parameter PostgreSQL 15 sends at login; a client's wanted
  // state holds only the tracked ones, by slot.
  ClientParams client;
  SessionParams server;
  for (const char* name : {"application_name", "client_encoding", "DateStyle", "default_transaction_read_only",
                           "in_hot_standby", "integer_datetimes", "IntervalStyle", "is_superuser", "server_encoding",
                           "server_version", "session_authorization", "standard_conforming_strings", "TimeZone"}) {
    server.reported.set(name, std::string("v-") + name);
  }
  for (std::size_t slot = 0; slot < kTrackedReported; ++slot) {
    const std::string name(tracked_reported_name(slot));
    CHECK(tracked_reported_index(name) == static_cast<int>(slot));
    REQUIRE(server.reported.tracked(slot) != nullptr);
    CHECK(*server.reported.tracked(slot) == "v-" + name);
    CHECK_FALSE(client.reported.has(slot));
  }
  client.reported.set("client_encoding", "v-client_encoding");
  client.reported.set("timezone", "v-TimeZone");  // spelled otherwise: the same slot
  CHECK(client.reported.agree_in(server.reported));
  CHECK(sync_sql(client, server).empty());
  client.reported.set("IntervalStyle", "iso_8601");
  CHECK_FALSE(client.reported.agree_in(server.reported));
  CHECK(sync_sql(client, server) == "SET IntervalStyle TO 'iso_8601'");
  // Tracked parameters the server never reported: set, in slot order, spelled as PostgreSQL does.
  SessionParams bare;
  bare.reported.set("server_version", "15.0");
  CHECK(bare.reported.tracked(0) == nullptr);
  CHECK(sync_sql(client, bare) ==
        "SET TimeZone TO 'v-TimeZone'; SET IntervalStyle TO 'iso_8601'; SET client_encoding TO 'v-client_encoding'");
  // A client that tracks nothing agrees with anything.
  ClientParams untracked;
  CHECK(untracked.reported.agree_in(bare.reported));
  CHECK(sync_sql(untracked, bare).empty());
  CHECK(tracked_reported_index("TimeZone") == tracked_reported_index("TIMEZONE"));
  CHECK(tracked_reported_index("server_version") == -1);
}

TEST_CASE("state_id: equal states, and only those, share a number; every change is seen", "[session-state]") {
  // A client and a server connection as pgbench has them: the six tracked values on both sides.
  auto fill = [](auto& reported) {
    reported.set("TimeZone", "Etc/UTC");
    reported.set("DateStyle", "ISO, MDY");
    reported.set("IntervalStyle", "postgres");
    reported.set("client_encoding", "UTF8");
    reported.set("application_name", "pgbench");
    reported.set("standard_conforming_strings", "on");
  };
  StateTable table;
  ClientParams client;
  SessionParams server;
  fill(client.reported);
  fill(server.reported);
  server.reported.set("server_version", "15.0");  // untracked: not part of the state
  const std::uint64_t agreed = state_id(client, table);
  CHECK(agreed != 0);
  CHECK(state_id(server, table) == agreed);
  CHECK(sync_sql(client, server, &table).empty());

  // Each way of changing either side changes its number; going back gives the first number again.
  server.reported.set("TimeZone", "Asia/Tokyo");
  CHECK(state_id(server, table) != agreed);
  CHECK(sync_sql(client, server, &table) == "SET TimeZone TO 'Etc/UTC'");
  server.reported.set("TimeZone", "Etc/UTC");
  CHECK(state_id(server, table) == agreed);
  client.reported.set("application_name", "other");
  CHECK(state_id(client, table) != agreed);
  CHECK(sync_sql(client, server, &table) == "SET application_name TO 'other'");
  client.reported.set(std::size_t{4}, "pgbench");
  CHECK(state_id(client, table) == agreed);
  client.other.set("search_path", "app");
  CHECK(state_id(client, table) != state_id(server, table));
  CHECK(sync_sql(client, server, &table) == "SET search_path TO app");
  server.other = client.other;  // as after a successful alignment: a copy
  CHECK(state_id(server, table) == state_id(client, table));
  CHECK(sync_sql(client, server, &table).empty());
  server.other.erase("SEARCH_PATH");
  CHECK(state_id(server, table) != state_id(client, table));
  CHECK(sync_sql(client, server, &table) == "SET search_path TO app");
  server.other.set("search_path", "app");
  CHECK(state_id(server, table) == state_id(client, table));
  client.other.clear();
  CHECK(sync_sql(client, server, &table) == "RESET search_path");
  server.other.clear();
  CHECK(state_id(server, table) == agreed);
  CHECK(state_id(client, table) == agreed);

  // Order of other SETs is part of the state (sync_sql compares them in order); unequal numbers
  // then still end in an empty sync_sql when the values agree.
  ClientParams ab;
  SessionParams ba;
  ab.other.set("a", "1");
  ab.other.set("b", "2");
  ba.other.set("b", "2");
  ba.other.set("a", "1");
  CHECK(state_id(ab, table) != state_id(ba, table));
  CHECK(sync_sql(ab, ba, &table).empty());
  // A client that leaves a slot alone agrees with a server that has it, though the numbers differ.
  ClientParams fewer;
  fewer.reported.set("TimeZone", "Etc/UTC");
  CHECK(state_id(fewer, table) != state_id(server, table));
  CHECK(sync_sql(fewer, server, &table).empty());

  // Another table's numbers are never this one's, even for the same (empty) state.
  StateTable other_table;
  ClientParams empty_a;
  SessionParams empty_b;
  CHECK(state_id(empty_a, other_table) != state_id(empty_b, table));
  CHECK(state_id(empty_a, table) == state_id(empty_b, table));

  // The table starts over after kMaxStates states: numbers from before are computed anew, and
  // equal states again share one.
  ClientParams churn;
  for (std::size_t i = 0; i <= StateTable::kMaxStates; ++i) {
    churn.reported.set("application_name", "app-" + std::to_string(i));
    CHECK(state_id(churn, table) != agreed);
  }
  const std::uint64_t again = state_id(client, table);
  CHECK(again != agreed);  // a number of the new table
  CHECK(state_id(server, table) == again);
  CHECK(sync_sql(client, server, &table).empty());
  server.reported.set("DateStyle", "German");
  CHECK(state_id(server, table) != again);
  CHECK(sync_sql(client, server, &table) == "SET DateStyle TO 'ISO, MDY'");
}

TEST_CASE("the reported parameters baton carries between server connections", "[session-state]") {
  for (const char* name : {"client_encoding", "DateStyle", "TimeZone", "IntervalStyle", "application_name",
                           "standard_conforming_strings", "timezone", "DATESTYLE", "Application_Name"}) {
    CHECK(is_tracked_reported(name));
  }
  for (const char* name : {"server_version", "is_superuser", "session_authorization", "integer_datetimes",
                           "TimeZon", "TimeZones", "client_encodinx", "", "search_path"}) {
    CHECK_FALSE(is_tracked_reported(name));
  }
}

TEST_CASE("quote_literal doubles quotes", "[session-state]") {
  CHECK(quote_literal("") == "''");
  CHECK(quote_literal("a'b") == "'a''b'");
  CHECK(quote_literal("''") == "''''''");
}

TEST_CASE("startup options: -c name=value and --name=value, as libpq passes PGOPTIONS", "[session-state]") {
  std::vector<std::pair<std::string, std::string>> out;
  REQUIRE(parse_startup_options("-c statement_timeout=1234 --search-path=app -cwork_mem=64kB", out));
  REQUIRE(out.size() == 3);
  CHECK(out[0] == std::pair<std::string, std::string>{"statement_timeout", "1234"});
  CHECK(out[1] == std::pair<std::string, std::string>{"search_path", "app"});
  CHECK(out[2] == std::pair<std::string, std::string>{"work_mem", "64kB"});

  out.clear();
  REQUIRE(parse_startup_options(R"(-c application_name=two\ words)", out));
  REQUIRE(out.size() == 1);
  CHECK(out[0].second == "two words");

  out.clear();
  CHECK_FALSE(parse_startup_options("-c", out));
  CHECK_FALSE(parse_startup_options("-c =x", out));
  CHECK_FALSE(parse_startup_options("stray", out));
  CHECK(parse_startup_options("", out));
  CHECK(out.empty());
}

TEST_CASE("StatementRegistry interns equal statements once, distinct types apart", "[session-state]") {
  StatementRegistry r;
  auto a = r.intern("SELECT $1", {23});
  auto b = r.intern("SELECT $1", {23});
  auto c = r.intern("SELECT $1", {25});
  auto d = r.intern("SELECT $1", {});
  CHECK(a == b);
  CHECK(a->id != c->id);
  CHECK(c->id != d->id);
  CHECK(a->server_name == "B_" + std::to_string(a->id));
  CHECK(a->param_types == std::vector<std::uint32_t>{23});

  // Once nobody holds a definition, the same text gets a new id (the old name may be closed).
  std::uint64_t old_id = d->id;
  d.reset();
  auto e = r.intern("SELECT $1", {});
  CHECK(e->id != old_id);
}

TEST_CASE("ServerStatementCache evicts the least recently used", "[session-state]") {
  StatementRegistry r;
  ServerStatementCache cache(2);
  auto s1 = r.intern("SELECT 1", {});
  auto s2 = r.intern("SELECT 2", {});
  auto s3 = r.intern("SELECT 3", {});
  CHECK(cache.add(s1) == nullptr);
  CHECK(cache.add(s2) == nullptr);
  cache.touch(s1->id);  // s2 is now the oldest
  auto evicted = cache.add(s3);
  REQUIRE(evicted != nullptr);
  CHECK(evicted->id == s2->id);
  CHECK(cache.contains(s1->id));
  CHECK_FALSE(cache.contains(s2->id));
  CHECK(cache.contains(s3->id));
  cache.forget(s1->id);
  CHECK_FALSE(cache.contains(s1->id));
  CHECK(cache.size() == 1);
  cache.clear();
  CHECK(cache.size() == 0);
}

TEST_CASE("pool sizing: warm deficit and per-worker shares", "[session-state]") {
  CHECK(warm_deficit({.open = 0, .opening = 0, .min_size = 3}) == 3);
  CHECK(warm_deficit({.open = 2, .opening = 1, .min_size = 3}) == 0);
  CHECK(warm_deficit({.open = 5, .opening = 0, .min_size = 3}) == 0);
  // 5 split over 2 workers: 3 + 2; 1 over 2: 1 + 0.
  CHECK(worker_share(5, 2, 0) == 3);
  CHECK(worker_share(5, 2, 1) == 2);
  CHECK(worker_share(1, 2, 0) == 1);
  CHECK(worker_share(1, 2, 1) == 0);
  CHECK(worker_share(7, 0, 0) == 7);
}

TEST_CASE("FifoQueue keeps order across pops, pushes and a pop_back", "[session-state]") {
  FifoQueue<int> q;
  CHECK(q.empty());
  q.push_back(1);
  q.push_back(2);
  q.push_back(3);
  CHECK(q.front() == 1);
  q.pop_front();
  CHECK(q.front() == 2);
  CHECK(q.size() == 2);
  q.pop_back();  // drops 3
  CHECK(q.size() == 1);
  q.push_back(4);
  q.pop_front();
  CHECK(q.front() == 4);
  q.pop_front();
  CHECK(q.empty());
  q.push_back(5);
  CHECK(q.front() == 5);
  CHECK(q.size() == 1);
}
