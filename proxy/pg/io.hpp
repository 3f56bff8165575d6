// Reading and writing whole PostgreSQL messages on a Stream, for the phases that are not relays.
#pragma once

#include <vector>

#include "protocol/pg/frame.hpp"
#include "proxy/net/byte_buffer.hpp"
#include "proxy/net/stream.hpp"

namespace baton::proxy::pg {

enum class ReadStatus { kOk, kClosed, kMalformed, kTooLarge };

struct FrameRead {
  ReadStatus status = ReadStatus::kClosed;
  protocol::pg::Frame frame;  // valid until the buffer is next touched; the caller consumes it
  std::size_t size = 0;       // bytes to consume
};

// Reads until one whole typed message is buffered. Does not consume it.
awaitable<FrameRead> read_frame(Stream& stream, ByteBuffer& buffer, std::uint32_t max_length);

struct StartupRead {
  ReadStatus status = ReadStatus::kClosed;
  protocol::pg::StartupFrame frame;
  std::size_t size = 0;
};
// Reads one untyped startup packet (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest).
awaitable<StartupRead> read_startup(Stream& stream, ByteBuffer& buffer);

// Writes `bytes` in full.
awaitable<error_code> write_all(Stream& stream, const std::vector<std::uint8_t>& bytes);

}  // namespace baton::proxy::pg
