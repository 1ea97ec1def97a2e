// mkxendev: Xen device nodes and mounts where devtmpfs is missing.
#include <unistd.h>

#include "cli.h"
#include "mkxendev.h"
#include "text.h"

namespace {

// clang-format off
const qmin::ToolSpec kTool = {
    "mkxendev",
    "[-hnv] [--no-mount] [--wait SECONDS] [--root DIR] [--proc DIR] [--sys DIR]",
    "Create /dev/xen/*, /dev/hvc0 and /dev/ptmx, and mount xenfs and devpts where missing.",
    {
        {"dry-run",  'n', "",        "print the plan and change nothing"},
        {"no-mount", 0,   "",        "do not mount xenfs or devpts"},
        {"proc",     0,   "DIR",     "read misc and mounts here, mount xenfs on DIR/xen (default /proc)"},
        {"root",     0,   "DIR",     "make nodes under DIR/dev (default /)"},
        {"sys",      0,   "DIR",     "read class/tty/hvc0/dev here (default /sys)"},
        {"wait",     0,   "SECONDS", "wait up to SECONDS for evtchn, gntdev, privcmd and xenbus"},
    },
    0, 0,
};
// clang-format on

qmin::Result<int> Run(const qmin::Args& args, qmin::Log& log) {
  qmin::MkxendevOptions options;
  options.root = args.Get("root", options.root);
  options.proc = args.Get("proc", options.proc);
  options.sys = args.Get("sys", options.sys);
  options.mount = !args.Has("no-mount");
  const auto seconds = args.Number("wait", {0, 3600, "seconds"}, options.wait_seconds);
  if (!seconds) return seconds.error();
  options.wait_seconds = static_cast<unsigned>(*seconds);
  qmin::Result<qmin::MkxendevPlan> plan = qmin::PlanMkxendev(options);
  if (!plan) return plan.error();
  if (args.Has("dry-run")) {
    qmin::WriteLines(STDOUT_FILENO, qmin::DescribeMkxendevPlan(*plan));
  } else {
    qmin::Status applied =
        qmin::ApplyMkxendev(*plan, [&](const std::string& line) { log.Info(line); });
    if (!applied) return applied.error();
  }
  if (qmin::Status late = qmin::CheckLateDevices(*plan, options); !late) return late.error();
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return qmin::RunTool(kTool, argc, argv, Run); }
