// PostgreSQL v3 framing: finds where a typed or startup message starts and ends in a byte span.
#include "protocol/pg/frame.hpp"

namespace baton::protocol::pg {

DecodeResult<Frame> decode_frame(Bytes in, std::uint32_t max_length) {
  auto r = decode_header(in, max_length);
  if (auto* nm = std::get_if<NeedMore>(&r)) return *nm;
  if (auto* bad = std::get_if<Malformed>(&r)) return *bad;
  const FrameHeader h = std::get<Decoded<FrameHeader>>(r).value;
  if (in.size() < h.total()) return NeedMore{h.total()};
  return Decoded<Frame>{Frame{h.type, in.subspan(5, h.body_size())}, h.total()};
}

DecodeResult<StartupFrame> decode_startup_frame(Bytes in) {
  // The smallest valid startup packet is 8 bytes (length and code), so ask for that much.
  if (in.size() < 4) return NeedMore{8};
  const std::uint32_t length = be32(in, 0);
  if (length < 8) return Malformed{"startup packet length below 8", 0};
  if (length > kMaxStartupLength) return Malformed{"startup packet length above the limit", 0};
  if (in.size() < length) return NeedMore{length};
  StartupFrame f;
  f.code = be32(in, 4);
  f.body = in.subspan(8, length - 8);
  return Decoded<StartupFrame>{f, length};
}

std::size_t begin_message(Writer& w, char type) {
  w.u8(static_cast<std::uint8_t>(type));
  const std::size_t at = w.size();
  w.u32(0);
  return at;
}

void end_message(Writer& w, std::size_t length_at) {
  w.patch_u32(length_at, static_cast<std::uint32_t>(w.size() - length_at));
}

}  // namespace baton::protocol::pg
