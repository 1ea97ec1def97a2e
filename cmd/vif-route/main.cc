// vif-route: the xl vif hotplug script for routed networking.
#include <unistd.h>

#include <cstdlib>

#include "cli.h"
#include "vif_route.h"

namespace {

// clang-format off
const qmin::ToolSpec kTool = {
    "vif-route",
    "[-hnv] [--allow-no-ip] [--vif IFACE] [--xenbus-path PATH] [--netdev IFACE] [--proc-sys DIR] "
    "[--state-dir DIR] online|offline|add|remove [type_if=vif|tap]",
    "Give a guest's vif /32 and /128 host routes, neighbour entries and proxy ARP/NDP.",
    {
        {"allow-no-ip",  0,   "",      "bring the vif up even without an ip key"},
        {"dry-run",      'n', "",      "print what would be done and change nothing"},
        {"netdev",       0,   "IFACE", "uplink for IPv6 proxy entries (default $netdev)"},
        {"proc-sys",     0,   "DIR",   "where sysctls are written (default /proc/sys)"},
        {"state-dir",    0,   "DIR",   "where what online did is recorded (default /run/vif-route)"},
        {"vif",          0,   "IFACE", "the interface (default $vif)"},
        {"xenbus-path",  0,   "PATH",  "the backend directory in xenstore (default $XENBUS_PATH)"},
    },
    1, 2,
};
// clang-format on

std::string Environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

qmin::Status Run(const qmin::Args& args, qmin::Log& log, qmin::ExitCode& exit_code) {
  const std::string& command = args.positionals()[0];
  const std::string type_if = args.positionals().size() > 1 ? args.positionals()[1] : "type_if=vif";
  if (command != "online" && command != "offline" && command != "add" && command != "remove")
    return qmin::InvalidError("parse the command line", "unknown command " + command);
  if (type_if != "type_if=vif" && type_if != "type_if=tap")
    return qmin::InvalidError("parse the command line",
                              "expected type_if=vif or type_if=tap, got " + type_if);
  if (type_if == "type_if=tap") return {};  // emulated NICs: nothing to route, as in Xen's scripts

  qmin::VifRouteOptions options;
  options.command = command;
  options.vif = args.Get("vif", Environment("vif"));
  options.xenbus_path = args.Get("xenbus-path", Environment("XENBUS_PATH"));
  options.netdev = args.Get("netdev", Environment("netdev"));
  options.proc_sys = args.Get("proc-sys", options.proc_sys);
  options.state_dir = args.Get("state-dir", options.state_dir);
  options.allow_no_ip = args.Has("allow-no-ip");
  options.dry_run = args.Has("dry-run");
  // Hotplug scripts run without a terminal: the log goes to syslog as well.
  if (!options.dry_run) log.set_sinks(qmin::Log::kStderr | qmin::Log::kSyslog);

  std::vector<std::string> plan;
  const bool online = command == "online" || command == "add";
  if (!online) {
    if (qmin::Status valid = qmin::ValidateVifOptions(options); !valid) {
      log.Warning(valid.error());  // offline always succeeds: libxl ignores it anyway
      return {};
    }
    qmin::VifOffline(options, log, plan);
  } else {
    const qmin::Status status = qmin::VifOnline(options, plan);
    if (!status) {
      qmin::Error error = status.error();
      error.exit = qmin::ExitCode::kRefused;  // the hotplug contract: 1, and hotplug-error says why
      return error;
    }
  }
  for (const std::string& line : plan)
    if (options.dry_run) qmin::WriteLine(STDOUT_FILENO, line);
  (void)exit_code;
  return {};
}

}  // namespace

int main(int argc, char** argv) { return qmin::RunTool(kTool, argc, argv, Run); }
