// Server-connection pool mechanics shared by both protocols: idle list, waiters, limits across workers.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <utility>

#include <time.h>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/recycling_allocator.hpp>

#include "proxy/net/asio.hpp"
#include "proxy/pool/pool_policy.hpp"

namespace baton::proxy {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

// The time for bookkeeping that needs no better than a few milliseconds (when a connection was last
// used, whether it outlived server_lifetime). The clock steady_clock reads (CLOCK_MONOTONIC), as of
// the kernel's last tick, so it may lag steady_clock::now() by one tick (4 ms here). Read twice per
// transaction: 4 ns a read against steady_clock::now()'s 27 (kvm-clock; measured with a loop of
// 10 million reads of each).
inline TimePoint coarse_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return TimePoint(std::chrono::duration_cast<SteadyClock::duration>(std::chrono::seconds(ts.tv_sec) +
                                                                     std::chrono::nanoseconds(ts.tv_nsec)));
}

// Why a server connection could not be had: the server's own words when it refused a login
// (sqlstate and message as it sent them), or baton's.
struct ServerError {
  std::string sqlstate;
  std::string message;
  bool from_server = false;
  bool empty() const { return message.empty(); }
};

// Counters one pool key shares across all workers (the only cross-thread state of a pool).
struct PoolShared {
  explicit PoolShared(int max) : max_size(max) {}
  std::atomic<int> total{0};    // open or opening, all workers
  std::atomic<int> waiting{0};  // clients waiting, all workers
  std::atomic<int> max_size;

  bool try_reserve() {
    int n = total.load(std::memory_order_relaxed);
    while (n < max_size.load(std::memory_order_relaxed)) {
      if (total.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) return true;
    }
    return false;
  }
  void unreserve() { total.fetch_sub(1, std::memory_order_acq_rel); }
};

struct PoolSettings {
  int min_size = 0;            // this worker's share
  int fair_share = 0;          // this worker's share of pool_size: kept even when other workers wait
  int max_logins = 8;          // concurrent logins, this worker
  std::chrono::milliseconds idle_timeout{600000};  // 0 = never
  std::chrono::milliseconds lifetime{3600000};      // 0 = never
  // An idle connection unused this long goes to clients waiting on another worker even within this
  // worker's fair share. (Idle connections are reused most recently used first, so one at the
  // other end unused this long is more than this worker's clients need right now.)
  std::chrono::milliseconds unused_after{100};
};

// A pool of server connections of one key on one worker. Conn needs members `created_at`,
// `last_used` (TimePoint), `bool usable() const` and `bool idle_and_open()` (checked before reuse).
// Single-threaded: only its worker touches it.
template <typename Conn>
class Pool {
 public:
  using Ptr = std::unique_ptr<Conn>;
  struct Opened {
    Ptr conn;
    ServerError error;
  };
  using Factory = std::function<awaitable<Opened>()>;
  using Signal = std::function<void()>;  // tell the other workers a slot may be free

  Pool(asio::any_io_executor executor, std::shared_ptr<PoolShared> shared, PoolSettings settings, Factory factory,
       Signal signal_others)
      : executor_(executor),
        deadline_timer_(executor),
        handover_timer_(std::move(executor)),
        shared_(std::move(shared)),
        settings_(settings),
        factory_(std::move(factory)),
        signal_others_(std::move(signal_others)) {}

  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Acquiring is a loop the caller runs (a pool of its own coroutine per wait would cost one more
  // coroutine frame per transaction when clients outnumber connections):
  //   for (;;) {
  //     if (Ptr c = pool.try_acquire()) -> use c
  //     if (pool.reserve_login()) -> co_await pool.open_reserved() (a connection or the error)
  //     Waiter w(deadline); co_await pool.wait(w);
  //     w.conn -> use it; w.timed_out -> query_wait_timeout; else (woken) go round again
  //   }

  // An idle connection, if one is there (checked before reuse: Conn::idle_and_open()), else null.
  Ptr try_acquire() { return take_idle(); }

  // A slot (across workers) and a login (this worker) for open_reserved(), if both are free.
  bool reserve_login() { return logins_ < settings_.max_logins && shared_->try_reserve(); }

  // Opens a connection in a slot reserve_login() took; a failed login frees the slot.
  awaitable<Opened> open_reserved();

  // A client waiting for a connection. Its coroutine is resumed (posted) by release() with a
  // connection, by wake_one() to try again (a slot or a login came free), or by the pool's timer at
  // `deadline`. No timer of its own: one timer per pool, set to the earliest deadline, fires about
  // once per query_wait_timeout while clients wait.
  struct Waiter {
    explicit Waiter(TimePoint d) : deadline(d) {}
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;
    TimePoint deadline;
    Ptr conn;
    bool woken = false;
    bool timed_out = false;
    // The suspended coroutine's completion handler, kept here (no allocation per wait), and the
    // function that moves it out and calls it. (asio::any_completion_handler allocates, and posting
    // one costs about four times this: a work_dispatcher through a type-erased executor.)
    static constexpr std::size_t kHandlerBytes = 32;
    alignas(std::max_align_t) unsigned char handler[kHandlerBytes];
    void (*complete)(Waiter&) = nullptr;
  };

  // Waits in line (first come, first served) until one of the three above. The other workers hear
  // when clients start waiting here: one with idle connections above its share gives one up.
  // While clients keep waiting, their releases do that without a signal (a cross-thread wake-up per
  // transaction otherwise).
  // `co_await pool.wait(w)`: an operation the coroutine awaits directly (no coroutine frame of the
  // wait's own, as a use_awaitable initiation would allocate).
  class WaitOp {
   public:
    WaitOp(Pool& pool, Waiter& w) : pool_(&pool), w_(&w) {}
    // (Constrained: Asio's await_transform also probes whether an awaited object takes a frame pointer.)
    template <typename Token>
      requires asio::completion_token_for<Token, void()>
    auto operator()(Token&& token) && {
      return asio::async_initiate<Token, void()>([](auto handler, Pool* p, Waiter* w) { p->enqueue(std::move(handler), *w); },
                                                 token, pool_, w_);
    }

   private:
    Pool* pool_;
    Waiter* w_;
  };
  WaitOp wait(Waiter& w) { return WaitOp(*this, w); }

  // Whether reserve_login() would take a slot now (no side effect): false when the caller can
  // only wait.
  bool can_open() const {
    return logins_ < settings_.max_logins &&
           shared_->total.load(std::memory_order_relaxed) < shared_->max_size.load(std::memory_order_relaxed);
  }

  // Gives a connection back. Broken or expired ones are closed; otherwise a waiter here gets it
  // (if it is still open: Conn::idle_and_open()), or it is closed when clients on other workers
  // wait (their worker opens its own), or it idles.
  void release(Ptr c) {
    const auto now = coarse_now();
    if (!c->usable() || expired(*c, now)) {
      drop(std::move(c));
      return;
    }
    c->last_used = now;
    if (!waiters_.empty()) {
      // Handed straight on, so checked here as take_idle() checks a reuse: with more clients than
      // connections nearly every transaction gets its connection this way, and when the primary
      // dies its backends' connections must not reach a waiter, whose transaction would fail
      // instead of waiting for the new primary. (drop() wakes the waiter, which logs in anew.)
      if (!c->idle_and_open()) {
        drop(std::move(c));
        return;
      }
      Waiter* w = waiters_.front();
      waiters_.pop_front();
      w->conn = std::move(c);
      resume(*w);
      return;
    }
    // Clients wait on another worker: give up the slot, but only above this worker's fair share,
    // so that two busy workers do not close and reopen connections for each other all the time.
    // (`c` is no longer counted as leased: keeping it makes held() + 1.)
    if (shared_->waiting.load(std::memory_order_acquire) > 0 && held() + 1 > settings_.fair_share) {
      drop(std::move(c));
      return;
    }
    idle_.push_back(std::move(c));
  }

  // Closes a connection that will not be reused and frees its slot.
  void drop(Ptr c) {
    c.reset();
    shared_->unreserve();
    wake_one();
    signal_others_();
  }

  // Another worker freed a slot or has waiting clients.
  void on_signal() {
    if (!waiters_.empty()) {
      wake_one();
    } else {
      give_up_idle();
    }
  }

  // Periodic upkeep: close connections idle too long or past their lifetime; open up to min_size.
  void maintain(TimePoint now) {
    if (waiters_.empty()) give_up_idle();
    std::erase_if(idle_, [&](Ptr& c) {
      bool idle_too_long = settings_.idle_timeout.count() > 0 && now - c->last_used >= settings_.idle_timeout;
      bool expire = !c->usable() || idle_too_long || expired(*c, now);
      if (expire) {
        c.reset();
        shared_->unreserve();
      }
      return expire;
    });
    int want = warm_deficit(
        {.open = static_cast<int>(idle_.size()) + active_, .opening = logins_, .min_size = settings_.min_size});
    for (int i = 0; i < want && reserve_login(); ++i) {
      asio::co_spawn(executor_, warm_one(), asio::detached);
    }
  }

  void update_settings(PoolSettings settings) { settings_ = settings; }

  // Closes every idle connection (their node went down or was fenced).
  void close_idle() {
    if (idle_.empty()) return;
    while (!idle_.empty()) {
      idle_.pop_back();
      shared_->unreserve();
    }
    signal_others_();
  }

  // Connections handed out and not yet given back are counted by the caller via these.
  void on_lease() { ++active_; }
  void on_return() { --active_; }

  std::size_t idle_count() const { return idle_.size(); }
  std::size_t waiting_count() const { return waiters_.size(); }
  int active_count() const { return active_; }
  int logins_in_progress() const { return logins_; }
  PoolShared& shared() { return *shared_; }

 private:
  template <typename Handler>
  void enqueue(Handler handler, Waiter& w) {
    static_assert(sizeof(Handler) <= Waiter::kHandlerBytes && alignof(Handler) <= alignof(std::max_align_t));
    new (w.handler) Handler(std::move(handler));
    w.complete = [](Waiter& self) {
      Handler* stored = std::launder(reinterpret_cast<Handler*>(self.handler));
      Handler h(std::move(*stored));
      stored->~Handler();
      self.complete = nullptr;
      std::move(h)();  // resumes the coroutine: `self` may be gone after this
    };
    const bool first = waiters_.empty();
    waiters_.push_back(&w);
    shared_->waiting.fetch_add(1, std::memory_order_acq_rel);
    if (first) signal_others_();
    if (w.deadline < armed_for_) arm(w.deadline);
  }

  // Resumes a waiter the caller has taken off waiters_: later, on this worker's loop, never inside
  // the caller (another client's session in the middle of its own work). Straight onto the
  // io_context's queue when that is the executor (a post() through the type-erased executor wraps
  // the function in a work_dispatcher: twice the instructions).
  void resume(Waiter& w) {
    shared_->waiting.fetch_sub(1, std::memory_order_acq_rel);
    auto fn = [w = &w] { w->complete(*w); };
    if (const auto* io = executor_.target<asio::io_context::executor_type>()) {
      asio::prefer(asio::require(*io, asio::execution::blocking.never),
                   asio::execution::allocator(asio::recycling_allocator<void>()))
          .execute(std::move(fn));
    } else {
      asio::post(executor_, asio::bind_allocator(asio::recycling_allocator<void>(), std::move(fn)));
    }
  }

  void arm(TimePoint at) {
    armed_for_ = at;
    deadline_timer_.expires_at(at);  // a wait pending on it ends with operation_aborted
    deadline_timer_.async_wait([this](error_code ec) {
      if (!ec) on_deadline();  // (aborted: re-armed or the pool is gone; touch nothing)
    });
  }

  // Resumes the waiters whose deadline has passed; sets the timer for the next deadline.
  void on_deadline() {
    armed_for_ = TimePoint::max();
    const auto now = SteadyClock::now();
    auto next = TimePoint::max();
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      Waiter* w = *it;
      if (w->deadline <= now) {
        it = waiters_.erase(it);
        w->timed_out = true;
        resume(*w);
      } else {
        next = std::min(next, w->deadline);
        ++it;
      }
    }
    if (next != TimePoint::max()) arm(next);
  }

  // Clients wait on other workers (and none here): give up idle connections above this worker's
  // share, and within it those unused for unused_after (the load moved, e.g. session pooling after
  // this worker's clients left). Connections in use between transactions come back within
  // milliseconds and stay. While clients still wait, the rest is looked at again when the least
  // recently used one will have been unused that long: a client waiting for a connection another
  // worker does not use gets it within about unused_after, not at the next maintenance tick.
  void give_up_idle() {
    const auto now = SteadyClock::now();
    int wanted = shared_->waiting.load(std::memory_order_acquire);
    while (wanted > 0 && !idle_.empty() &&
           (held() > settings_.fair_share || now - idle_.front()->last_used >= settings_.unused_after)) {
      Ptr c = std::move(idle_.front());  // the least recently used
      idle_.pop_front();
      drop(std::move(c));
      --wanted;
    }
    if (wanted > 0 && !idle_.empty() && !handover_armed_) {
      handover_armed_ = true;
      handover_timer_.expires_at(idle_.front()->last_used + settings_.unused_after);
      handover_timer_.async_wait([this](error_code ec) {
        if (ec) return;  // (the pool is gone; touch nothing)
        handover_armed_ = false;
        if (waiters_.empty()) give_up_idle();
      });
    }
  }

  // Connections this worker holds: leased, idle and being opened.
  int held() const { return active_ + static_cast<int>(idle_.size()) + logins_; }

  // Past server_lifetime (0 = never).
  bool expired(const Conn& c, TimePoint now) const {
    return settings_.lifetime.count() > 0 && now - c.created_at >= settings_.lifetime;
  }

  Ptr take_idle() {
    const auto now = coarse_now();
    while (!idle_.empty()) {
      Ptr c = std::move(idle_.back());  // most recently used: warm caches
      idle_.pop_back();
      // Every reuse is checked (Conn::idle_and_open()), also of a connection given back a moment
      // ago: when a primary dies its backends close their connections within milliseconds, and a
      // transaction sent on one would fail instead of waiting for the new primary.
      if (c->idle_and_open() && !expired(*c, now)) return c;
      c.reset();
      shared_->unreserve();
    }
    return nullptr;
  }

  awaitable<void> warm_one();

  void wake_one() {
    if (waiters_.empty()) return;
    Waiter* w = waiters_.front();
    waiters_.pop_front();
    w->woken = true;
    resume(*w);
  }

  asio::any_io_executor executor_;
  asio::steady_timer deadline_timer_;
  asio::steady_timer handover_timer_;  // give_up_idle()'s next look
  bool handover_armed_ = false;
  TimePoint armed_for_ = TimePoint::max();  // the deadline the timer is set for (max: none)
  std::shared_ptr<PoolShared> shared_;
  PoolSettings settings_;
  Factory factory_;
  Signal signal_others_;
  std::deque<Ptr> idle_;
  std::deque<Waiter*> waiters_;
  int logins_ = 0;
  int active_ = 0;
};

// The pool's coroutines are defined out of the class (not inline): a pool type used in many files
// is instantiated once, in one file (`extern template` where the type is named, an explicit
// instantiation in that file). GCC names a coroutine frame's temporaries differently in each file
// that instantiates it, which link-time optimization reports as an ODR violation (GCC bug 101118).
template <typename Conn>
awaitable<typename Pool<Conn>::Opened> Pool<Conn>::open_reserved() {
  ++logins_;
  Opened r = co_await factory_();
  --logins_;
  if (!r.conn) shared_->unreserve();
  // A login slot is free again: a client that waited for it (not for a connection) may now log in.
  if (!r.conn || shared_->total.load(std::memory_order_acquire) < shared_->max_size.load(std::memory_order_relaxed)) {
    wake_one();
  }
  co_return r;
}

template <typename Conn>
awaitable<void> Pool<Conn>::warm_one() {
  Opened r = co_await open_reserved();
  if (r.conn) release(std::move(r.conn));
}

}  // namespace baton::proxy
