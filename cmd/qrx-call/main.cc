// qrx-call: call a qrexec service in another VM.
#include "cli.h"
#include "qrx_call.h"
#include "text.h"
#include "vchan.h"

namespace {

// clang-format off
const qmin::ToolSpec kTool = {
    "qrx-call",
    "[-htTv] [--agent-socket PATH] [--buffer-size BYTES] [-p TEXT] [--use-stdin-socket] "
    "TARGET SERVICE[+ARG] [LOCAL_PROGRAM [ARGS...]]",
    "Call SERVICE in TARGET through the qrexec policy; its output comes back here.",
    {
        {"agent-socket",                  0,   "PATH",  "the agent's socket (default: the broker's in dom0, else the agent's)"},
        {"buffer-size",                   0,   "BYTES", "the data ring's size (default 262144; 65536 when grants run short)"},
        {"filter-escape-chars-stderr",    'T', "",      "replace terminal controls in the service's errors"},
        {"filter-escape-chars-stdout",    't', "",      "replace terminal controls in the service's output"},
        {"no-filter-escape-chars-stderr", 0,   "",      "pass the service's errors through unchanged"},
        {"no-filter-escape-chars-stdout", 0,   "",      "pass the service's output through unchanged"},
        {"prefix-data",                   'p', "TEXT",  "send TEXT before standard input"},
        {"use-stdin-socket",              0,   "",      "standard input is a socket for both directions"},
    },
    2, 1000, true, qmin::VchanTransportName(),
};
// clang-format on
static_assert(qmin::qrx::kRoomyRing == 262144 && qmin::qrx::kQubesRing == 65536,
              "--buffer-size's help states the two ring sizes");

// -t/-T and their --no- forms: the last one given wins; none: a terminal decides.
int Filter(const qmin::Args& args, const std::string& stream) {
  if (args.Has("no-filter-escape-chars-" + stream)) return 0;
  return args.Has("filter-escape-chars-" + stream) ? 1 : -1;
}

qmin::Result<int> Run(const qmin::Args& args, qmin::Log& log) {
  qmin::qrx::CallOptions options;
  options.socket = args.Get("agent-socket", qmin::qrx::DefaultCallSocket());
  options.target = args.positionals()[0];
  options.service = args.positionals()[1];
  options.local_program.assign(args.positionals().begin() + 2, args.positionals().end());
  if (args.GetAll("prefix-data").size() > 1) return qmin::UsageError("-p may be given once");
  options.prefix_data = args.Get("prefix-data");
  options.use_stdin_socket = args.Has("use-stdin-socket");
  options.filter_stdout = Filter(args, "stdout");
  options.filter_stderr = Filter(args, "stderr");
  if (args.Has("buffer-size")) {
    const auto size = args.Number("buffer-size", {1024, 1 << 24, "bytes"}, 0);
    if (!size) return size.error();
    options.buffer_size = *size;
  }
  if (qmin::Status names = qmin::qrx::CheckCallNames(options); !names) return names.error();
  qmin::Result<qmin::qrx::CallOutcome> outcome = qmin::qrx::RunCall(options);
  if (!outcome) {
    log.Fatal(outcome.error());
    return qmin::qrexec_exit::kProblem;
  }
  if (outcome->refused) log.Warning("request refused");
  return outcome->status;
}

}  // namespace

int main(int argc, char** argv) { return qmin::RunTool(kTool, argc, argv, Run); }
