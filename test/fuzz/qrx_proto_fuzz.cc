// libFuzzer target: the qrexec frame reader and message decoder, for every
// kind of link, as a receiver meets them: bytes cut into frames (each header
// checked before its body), each frame decoded, each trigger's names
// sanitised. The first byte picks the link and the read size.
#include <cstddef>
#include <cstdint>
#include <span>

#include "qrx_proto.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace qmin::qrx;
  if (size < 1) return 0;
  const auto link = static_cast<Link>(data[0] % 4);
  const std::size_t chunk = 1 + data[0] / 4;
  std::span<const std::uint8_t> bytes(data + 1, size - 1);
  FrameReader reader(link, 2 * kMaxFrameSize);
  while (!bytes.empty()) {
    const std::size_t take = std::min(chunk, bytes.size());
    if (!reader.Feed(bytes.first(take))) return 0;
    bytes = bytes.subspan(take);
    while (const std::optional<Frame> frame = reader.Next()) {
      qmin::Result<Message> message = DecodeBody(link, frame->header, frame->body);
      if (!message) continue;
      if (auto* trigger = std::get_if<Trigger>(&*message)) (void)SanitizeTrigger(*trigger);
    }
  }
  return 0;
}
