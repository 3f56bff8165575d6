// PostgreSQL v3 message framing: where a message starts and ends, without decoding its body.
#pragma once

#include <cstdint>

#include "protocol/common/bytes.hpp"

namespace baton::protocol::pg {

// Protocol limits. A length below the minimum or above the maximum is refused as Malformed.
inline constexpr std::uint32_t kMinLength = 4;
inline constexpr std::uint32_t kMaxStartupLength = 10000;  // as PostgreSQL's MAX_STARTUP_PACKET_LENGTH

// Special startup codes (the 32-bit "protocol version" of an untyped first packet).
inline constexpr std::uint32_t kProtocolV3 = 196608;       // 3.0
inline constexpr std::uint32_t kSslRequestCode = 80877103;
inline constexpr std::uint32_t kGssEncRequestCode = 80877104;
inline constexpr std::uint32_t kCancelRequestCode = 80877102;

// The header of a typed message: 1 type byte and a 4-byte length that counts itself.
struct FrameHeader {
  char type = 0;
  std::uint32_t length = 0;  // as on the wire: body size + 4
  std::size_t total() const { return 1 + static_cast<std::size_t>(length); }
  std::size_t body_size() const { return static_cast<std::size_t>(length) - 4; }
};

// A big-endian 32-bit integer at `at` (the caller checked the size).
inline std::uint32_t be32(Bytes in, std::size_t at) {
  return (std::uint32_t{in[at]} << 24) | (std::uint32_t{in[at + 1]} << 16) | (std::uint32_t{in[at + 2]} << 8) |
         std::uint32_t{in[at + 3]};
}

// Reads a typed message header from the start of `in`. NeedMore with fewer than 5 bytes;
// Malformed when length < 4 or length > max_length. consumed = 5 (the header only).
// (Inline: the relay reads a header several times per message, both ways.)
inline DecodeResult<FrameHeader> decode_header(Bytes in, std::uint32_t max_length) {
  if (in.size() < 5) return NeedMore{5};
  FrameHeader h;
  h.type = static_cast<char>(in[0]);
  h.length = be32(in, 1);
  if (h.length < kMinLength) return Malformed{"message length below 4", 1};
  if (h.length > max_length) return Malformed{"message length above the limit", 1};
  return Decoded<FrameHeader>{h, 5};
}

// A complete typed message: its type and body (view into the input).
struct Frame {
  char type = 0;
  Bytes body;
};

// Splits one whole typed message from the start of `in`; consumed = 1 + length.
DecodeResult<Frame> decode_frame(Bytes in, std::uint32_t max_length);

// The first, untyped packet of a connection: 4-byte length and body (which starts with the code).
struct StartupFrame {
  std::uint32_t code = 0;  // kProtocolV3, kSslRequestCode, kGssEncRequestCode, kCancelRequestCode...
  Bytes body;              // the bytes after the code
};
DecodeResult<StartupFrame> decode_startup_frame(Bytes in);

// Writing a typed message: begin_message appends the type byte and a placeholder length and
// returns the length's offset; end_message sets that length to cover everything written since.
std::size_t begin_message(Writer& w, char type);
void end_message(Writer& w, std::size_t length_at);

}  // namespace baton::protocol::pg
