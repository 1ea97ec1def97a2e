// The order VMs start in: each VM after its dependencies (xvm_after, and
// the VMs its vifs have as backends). An unknown dependency or a cycle is
// found before anything is created, and named whole.
#ifndef QMIN_CMD_XVM_GRAPH_H_
#define QMIN_CMD_XVM_GRAPH_H_

#include <map>
#include <string>
#include <vector>

#include "error.h"
#include "vm_facts.h"

namespace qmin {

using VmMap = std::map<std::string, VmDefinition>;

/// Every dependency names a VM, there is no cycle, and no two VMs claim the
/// same address (a vif's ip=) or PCI device (exit 100 otherwise).
Status CheckGraph(const VmMap& vms);

/// `wanted` and, before each, everything it depends on, in a valid start
/// order (the same order every time). An unknown name is exit 100.
Result<std::vector<std::string>> StartOrder(const VmMap& vms,
                                            const std::vector<std::string>& wanted);

/// The VMs with xvm_autostart = 1, by name.
std::vector<std::string> AutostartVms(const VmMap& vms);

/// The VMs that depend on `name` directly.
std::vector<std::string> Dependents(const VmMap& vms, const std::string& name);

}  // namespace qmin

#endif  // QMIN_CMD_XVM_GRAPH_H_
