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
    "[--state-dir DIR] [--handoff-state FILE] [--nic-handoff PATH] online|offline|add|remove [type_if=vif|tap]",
    "Give a guest's vif /32 and /128 host routes, neighbour entries and proxy ARP/NDP.",
    {
        {"allow-no-ip",  0,   "",      "bring the vif up even without an ip key"},
        {"dry-run",      'n', "",      "print what would be done and change nothing"},
        {"handoff-state", 0,  "FILE",  "nic-handoff's state: if it exists, online runs nic-handoff reconnect (default /run/nic-handoff.state)"},
        {"netdev",       0,   "IFACE", "uplink for IPv6 proxy entries (default $netdev)"},
        {"nic-handoff",  0,   "PATH",  "what online runs for dom0's uplink; \"\" for nothing (default /usr/sbin/nic-handoff)"},
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

qmin::Result<int> Run(const qmin::Args& args, qmin::Log& log) {
  qmin::VifRouteOptions options;
  if (qmin::Status parsed = qmin::ParseVifInvocation(args.positionals(), options); !parsed)
    return parsed.error();
  options.vif = args.Get("vif", Environment("vif"));
  options.xenbus_path = args.Get("xenbus-path", Environment("XENBUS_PATH"));
  options.netdev = args.Get("netdev", Environment("netdev"));
  options.proc_sys = args.Get("proc-sys", options.proc_sys);
  options.state_dir = args.Get("state-dir", options.state_dir);
  options.handoff_state = args.Get("handoff-state", options.handoff_state);
  options.nic_handoff = args.Get("nic-handoff", options.nic_handoff);
  options.allow_no_ip = args.Has("allow-no-ip");
  options.dry_run = args.Has("dry-run");
  // Hotplug scripts run without a terminal: the log goes to syslog as well.
  if (!options.dry_run) log.set_sinks(qmin::Log::kStderr | qmin::Log::kSyslog);
  qmin::Result<std::vector<std::string>> plan = qmin::RunVifRoute(options, log);
  if (!plan) return plan.error();
  if (options.dry_run) qmin::WriteLines(STDOUT_FILENO, *plan);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return qmin::RunTool(kTool, argc, argv, Run); }
