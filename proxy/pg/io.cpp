// Whole-message reads and writes over a Stream.
#include "proxy/pg/io.hpp"

namespace baton::proxy::pg {

namespace pgp = protocol::pg;

namespace {
// A header whose length field is above the limit (as opposed to one that is malformed otherwise).
bool is_oversized(protocol::Bytes in, std::uint32_t max_length) {
  if (in.size() < 5) return false;
  protocol::Reader r(in.subspan(1, 4));
  return r.u32() > max_length;
}
}  // namespace

awaitable<FrameRead> read_frame(Stream& stream, ByteBuffer& buffer, std::uint32_t max_length) {
  for (;;) {
    auto r = pgp::decode_frame(buffer.readable(), max_length);
    if (auto* ok = std::get_if<protocol::Decoded<pgp::Frame>>(&r)) {
      co_return FrameRead{ReadStatus::kOk, ok->value, ok->consumed};
    }
    if (std::holds_alternative<protocol::Malformed>(r)) {
      co_return FrameRead{is_oversized(buffer.readable(), max_length) ? ReadStatus::kTooLarge : ReadStatus::kMalformed,
                          {}, 0};
    }
    std::size_t need = std::get<protocol::NeedMore>(r).at_least;
    std::size_t want = need > buffer.size() ? need - buffer.size() : 1;
    auto [ec, n] = co_await stream.read_some(buffer.prepare(want));
    if (ec || n == 0) co_return FrameRead{ReadStatus::kClosed, {}, 0};
    buffer.commit(n);
  }
}

awaitable<StartupRead> read_startup(Stream& stream, ByteBuffer& buffer) {
  for (;;) {
    auto r = pgp::decode_startup_frame(buffer.readable());
    if (auto* ok = std::get_if<protocol::Decoded<pgp::StartupFrame>>(&r)) {
      co_return StartupRead{ReadStatus::kOk, ok->value, ok->consumed};
    }
    if (std::holds_alternative<protocol::Malformed>(r)) co_return StartupRead{ReadStatus::kMalformed, {}, 0};
    std::size_t need = std::get<protocol::NeedMore>(r).at_least;
    std::size_t want = need > buffer.size() ? need - buffer.size() : 1;
    auto [ec, n] = co_await stream.read_some(buffer.prepare(want));
    if (ec || n == 0) co_return StartupRead{ReadStatus::kClosed, {}, 0};
    buffer.commit(n);
  }
}

awaitable<error_code> write_all(Stream& stream, const std::vector<std::uint8_t>& bytes) {
  error_code ec = co_await stream.write(asio::buffer(bytes));
  co_return ec;
}

}  // namespace baton::proxy::pg
