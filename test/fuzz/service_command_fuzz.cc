// libFuzzer target: the command line dom0 sends in EXEC_CMDLINE, as
// qrx-agent parses it; a parse that succeeds must format back to a command
// that parses to the same call.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "qrx_service.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const qmin::Result<qmin::qrx::ServiceCommand> command = qmin::qrx::ParseServiceCommand(text);
  if (!command || !command->shell.empty() || !command->target_type.empty()) return 0;
  const auto again = qmin::qrx::ParseServiceCommand(qmin::qrx::FormatServiceCommand(*command));
  if (!again || again->service != command->service || again->source != command->source)
    std::abort();
  return 0;
}
