// A growable read buffer: bytes received and not yet consumed, released when empty and idle.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "proxy/net/asio.hpp"

namespace baton::proxy {

class ByteBuffer {
 public:
  static constexpr std::size_t kDefaultCapacity = 16 * 1024;

  std::span<const std::uint8_t> readable() const { return {data_.data() + begin_, end_ - begin_}; }
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  // Space for at least `min` more bytes (moving unread bytes to the front or growing as needed).
  asio::mutable_buffer prepare(std::size_t min = 1) {
    if (data_.empty()) data_.resize(std::max(kDefaultCapacity, min));
    if (data_.size() - end_ < min) {
      if (begin_ > 0) {
        std::memmove(data_.data(), data_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      if (data_.size() - end_ < min) data_.resize(end_ + min);
    }
    return asio::buffer(data_.data() + end_, data_.size() - end_);
  }
  void commit(std::size_t n) { end_ += n; }
  // Frees the storage when nothing is buffered (idle sessions hold no buffer).
  void release_if_empty() {
    if (empty() && !data_.empty()) std::vector<std::uint8_t>().swap(data_);
  }
  std::size_t capacity() const { return data_.size(); }

 private:
  std::vector<std::uint8_t> data_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace baton::proxy
