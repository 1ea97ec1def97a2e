// Facts of a Xen host that more than one tool reads: which domains exist
// (names in xenstore), where a vif's backend keeps its state, and the two
// Xen versions that must agree (hypervisor and toolstack: a mismatch shows
// up as "Permission denied" from xl create while xl list still works).
#ifndef QMIN_LIB_XEN_HOST_H_
#define QMIN_LIB_XEN_HOST_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "error.h"
#include "xenstore.h"
#include "xenstore_watcher.h"

namespace qmin {

/// domid -> name of every domain xenstore has a name for, dom0 aside.
Result<std::map<unsigned, std::string>> ReadDomainNames(const Xenstore& xs);

/// A xenstore connection, and a watcher that fires with `token` whenever a
/// domain comes or goes (@introduceDomain, @releaseDomain): how a daemon
/// follows the domains by itself.
struct DomainWatch {
  std::unique_ptr<Xenstore> xs;
  std::unique_ptr<XenstoreWatcher> watcher;
};
Result<DomainWatch> WatchDomains(const std::string& token);

/// The domain called `name`, if there is one.
std::optional<unsigned> FindDomain(const std::map<unsigned, std::string>& names,
                                   const std::string& name);

/// Where the backend domain keeps a vif's state, hotplug-status and
/// hotplug-error: /local/domain/BACKEND/backend/vif/DOMID/DEVID.
std::string VifBackendPath(unsigned backend, unsigned domid, unsigned devid);

/// A vif as its backend reports it. Connected means both halves agree: the
/// backend driver's xenbus state is Connected (4), and the hotplug script has
/// written hotplug-status=connected. A hotplug-error means it never will be.
struct VifStatus {
  enum class State { kWaiting, kConnected, kFailed };
  State state = State::kWaiting;
  std::string error;  ///< kFailed: hotplug-error as written (quote it before printing)
};
VifStatus ReadVifStatus(const Xenstore& xs, const std::string& backend_path);

/// "4.17" from SYS/hypervisor/version/{major,minor}; nullopt outside Xen.
std::optional<std::string> HypervisorVersion(const std::string& sys);

/// The Xen version of the toolstack an xl binary uses: the X.Y of the
/// libxenlight.so.X.Y it names. nullopt when it names none (a wrapper, a
/// static build, a test double).
std::optional<std::string> ToolstackVersion(const std::string& xl);

}  // namespace qmin

#endif  // QMIN_LIB_XEN_HOST_H_
