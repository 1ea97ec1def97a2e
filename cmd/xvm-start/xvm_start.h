// xvm-start: starts VMs from their definitions (vm_facts) in dependency
// order (xvm_graph), in parallel where the order allows, by running the
// host's `xl create`, and waits until each is really up (xvm_wait:
// running, hotplug, or qrx) on xenstore watches, never by polling. A VM
// that fails is destroyed and its dependents skipped; the rest still start.
// `--stop` shuts them down the other way round.
#ifndef QMIN_CMD_XVM_START_H_
#define QMIN_CMD_XVM_START_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "error.h"
#include "log.h"
#include "xvm_graph.h"

namespace qmin {

struct XvmOptions {
  std::string vm_dir = "/etc/xvm";
  std::string xl = "/usr/sbin/xl";
  std::string sys = "/sys";        ///< where hypervisor/version is read
  std::vector<std::string> names;  ///< the VMs asked for
  bool autostart = false;          ///< every xvm_autostart VM instead
  bool stop = false;
  bool all = false;  ///< --stop --all
  bool dry_run = false;
  unsigned stop_timeout = 60;  ///< seconds for a clean shutdown
};

/// The definitions, checked. One that cannot be read, or that needs a VM
/// that is not defined, does not stop the others: it is set aside with its
/// reason, and so is everything that depends on it. A cycle is an error
/// (exit 100) that names it whole.
struct XvmDefinitions {
  VmMap vms;
  std::map<std::string, std::string> skipped;  ///< VM -> why it is set aside
};
Result<XvmDefinitions> LoadXvmDefinitions(const XvmOptions& options);

/// The VMs to act on, in the order they go: start order, or for --stop,
/// dependents before what they depend on.
Result<std::vector<std::string>> PlanXvm(const XvmOptions& options, const VmMap& vms);

/// What a VM that is up reports: its name and domain ID.
using UpReport = std::function<void(const std::string& name, unsigned domid)>;

/// Carries the plan out. 0 when every VM is up (or down, for --stop), 1
/// when some failed or were skipped; an error when it could not even try.
Result<int> RunXvm(const XvmOptions& options, const VmMap& vms,
                   const std::vector<std::string>& plan, Log& log, const UpReport& up);

}  // namespace qmin

#endif  // QMIN_CMD_XVM_START_H_
