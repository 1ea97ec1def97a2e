// qrx-call: call a qrexec service in another VM.
#include "cli.h"
#include "qrx_call.h"
#include "text.h"

namespace {

// clang-format off
const qmin::ToolSpec kTool = {
    "qrx-call",
    "[-htTv] [--agent-socket PATH] [--buffer-size BYTES] [--prefix-data TEXT] "
    "TARGET SERVICE[+ARG] [LOCAL_PROGRAM [ARGS...]]",
    "Call SERVICE in TARGET through the qrexec policy; its output comes back here.",
    {
        {"agent-socket",   0,   "PATH",  "the agent's socket (in dom0: the broker's)"},
        {"buffer-size",    0,   "BYTES", "the data ring's size (default 65536)"},
        {"filter-escapes", 't', "",      "replace control characters in the service's output"},
        {"no-filter-escapes", 'T', "",   "pass the service's output through unchanged"},
        {"prefix-data",    0,   "TEXT",  "send TEXT before standard input"},
    },
    2, 1000, true,
};
// clang-format on

qmin::Status Run(const qmin::Args& args, qmin::Log& log, qmin::ExitCode& exit_code) {
  qmin::qrx::CallOptions options;
  options.socket = args.Get("agent-socket", options.socket);
  options.target = args.positionals()[0];
  options.service = args.positionals()[1];
  options.local_program.assign(args.positionals().begin() + 2, args.positionals().end());
  options.prefix_data = args.Get("prefix-data");
  if (args.Has("buffer-size")) {
    const auto size = qmin::ParseUnsigned(args.Get("buffer-size"), 1 << 24);
    if (!size || *size < 1024)
      return qmin::InvalidError("parse the command line", "--buffer-size needs 1024 to 16777216");
    options.buffer_size = *size;
  }
  if (args.Has("filter-escapes")) options.filter_stdout = options.filter_stderr = 1;
  if (args.Has("no-filter-escapes")) options.filter_stdout = options.filter_stderr = 0;
  qmin::Result<qmin::qrx::CallOutcome> outcome = qmin::qrx::RunCall(options);
  if (!outcome) {
    log.Fatal(outcome.error());
    exit_code = static_cast<qmin::ExitCode>(qmin::qrx::kExitProblem);
    return {};
  }
  if (outcome->refused) log.Warning("request refused");
  exit_code = static_cast<qmin::ExitCode>(outcome->status);
  return {};
}

}  // namespace

int main(int argc, char** argv) { return qmin::RunTool(kTool, argc, argv, Run); }
