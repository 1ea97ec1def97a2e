// nic-handoff: give dom0's physical NIC to the network VM as one
// transaction, or do one of its steps by hand.
#include <signal.h>
#include <unistd.h>

#include <string_view>

#include "cli.h"
#include "nic_host.h"
#include "sysfs.h"
#include "text.h"

namespace {

// clang-format off
const qmin::ToolSpec kTool = {
    "nic-handoff",
    "[-hnv] [--sysfs DIR] [--state FILE] [--vm-dir DIR] [--xvm-start PATH] [--xl PATH] [--wait SECONDS] "
    "IFACE NETVM | release IFACE | adopt IFACE NETVM | restore | status | reconnect VIF",
    "Hand dom0's NIC to the network VM and route through it; undo all of it on any failure.",
    {
        {"dry-run",   'n', "",        "print the steps and change nothing"},
        {"state",     0,   "FILE",    "what was done, for restore (default /run/nic-handoff.state)"},
        {"vm-dir",    0,   "DIR",     "the VM definitions, checked first and given to xvm-start (default /etc/xvm)"},
        {"sysfs",     0,   "DIR",     "where sysfs is (default /sys)"},
        {"wait",      0,   "SECONDS", "how long dom0's vif may take to connect (default 60)"},
        {"xl",        0,   "PATH",    "the host's xl, to destroy the net-vm (default /usr/sbin/xl)"},
        {"xvm-start", 0,   "PATH",    "what starts the net-vm (default /usr/sbin/xvm-start)"},
    },
    0, 3,
};
// clang-format on

// Each command word and the operands it takes (the word counted); a word
// with other operands is named, never read as an IFACE.
struct CommandForm {
  std::string_view word;
  qmin::HandoffCommand command;
  std::size_t words;
  std::string_view takes;
};
constexpr CommandForm kCommandForms[] = {
    {"restore", qmin::HandoffCommand::kRestore, 1, "no operand"},
    {"status", qmin::HandoffCommand::kStatus, 1, "no operand"},
    {"release", qmin::HandoffCommand::kRelease, 2, "IFACE"},
    {"reconnect", qmin::HandoffCommand::kReconnect, 2, "VIF"},
    {"adopt", qmin::HandoffCommand::kAdopt, 3, "IFACE NETVM"},
};

qmin::Result<qmin::HandoffCommand> Command(const std::vector<std::string>& words,
                                           qmin::HandoffOptions& options) {
  const std::string first = words.empty() ? "" : words[0];
  for (const CommandForm& form : kCommandForms) {
    if (first != form.word) continue;
    if (words.size() != form.words)
      return qmin::UsageError(first + " takes " + std::string(form.takes));
    if (form.command == qmin::HandoffCommand::kReconnect) options.vif = words[1];
    if (form.words > 1 && form.command != qmin::HandoffCommand::kReconnect)
      options.iface = words[1];
    if (form.words > 2) options.netvm = words[2];
    return form.command;
  }
  if (words.size() == 2) {
    options.iface = words[0];
    options.netvm = words[1];
    return qmin::HandoffCommand::kHandoff;
  }
  return qmin::UsageError(
      "expected IFACE NETVM, release IFACE, adopt IFACE NETVM, restore, status or reconnect VIF");
}

// The signals an operator (Ctrl-C on hvc0), init or a hangup sends: held
// while a transaction runs. The step under way finishes, then everything
// done is undone, and only then does nic-handoff exit.
constexpr int kHeldSignals[] = {SIGINT, SIGTERM, SIGHUP};

void HoldSignals() {
  sigset_t held;
  sigemptyset(&held);
  for (int signo : kHeldSignals) sigaddset(&held, signo);
  sigprocmask(SIG_BLOCK, &held, nullptr);
}

int HeldSignal() {
  sigset_t pending;
  if (sigpending(&pending) != 0) return 0;
  for (int signo : kHeldSignals)
    if (sigismember(&pending, signo) == 1) return signo;
  return 0;
}

qmin::Result<int> Run(const qmin::Args& args, qmin::Log& log) {
  qmin::HandoffOptions options;
  qmin::Result<qmin::HandoffCommand> command = Command(args.positionals(), options);
  if (!command) return command.error();
  options.state = args.Get("state", options.state);
  options.vm_dir = args.Get("vm-dir", "/etc/xvm");
  options.dry_run = args.Has("dry-run");
  HoldSignals();
  options.interrupted = HeldSignal;
  const auto wait = args.Number("wait", {1, 3600, "seconds"}, 60);
  if (!wait) return wait.error();
  qmin::Result<qmin::Netlink> netlink = qmin::Netlink::Open();
  if (!netlink) return netlink.error();
  qmin::RealSysfs sysfs(args.Get("sysfs", "/sys"));
  qmin::NetlinkConfig net(std::move(*netlink));
  qmin::XenNetVm xen(args.Get("xvm-start", "/usr/sbin/xvm-start"), options.vm_dir,
                     args.Get("xl", "/usr/sbin/xl"), std::chrono::seconds(*wait));
  // Every step is said on the log, even without -v: an operator over hvc0
  // wants to see what happened to the only network dom0 had.
  if (log.verbosity() == 0) log.set_verbosity(1);
  // reconnect runs from a hotplug script, without a terminal.
  if (*command == qmin::HandoffCommand::kReconnect)
    log.set_sinks(qmin::Log::kStderr | qmin::Log::kSyslog);
  qmin::Handoff handoff(sysfs, net, xen, log, options);
  qmin::Result<std::vector<std::string>> lines = handoff.Run(*command);
  if (!lines) return lines.error();
  if (options.dry_run || *command == qmin::HandoffCommand::kStatus ||
      *command == qmin::HandoffCommand::kRestore)
    qmin::WriteLines(STDOUT_FILENO, *lines);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return qmin::RunTool(kTool, argc, argv, Run); }
