// Pool mechanics on a real io_context with fake connections: who waits, who gets which
// connection, timeouts on the pool's one timer, the cross-worker waiting count.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "proxy/pool/pool.hpp"

namespace {

using namespace baton::proxy;
using namespace std::chrono_literals;

struct FakeConn {
  int id = 0;
  bool open = true;
  bool peer_closed = false;  // the server closed it: usable() cannot tell, idle_and_open() can
  TimePoint created_at = SteadyClock::now();
  TimePoint last_used = created_at;
  bool usable() const { return open; }
  bool idle_and_open() const { return open && !peer_closed; }
};

using FakePool = Pool<FakeConn>;

// What one client's acquisition ended with, in the order the clients finished.
struct Outcome {
  std::string client;
  int conn = 0;  // the connection's id, 0 for none
  bool timed_out = false;
  int rounds = 0;  // waits it went through
  TimePoint at;
};

// The acquisition loop pool.hpp documents (the one Session::acquire_server runs): what it got goes
// to `held`, how it went to `out`.
awaitable<void> acquire(FakePool& pool, TimePoint deadline, std::vector<FakePool::Ptr>& held, Outcome& out) {
  for (;;) {
    if (FakePool::Ptr c = pool.try_acquire()) {
      out.conn = c->id;
      held.push_back(std::move(c));
      break;
    }
    if (pool.reserve_login()) {
      FakePool::Opened r = co_await pool.open_reserved();
      out.conn = r.conn ? r.conn->id : 0;
      if (r.conn) held.push_back(std::move(r.conn));
      break;
    }
    FakePool::Waiter w(deadline);
    ++out.rounds;
    co_await pool.wait(w);
    if (w.conn) {
      out.conn = w.conn->id;
      held.push_back(std::move(w.conn));
      break;
    }
    if (w.timed_out) {
      out.timed_out = true;
      break;
    }
  }
  out.at = SteadyClock::now();
}

struct Rig {
  explicit Rig(int max_size, int max_logins = 8) : shared(std::make_shared<PoolShared>(max_size)) {
    PoolSettings settings;
    settings.fair_share = max_size;
    settings.max_logins = max_logins;
    pool = std::make_unique<FakePool>(
        io.get_executor(), shared, settings,
        [this]() -> awaitable<FakePool::Opened> {
          co_return FakePool::Opened{std::make_unique<FakeConn>(FakeConn{.id = ++opened}), {}};
        },
        [this] { ++signals; });
  }

  awaitable<void> client(std::string name, TimePoint deadline, std::vector<FakePool::Ptr>& held) {
    Outcome o{.client = std::move(name)};
    co_await acquire(*pool, deadline, held, o);
    outcomes.push_back(o);
  }

  void spawn(std::string name, TimePoint deadline, std::vector<FakePool::Ptr>& held) {
    asio::co_spawn(io, client(std::move(name), deadline, held), asio::detached);
  }

  // Runs what is ready (no waiting on timers).
  void settle() {
    io.poll();
    io.restart();
  }

  asio::io_context io;
  std::shared_ptr<PoolShared> shared;
  std::unique_ptr<FakePool> pool;
  int opened = 0;
  int signals = 0;
  std::vector<Outcome> outcomes;
};

}  // namespace

TEST_CASE("pool: clients beyond pool_size wait in line and get released connections in arrival order", "[pool]") {
  Rig rig(1);
  std::vector<FakePool::Ptr> a, b, c;
  const auto deadline = SteadyClock::now() + 30s;
  rig.spawn("a", deadline, a);
  rig.settle();
  REQUIRE(rig.outcomes.size() == 1);
  CHECK(rig.outcomes[0].conn == 1);  // logged in

  rig.spawn("b", deadline, b);
  rig.spawn("c", deadline, c);
  rig.settle();
  CHECK(rig.outcomes.size() == 1);  // b and c wait
  CHECK(rig.pool->waiting_count() == 2);
  CHECK(rig.shared->waiting.load() == 2);
  CHECK(rig.signals == 1);  // the other workers hear once, when the first client starts waiting

  rig.pool->release(std::move(a.back()));
  a.clear();
  CHECK(rig.outcomes.size() == 1);  // resumed later, not inside release()
  rig.settle();
  REQUIRE(rig.outcomes.size() == 2);
  CHECK(rig.outcomes[1].client == "b");
  CHECK(rig.outcomes[1].conn == 1);  // the same connection, no new login
  CHECK(rig.outcomes[1].rounds == 1);
  CHECK(rig.shared->waiting.load() == 1);

  rig.pool->release(std::move(b.back()));
  rig.settle();
  REQUIRE(rig.outcomes.size() == 3);
  CHECK(rig.outcomes[2].client == "c");
  CHECK(rig.outcomes[2].conn == 1);
  CHECK(rig.opened == 1);
  CHECK(rig.shared->waiting.load() == 0);
  CHECK(rig.pool->waiting_count() == 0);
  CHECK(rig.shared->total.load() == 1);
}

TEST_CASE("pool: a waiter times out at its deadline, an earlier deadline that came later first", "[pool]") {
  Rig rig(1);
  std::vector<FakePool::Ptr> a, late, early;
  const auto t0 = SteadyClock::now();
  rig.spawn("a", t0 + 30s, a);
  rig.settle();
  REQUIRE(rig.outcomes.size() == 1);
  rig.spawn("late", t0 + 400ms, late);
  rig.settle();
  rig.spawn("early", t0 + 150ms, early);  // re-arms the pool's timer for the earlier deadline
  rig.settle();
  CHECK(rig.pool->waiting_count() == 2);

  rig.io.run_for(1s);  // both deadlines pass; nothing else is pending after them
  REQUIRE(rig.outcomes.size() == 3);
  CHECK(rig.outcomes[1].client == "early");
  CHECK(rig.outcomes[1].timed_out);
  CHECK(rig.outcomes[1].conn == 0);
  CHECK(rig.outcomes[1].at >= t0 + 150ms);
  CHECK(rig.outcomes[1].at < t0 + 400ms);
  CHECK(rig.outcomes[2].client == "late");
  CHECK(rig.outcomes[2].timed_out);
  CHECK(rig.outcomes[2].at >= t0 + 400ms);
  CHECK(rig.shared->waiting.load() == 0);
  CHECK(rig.pool->waiting_count() == 0);
  CHECK(rig.opened == 1);
}

TEST_CASE("pool: a connection given back broken or closed is not handed to a waiter, who logs in anew", "[pool]") {
  Rig rig(1);
  std::vector<FakePool::Ptr> a, b;
  const auto deadline = SteadyClock::now() + 30s;
  rig.spawn("a", deadline, a);
  rig.settle();
  rig.spawn("b", deadline, b);
  rig.settle();
  REQUIRE(rig.pool->waiting_count() == 1);

  SECTION("broken while leased: release() closes it instead of handing it on") {
    a.back()->open = false;
  }
  SECTION("its server went away while it was leased (a primary's backends when the primary dies)") {
    a.back()->peer_closed = true;  // usable() cannot tell: the check before handing it on can
  }
  rig.pool->release(std::move(a.back()));
  rig.settle();
  REQUIRE(rig.outcomes.size() == 2);
  CHECK(rig.outcomes[1].client == "b");
  CHECK(rig.outcomes[1].conn == 2);    // a new login in the freed slot, not connection 1
  CHECK(rig.outcomes[1].rounds == 1);  // woken once, then reserved the slot
  CHECK(rig.opened == 2);
  CHECK(rig.shared->total.load() == 1);
  CHECK(rig.pool->waiting_count() == 0);
  CHECK(rig.signals == 2);  // first waiter, and the drop
}

TEST_CASE("pool: an idle connection that closed is not handed out; its slot goes to a new login", "[pool]") {
  Rig rig(1);
  std::vector<FakePool::Ptr> a, b;
  const auto deadline = SteadyClock::now() + 30s;
  rig.spawn("a", deadline, a);
  rig.settle();
  FakeConn* first = a.back().get();
  rig.pool->release(std::move(a.back()));
  CHECK(rig.pool->idle_count() == 1);
  first->open = false;  // the server closed it while it idled (what the peek before reuse sees)

  rig.spawn("b", deadline, b);
  rig.settle();
  REQUIRE(rig.outcomes.size() == 2);
  CHECK(rig.outcomes[1].conn == 2);  // not the closed one: a new login in its slot
  CHECK(rig.outcomes[1].rounds == 0);
  CHECK(rig.pool->idle_count() == 0);
  CHECK(rig.shared->total.load() == 1);
}

TEST_CASE("pool: a client waiting on one worker gets a connection another worker holds idle within its share",
          "[pool]") {
  // Two workers' pools of one key (pool_size 2), each allowed to keep both as its share, signalling
  // each other as Worker::on_pool_signal does (posted to the other's thread; one thread here).
  asio::io_context io;
  auto shared = std::make_shared<PoolShared>(2);
  int opened = 0;
  std::unique_ptr<FakePool> a, b;
  auto make = [&](std::unique_ptr<FakePool>& other) {
    PoolSettings settings;
    settings.fair_share = 2;
    settings.unused_after = 50ms;
    return std::make_unique<FakePool>(
        io.get_executor(), shared, settings,
        [&opened]() -> awaitable<FakePool::Opened> {
          co_return FakePool::Opened{std::make_unique<FakeConn>(FakeConn{.id = ++opened}), {}};
        },
        [&io, &other] { asio::post(io, [&other] { other->on_signal(); }); });
  };
  a = make(b);
  b = make(a);

  // Worker A's two clients log in and leave: A keeps both connections idle (within its share).
  for (int i = 0; i < 2; ++i) REQUIRE(a->reserve_login());
  std::vector<FakePool::Ptr> held;
  for (int i = 0; i < 2; ++i) {
    asio::co_spawn(io, [&]() -> awaitable<void> { held.push_back((co_await a->open_reserved()).conn); },
                   asio::detached);
  }
  io.poll();
  io.restart();
  REQUIRE(held.size() == 2);
  for (auto& c : held) a->release(std::move(c));
  CHECK(a->idle_count() == 2);
  CHECK(shared->total.load() == 2);

  // A client on worker B: no idle connection there, no free slot: it waits; A gives up its least
  // recently used connection once that has been unused for unused_after, and B logs in anew.
  const auto t0 = SteadyClock::now();
  Outcome on_b;
  bool done = false;
  std::vector<FakePool::Ptr> b_held;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        co_await acquire(*b, t0 + 10s, b_held, on_b);
        done = true;
      },
      asio::detached);
  for (int i = 0; i < 200 && !done; ++i) io.run_for(10ms);  // (2 s at most)
  REQUIRE(done);
  CHECK(on_b.conn == 3);  // a new login on B in the slot A gave up
  CHECK_FALSE(on_b.timed_out);
  CHECK(on_b.at - t0 >= 40ms);
  CHECK(on_b.at - t0 < 1s);  // (before: at A's next maintenance tick, one connection per second)
  CHECK(a->idle_count() == 1);
  CHECK(shared->total.load() == 2);
  CHECK(shared->waiting.load() == 0);
}
