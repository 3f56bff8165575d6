// Pure pool decisions over counts: how many warm connections to open, how a total splits across workers.
#pragma once

namespace baton::proxy {

struct PoolCounts {
  int open = 0;     // idle + in use
  int opening = 0;  // logins in progress
  int min_size = 0;
};

// How many connections to open now to reach min_size.
inline int warm_deficit(const PoolCounts& c) {
  int have = c.open + c.opening;
  return have < c.min_size ? c.min_size - have : 0;
}

// Worker `index`'s share of `total` split over `workers` (the first ones take the remainder).
inline int worker_share(int total, int workers, int index) {
  if (workers <= 0) return total;
  return total / workers + (index < total % workers ? 1 : 0);
}

}  // namespace baton::proxy
