// What the policy knows about VMs (names, types, tags), from the VM
// definitions in /etc/xvm/<name>.cfg (DESIGN.md §3 xvm-start). dom0 is the
// AdminVM and needs no file.
#ifndef QMIN_LIB_VM_FACTS_H_
#define QMIN_LIB_VM_FACTS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "error.h"

namespace qmin {

inline constexpr char kAdminVmName[] = "dom0";

struct VmFacts {
  std::string type = "AppVM";         ///< xvm_type; dom0's is "AdminVM"
  std::set<std::string> tags;         ///< xvm_tags
  std::string default_user = "user";  ///< xvm_default_user: who runs user=DEFAULT calls
};

using VmTable = std::map<std::string, VmFacts>;

/// True for a usable VM name: [A-Za-z][A-Za-z0-9_.-]*, at most 31 characters
/// (Qubes' rule for qube names).
bool IsValidVmName(std::string_view name);

/// Reads every DIR/*.cfg. All problems are collected (each "file: reason");
/// any problem means the table must not be trusted.
struct VmLoad {
  VmTable vms;
  std::vector<std::string> errors;
};
VmLoad LoadVmFacts(const std::string& dir);

}  // namespace qmin

#endif  // QMIN_LIB_VM_FACTS_H_
