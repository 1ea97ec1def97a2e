// libFuzzer target: the qrexec message decoder, for every kind of link. The
// first byte picks the link; the rest is a header and a body.
#include <cstddef>
#include <cstdint>
#include <span>

#include "qrx_proto.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 + qmin::qrx::kHeaderSize) return 0;
  const auto link = static_cast<qmin::qrx::Link>(data[0] % 4);
  const std::span<const std::uint8_t> bytes(data + 1, size - 1);
  const qmin::qrx::Header header = qmin::qrx::DecodeHeader(bytes);
  if (!qmin::qrx::CheckHeader(link, header)) return 0;
  const std::span<const std::uint8_t> body = bytes.subspan(qmin::qrx::kHeaderSize);
  if (body.size() < header.len) return 0;
  (void)qmin::qrx::DecodeBody(link, header, body.subspan(0, header.len));
  return 0;
}
