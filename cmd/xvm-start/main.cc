// xvm-start: start VMs from /etc/xvm in dependency order and report their
// domain IDs, or stop them the other way round.
#include <unistd.h>

#include <algorithm>

#include "cli.h"
#include "text.h"
#include "xvm_start.h"

namespace {

// clang-format off
const qmin::ToolSpec kTool = {
    "xvm-start",
    "[-hnv] [--vm-dir DIR] [--xl PATH] [--sys DIR] (--autostart | NAME...) | "
    "--stop [-hnv] [--vm-dir DIR] [--xl PATH] [--timeout SECONDS] (--all | NAME...)",
    "Start VMs in dependency order and wait until each is up; print NAME DOMID for each.",
    {
        {"all",       0,   "",        "with --stop: every defined VM that runs"},
        {"autostart", 0,   "",        "every VM with xvm_autostart = 1, and what it needs"},
        {"dry-run",   'n', "",        "print the order and do nothing"},
        {"stop",      0,   "",        "shut the VMs down, dependents first"},
        {"sys",       0,   "DIR",     "where hypervisor/version is read (default /sys)"},
        {"timeout",   0,   "SECONDS", "with --stop: how long the run's clean shutdowns may take (default 60)"},
        {"vm-dir",    0,   "DIR",     "VM definitions (default /etc/xvm)"},
        {"xl",        0,   "PATH",    "the host's xl (default /usr/sbin/xl)"},
    },
    0, 1000,
};
// clang-format on

qmin::Result<qmin::XvmOptions> Options(const qmin::Args& args) {
  qmin::XvmOptions options;
  options.vm_dir = args.Get("vm-dir", options.vm_dir);
  options.xl = args.Get("xl", options.xl);
  options.sys = args.Get("sys", options.sys);
  options.names = args.positionals();
  options.autostart = args.Has("autostart");
  options.stop = args.Has("stop");
  options.all = args.Has("all");
  options.dry_run = args.Has("dry-run");
  const auto seconds = args.Number("timeout", {1, 3600, "seconds"}, options.stop_timeout);
  if (!seconds) return seconds.error();
  options.stop_timeout = static_cast<unsigned>(*seconds);
  const bool named = !options.names.empty();
  if (options.stop && options.autostart) return qmin::UsageError("--autostart goes without --stop");
  if (!options.stop && options.all) return qmin::UsageError("--all goes with --stop");
  if (named && (options.all || options.autostart))
    return qmin::UsageError(std::string(options.all ? "--all" : "--autostart") + " takes no names");
  if (!named && !options.all && !options.autostart)
    return qmin::UsageError(options.stop ? "--stop needs --all or VM names"
                                         : "needs --autostart or VM names");
  if (!options.stop && args.Has("timeout")) return qmin::UsageError("--timeout goes with --stop");
  return options;
}

// The VMs set aside that this run was to act on are said, and taken out
// of the names asked for; true if there was one.
bool SayWhatIsSetAside(const qmin::XvmDefinitions& definitions, qmin::XvmOptions& options,
                       const qmin::Log& log) {
  const bool every = options.autostart || options.all;
  bool said = false;
  for (const auto& [name, why] : definitions.skipped) {
    const auto asked = std::find(options.names.begin(), options.names.end(), name);
    if (!every && asked == options.names.end()) continue;
    log.Error(qmin::InvalidError((options.stop ? "stop " : "start ") + name, why));
    if (asked != options.names.end()) options.names.erase(asked);
    said = true;
  }
  return said;
}

qmin::Result<int> Run(const qmin::Args& args, qmin::Log& log) {
  qmin::Result<qmin::XvmOptions> options = Options(args);
  if (!options) return options.error();
  qmin::Result<qmin::XvmDefinitions> definitions = qmin::LoadXvmDefinitions(*options);
  if (!definitions) return definitions.error();
  if (definitions->vms.empty() && definitions->skipped.empty())
    log.Warning("no VM definitions in " + options->vm_dir + " (xvm.cfg(5))");
  const bool set_aside = SayWhatIsSetAside(*definitions, *options, log);
  qmin::Result<std::vector<std::string>> plan = qmin::PlanXvm(*options, definitions->vms);
  if (!plan) return plan.error();
  if (options->dry_run) {
    qmin::WriteLines(STDOUT_FILENO, *plan);
    return set_aside ? qmin::ToInt(qmin::ExitCode::kUsage) : 0;
  }
  const auto up = [](const std::string& name, unsigned domid) {
    qmin::WriteLine(STDOUT_FILENO, name + " " + std::to_string(domid));
  };
  qmin::Result<int> status = qmin::RunXvm(*options, definitions->vms, *plan, log, up);
  // The others went ahead; the run still says that not all could.
  if (status && *status == 0 && set_aside) return 1;
  return status;
}

}  // namespace

int main(int argc, char** argv) { return qmin::RunTool(kTool, argc, argv, Run); }
