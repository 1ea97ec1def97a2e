// vif-route: the routed vif hotplug script (DESIGN.md §3). For `online` it
// gives the guest host routes, permanent neighbour entries, proxy ARP/NDP and
// strict reverse-path filtering on its vif, records what it did, and writes
// hotplug-status=connected last; any failure undoes every step and reports
// hotplug-error. `offline` removes what `online` added and never fails.
#ifndef QMIN_CMD_VIF_ROUTE_H_
#define QMIN_CMD_VIF_ROUTE_H_

#include <string>
#include <vector>

#include "error.h"
#include "log.h"

namespace qmin {

struct VifRouteOptions {
  bool online = true;       ///< online (or add); false for offline (or remove)
  bool tap = false;         ///< type_if=tap: an emulated NIC, nothing to route
  std::string vif;          ///< the interface, $vif
  std::string xenbus_path;  ///< the backend directory, $XENBUS_PATH (may be relative)
  std::string netdev;       ///< $netdev: the uplink that answers NDP for the guest
  std::string proc_sys = "/proc/sys";
  std::string state_dir = "/run/vif-route";
  /// Where nic-handoff keeps its state, and nic-handoff itself ("": never
  /// run): a vif that comes online while the state file exists may be the
  /// net-vm's, re-created, and `nic-handoff reconnect` is run for it.
  std::string handoff_state = "/run/nic-handoff.state";
  std::string nic_handoff = "/usr/sbin/nic-handoff";
  bool allow_no_ip = false;
  bool dry_run = false;
};

/// Reads xl's hotplug arguments, COMMAND [type_if=vif|tap], into `options`:
/// online, offline, add or remove; anything else is a usage error.
Status ParseVifInvocation(const std::vector<std::string>& words, VifRouteOptions& options);

/// Checks the names that end up in paths and xenstore keys.
Status ValidateVifOptions(const VifRouteOptions& options);

/// The whole hotplug run, as libxl expects it; returns the steps (what a
/// dry run prints).
///  - online: on failure every step already taken is undone, hotplug-error
///    says why, and the error carries exit 1 (libxl's contract).
///  - offline: never fails; what could not be removed is logged as a
///    warning, and anything already gone counts as removed.
///  - type_if=tap: nothing to do, as in Xen's own scripts.
Result<std::vector<std::string>> RunVifRoute(const VifRouteOptions& options, Log& log);

}  // namespace qmin

#endif  // QMIN_CMD_VIF_ROUTE_H_
