// The relay's queue of expected server answers: a FIFO that allocates nothing until first used.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace baton::proxy::pg {

// std::deque allocates on construction; idle sessions must cost little, so a vector and a head index.
template <typename T>
class FifoQueue {
 public:
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }
  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }
  T& back() { return items_.back(); }
  void push_back(T item) {
    // A client that pipelines without pause never empties the queue: drop the consumed head now and then.
    if (head_ >= 64 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    items_.push_back(std::move(item));
  }
  void pop_back() { items_.pop_back(); }
  void pop_front() {
    // The last one (mostly the only one): no emptied placeholder to leave behind.
    if (head_ + 1 == items_.size()) {
      clear();
      return;
    }
    items_[head_++] = T{};
  }
  void clear() {
    items_.clear();
    head_ = 0;
  }

 private:
  std::vector<T> items_;
  std::size_t head_ = 0;
};

}  // namespace baton::proxy::pg
