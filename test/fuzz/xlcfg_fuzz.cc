// libFuzzer target: the xl.cfg reader behind the VM definitions.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "xlcfg.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)qmin::ParseXlConfig(std::string_view(reinterpret_cast<const char*>(data), size),
                            "fuzz.cfg");
  return 0;
}
