// qrx-agent: runs qrexec services in a VM for qrx-broker, and forwards the
// calls of qrx-call.
#include <unistd.h>

#include "cli.h"
#include "daemon.h"
#include "files.h"
#include "qrx_agent.h"
#include "text.h"
#include "vchan.h"

namespace {

// clang-format off
const qmin::ToolSpec kTool = {
    "qrx-agent",
    "[-dhnv] [--agent-socket PATH] [--rpc-dir DIR]... [--max-pending N]",
    "Serve qrexec calls in a VM: the control channel to dom0, and qrx-call's socket.",
    {
        {"agent-socket", 0,   "PATH", "where qrx-call connects (default /var/run/qubes/qrexec-agent)"},
        {"check",        'n', "",     "check the options and exit"},
        {"debug",        'd', "",     "stay in the foreground and log to standard error"},
        {"max-pending",  0,   "N",    "calls that may wait for the broker at once (default 64)"},
        {"rpc-dir",      0,   "DIR",  "where services are found, in order; repeat for more "
                                      "(default /usr/local/etc/qubes-rpc, then /etc/qubes-rpc)"},
    },
    0, 0, false, qmin::VchanTransportName(),
};
// clang-format on

qmin::Result<qmin::qrx::AgentOptions> Options(const qmin::Args& args) {
  qmin::qrx::AgentOptions options;
  options.socket_path = args.Get("agent-socket", options.socket_path);
  if (args.Has("rpc-dir")) options.runner.rpc_dirs = args.GetAll("rpc-dir");
  const auto count = args.Number("max-pending", {1, 4096, ""}, options.max_pending);
  if (!count) return count.error();
  options.max_pending = *count;
  return options;
}

// -n: the options are good; a services directory that is missing is said
// (one named by --rpc-dir, or every default one: then no call can run).
int Check(const qmin::qrx::AgentOptions& options, bool named, const qmin::Log& log) {
  std::size_t present = 0;
  for (const std::string& dir : options.runner.rpc_dirs) {
    if (qmin::IsDirectory(dir)) {
      ++present;
    } else if (named) {
      log.Warning("services directory " + dir + " is missing");
    }
  }
  if (present == 0) log.Warning("no services directory exists: every call here will end 127");
  qmin::WriteLine(STDOUT_FILENO, "configuration OK");
  return 0;
}

qmin::Result<int> Run(const qmin::Args& args, qmin::Log& log) {
  qmin::Result<qmin::qrx::AgentOptions> options = Options(args);
  if (!options) return options.error();
  if (args.Has("check")) return Check(*options, args.Has("rpc-dir"), log);
  return qmin::RunDaemon<qmin::qrx::Agent>(args, log, std::move(*options));
}

}  // namespace

int main(int argc, char** argv) { return qmin::RunTool(kTool, argc, argv, Run); }
