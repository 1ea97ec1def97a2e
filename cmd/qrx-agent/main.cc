// qrx-agent: runs qrexec services in a VM for qrx-broker, and forwards the
// calls of qrx-call.
#include "cli.h"
#include "event_loop.h"
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
  if (args.Has("max-pending")) {
    const auto count = qmin::ParseUnsigned(args.Get("max-pending"), 4096);
    if (!count || *count == 0) return qmin::UsageError("--max-pending needs 1 to 4096");
    options.max_pending = *count;
  }
  return options;
}

qmin::Result<int> Run(const qmin::Args& args, qmin::Log& log) {
  qmin::Result<qmin::qrx::AgentOptions> options = Options(args);
  if (!options) return options.error();
  if (args.Has("check")) return 0;
  // Until it runs, what goes wrong is said on the terminal too.
  if (!args.Has("debug")) log.set_sinks(qmin::Log::kSyslog | qmin::Log::kStderr);
  qmin::Result<qmin::EventLoop> loop = qmin::EventLoop::Create();
  if (!loop) return loop.error();
  qmin::qrx::Agent agent(*loop, *options, log);
  if (qmin::Status started = agent.Start(); !started) return started.error();
  if (!args.Has("debug")) log.set_sinks(qmin::Log::kSyslog);
  if (qmin::Status ran = loop->Run(); !ran) return ran.error();
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return qmin::RunTool(kTool, argc, argv, Run); }
