// vif-route: the routed vif hotplug script (DESIGN.md §3). For `online` it
// gives the guest host routes, permanent neighbour entries, proxy ARP/NDP and
// strict reverse-path filtering on its vif, records what it did, and writes
// hotplug-status=connected last; any failure undoes every step and reports
// hotplug-error. `offline` removes what `online` added and never fails.
#ifndef QMIN_LIB_VIF_ROUTE_H_
#define QMIN_LIB_VIF_ROUTE_H_

#include <string>
#include <vector>

#include "error.h"
#include "log.h"

namespace qmin {

struct VifRouteOptions {
  std::string command;      ///< online, offline (or add, remove)
  std::string vif;          ///< the interface, $vif
  std::string xenbus_path;  ///< the backend directory, $XENBUS_PATH (may be relative)
  std::string netdev;       ///< $netdev: the uplink that answers NDP for the guest
  std::string proc_sys = "/proc/sys";
  std::string state_dir = "/run/vif-route";
  bool allow_no_ip = false;
  bool dry_run = false;
};

/// Checks the names that end up in paths and xenstore keys.
Status ValidateVifOptions(const VifRouteOptions& options);

/// `online`: on failure, every step already taken is undone and the error
/// has been reported in xenstore where that was possible. With dry_run,
/// `plan` gets the steps and nothing changes.
Status VifOnline(const VifRouteOptions& options, std::vector<std::string>& plan);

/// `offline`: what could not be removed is logged as a warning; anything
/// already gone counts as removed.
void VifOffline(const VifRouteOptions& options, Log& log, std::vector<std::string>& plan);

}  // namespace qmin

#endif  // QMIN_LIB_VIF_ROUTE_H_
