// Byte reading and writing for wire codecs: a bounds-checked reader over a span, an appending writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace baton::protocol {

using Bytes = std::span<const std::uint8_t>;

// A decoder's verdict when it cannot produce a value.
struct NeedMore {
  std::size_t at_least = 0;  // total bytes needed, when known (0 = unknown)
};
struct Malformed {
  const char* what = "";
  std::size_t offset = 0;
};

// A decoded value and the number of input bytes it used.
template <typename T>
struct Decoded {
  T value;
  std::size_t consumed = 0;
};

// Either a value, NeedMore or Malformed. Decoders never throw and never read past their input.
template <typename T>
using DecodeResult = std::variant<Decoded<T>, NeedMore, Malformed>;

template <typename T>
bool is_ok(const DecodeResult<T>& r) {
  return std::holds_alternative<Decoded<T>>(r);
}
template <typename T>
bool is_need_more(const DecodeResult<T>& r) {
  return std::holds_alternative<NeedMore>(r);
}
template <typename T>
bool is_malformed(const DecodeResult<T>& r) {
  return std::holds_alternative<Malformed>(r);
}

inline std::string_view as_chars(Bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Reads big-endian integers, NUL-terminated strings and byte runs. Every read checks bounds:
// on a short input it sets failed() and returns a zero value, so a decoder can read a whole
// message and check once at the end.
class Reader {
 public:
  explicit Reader(Bytes data) : data_(data) {}

  std::uint8_t u8() {
    if (!need(1)) return 0;
    return data_[pos_++];
  }
  std::uint16_t u16() {
    if (!need(2)) return 0;
    std::uint16_t v = static_cast<std::uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  std::uint32_t u32() {
    if (!need(4)) return 0;
    std::uint32_t v = (std::uint32_t{data_[pos_]} << 24) | (std::uint32_t{data_[pos_ + 1]} << 16) |
                      (std::uint32_t{data_[pos_ + 2]} << 8) | std::uint32_t{data_[pos_ + 3]};
    pos_ += 4;
    return v;
  }
  std::int16_t i16() { return static_cast<std::int16_t>(u16()); }
  std::int32_t i32() { return static_cast<std::int32_t>(u32()); }

  // Little-endian reads (MySQL).
  std::uint16_t u16le() {
    if (!need(2)) return 0;
    std::uint16_t v = static_cast<std::uint16_t>(data_[pos_] | (data_[pos_ + 1] << 8));
    pos_ += 2;
    return v;
  }
  std::uint32_t u32le() {
    if (!need(4)) return 0;
    std::uint32_t v = std::uint32_t{data_[pos_]} | (std::uint32_t{data_[pos_ + 1]} << 8) |
                      (std::uint32_t{data_[pos_ + 2]} << 16) | (std::uint32_t{data_[pos_ + 3]} << 24);
    pos_ += 4;
    return v;
  }

  // A NUL-terminated string; the view excludes the NUL. Fails when no NUL is found.
  std::string_view cstring() {
    if (failed_) return {};
    if (pos_ >= data_.size()) {
      failed_ = true;
      return {};
    }
    const void* nul = std::memchr(data_.data() + pos_, 0, data_.size() - pos_);
    if (nul == nullptr) {
      failed_ = true;
      return {};
    }
    std::size_t len = static_cast<const std::uint8_t*>(nul) - (data_.data() + pos_);
    std::string_view s(reinterpret_cast<const char*>(data_.data() + pos_), len);
    pos_ += len + 1;
    return s;
  }

  Bytes bytes(std::size_t n) {
    if (!need(n)) return {};
    Bytes b = data_.subspan(pos_, n);
    pos_ += n;
    return b;
  }
  Bytes rest() {
    if (failed_) return {};
    Bytes b = data_.subspan(pos_);
    pos_ = data_.size();
    return b;
  }

  bool failed() const { return failed_; }
  bool at_end() const { return pos_ == data_.size(); }
  std::size_t pos() const { return pos_; }
  std::size_t remaining() const { return failed_ ? 0 : data_.size() - pos_; }

 private:
  bool need(std::size_t n) {
    if (failed_ || data_.size() - pos_ < n) {
      failed_ = true;
      return false;
    }
    return true;
  }

  Bytes data_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

// Appends to a caller-owned byte vector. Reuse one vector to avoid allocations on hot paths.
class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>& out) : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) {
    out_.push_back(static_cast<std::uint8_t>(v >> 8));
    out_.push_back(static_cast<std::uint8_t>(v));
  }
  void u32(std::uint32_t v) {
    out_.push_back(static_cast<std::uint8_t>(v >> 24));
    out_.push_back(static_cast<std::uint8_t>(v >> 16));
    out_.push_back(static_cast<std::uint8_t>(v >> 8));
    out_.push_back(static_cast<std::uint8_t>(v));
  }
  void i16(std::int16_t v) { u16(static_cast<std::uint16_t>(v)); }
  void i32(std::int32_t v) { u32(static_cast<std::uint32_t>(v)); }
  void u16le(std::uint16_t v) {
    out_.push_back(static_cast<std::uint8_t>(v));
    out_.push_back(static_cast<std::uint8_t>(v >> 8));
  }
  void u32le(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void cstring(std::string_view s) {
    bytes(as_bytes(s));
    out_.push_back(0);
  }
  void bytes(Bytes b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void str(std::string_view s) { bytes(as_bytes(s)); }

  std::size_t size() const { return out_.size(); }
  // Overwrites a big-endian u32 at an earlier offset (a length field written before the body).
  void patch_u32(std::size_t at, std::uint32_t v) {
    out_[at] = static_cast<std::uint8_t>(v >> 24);
    out_[at + 1] = static_cast<std::uint8_t>(v >> 16);
    out_[at + 2] = static_cast<std::uint8_t>(v >> 8);
    out_[at + 3] = static_cast<std::uint8_t>(v);
  }
  std::vector<std::uint8_t>& buffer() { return out_; }

 private:
  std::vector<std::uint8_t>& out_;
};

}  // namespace baton::protocol
