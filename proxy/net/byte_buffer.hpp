// A growable read buffer: bytes received and not yet consumed, released when empty and idle.
// Storage is never zeroed (recv writes it) and standard-size blocks are recycled per thread, so a
// transaction-pooled session that gives its buffer back between transactions costs no allocation.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <utility>

#include <boost/asio/buffer.hpp>

namespace baton::proxy {

namespace detail {
// Recycled standard-size blocks of the calling thread (at most kMaxCached of them).
struct BlockCache {
  static constexpr std::size_t kMaxCached = 64;
  std::unique_ptr<std::uint8_t[]> blocks[kMaxCached];
  std::size_t count = 0;
};
inline thread_local BlockCache block_cache;
}  // namespace detail

class ByteBuffer {
 public:
  static constexpr std::size_t kDefaultCapacity = 16 * 1024;

  ByteBuffer() = default;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ByteBuffer(ByteBuffer&& o) noexcept
      : data_(std::move(o.data_)),
        capacity_(std::exchange(o.capacity_, 0)),
        begin_(std::exchange(o.begin_, 0)),
        end_(std::exchange(o.end_, 0)) {}
  ByteBuffer& operator=(ByteBuffer&& o) noexcept {
    if (this != &o) {
      free_storage();
      data_ = std::move(o.data_);
      capacity_ = std::exchange(o.capacity_, 0);
      begin_ = std::exchange(o.begin_, 0);
      end_ = std::exchange(o.end_, 0);
    }
    return *this;
  }
  ~ByteBuffer() { free_storage(); }

  std::span<const std::uint8_t> readable() const { return {data_.get() + begin_, end_ - begin_}; }
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  // Space for at least `min` more bytes (moving unread bytes to the front or growing as needed).
  boost::asio::mutable_buffer prepare(std::size_t min = 1) {
    if (!data_) {
      capacity_ = std::max(kDefaultCapacity, min);
      data_ = take_block(capacity_);
    }
    if (capacity_ - end_ < min) {
      const std::size_t unread = end_ - begin_;
      if (capacity_ - unread >= min) {
        std::memmove(data_.get(), data_.get() + begin_, unread);
      } else {
        const std::size_t grown = std::max(capacity_ * 2, unread + min);
        auto bigger = take_block(grown);
        std::memcpy(bigger.get(), data_.get() + begin_, unread);
        free_storage();
        data_ = std::move(bigger);
        capacity_ = grown;
      }
      begin_ = 0;
      end_ = unread;
    }
    return boost::asio::buffer(data_.get() + end_, capacity_ - end_);
  }
  void commit(std::size_t n) { end_ += n; }
  // Gives the storage back when nothing is buffered (idle sessions hold no buffer).
  void release_if_empty() {
    if (empty() && data_) {
      free_storage();
      capacity_ = 0;
      begin_ = end_ = 0;
    }
  }
  std::size_t capacity() const { return capacity_; }

 private:
  static std::unique_ptr<std::uint8_t[]> take_block(std::size_t size) {
    detail::BlockCache& cache = detail::block_cache;
    if (size == kDefaultCapacity && cache.count > 0) return std::move(cache.blocks[--cache.count]);
    return std::make_unique_for_overwrite<std::uint8_t[]>(size);
  }
  void free_storage() {
    if (!data_) return;
    detail::BlockCache& cache = detail::block_cache;
    if (capacity_ == kDefaultCapacity && cache.count < detail::BlockCache::kMaxCached) {
      cache.blocks[cache.count++] = std::move(data_);
    } else {
      data_.reset();
    }
  }

  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace baton::proxy
