// libFuzzer target for frameStream() (RFC 3261 §18.3 Content-Length framing).
// The first two bytes choose maxSize; the rest is the stream. Checks that the
// results are consistent while framing the whole stream message by message,
// and that no shorter prefix of a framed message frames.
#include "sip/transport/transport_layer.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

using tandem::sip::FrameResult;
using tandem::sip::frameStream;

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t maxSize = (static_cast<std::size_t>(data[0]) << 8 | data[1]) + 1;
  std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);

  while (!stream.empty()) {
    const FrameResult r = frameStream(stream, maxSize);
    check(r.consumed <= stream.size());
    if (r.kind == FrameResult::Kind::NeedMore) {
      check(r.consumed == 0);
      check(r.expected == 0 || (r.expected > stream.size() && r.expected <= maxSize));
      break;
    }
    if (r.kind == FrameResult::Kind::Error) {
      check(!r.error.empty());
      break;
    }
    if (r.kind == FrameResult::Kind::KeepAlive) {
      check(r.consumed == 2 || (r.consumed == 4 && r.pong));
    } else {
      check(r.consumed > 0 && r.consumed <= maxSize && !r.pong);
      // Any shorter prefix of a message is just incomplete.
      const FrameResult partial = frameStream(stream.substr(0, r.consumed - 1), maxSize);
      check(partial.kind == FrameResult::Kind::NeedMore);
    }
    stream.remove_prefix(r.consumed);
  }
  return 0;
}
