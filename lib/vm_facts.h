// The VM definitions in /etc/xvm/<name>.cfg (DESIGN.md §3 xvm-start), read
// once here for xvm-start and for the policy: an ordinary xl.cfg(5) file,
// whose `name` equals the file's name, plus qmin's xvm_* keys. The policy
// takes the facts (type, tags, default user); xvm-start the rest. dom0 is
// the AdminVM and needs no file.
#ifndef QMIN_LIB_VM_FACTS_H_
#define QMIN_LIB_VM_FACTS_H_

#include <array>
#include <map>
#include <optional>
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

/// What xl will build, as xl reads `type` (and `builder`).
enum class DomainType { kPv, kPvh, kHvm };
/// What "up" means for xvm-start.
enum class WaitFor { kRunning, kHotplug, kQrx };

struct VifSpec {
  std::string backend;           ///< backend=NAME, or "" for dom0
  std::vector<std::string> ips;  ///< ip=, its space-separated addresses as written
};

struct VmDefinition {
  std::string name;
  std::string path;  ///< the file
  VmFacts facts;
  bool autostart = false;            ///< xvm_autostart
  std::vector<std::string> after;    ///< xvm_after
  WaitFor wait = WaitFor::kRunning;  ///< xvm_wait
  unsigned timeout = 60;             ///< xvm_timeout, seconds
  DomainType type = DomainType::kPv;
  std::vector<std::string> pci;
  std::string kernel;
  std::string ramdisk;
  std::vector<VifSpec> vifs;
  /// on_poweroff, on_reboot (xl's default: restart) or on_crash asks xl to
  /// restart the domain: it may go away and come back under a new domain ID.
  bool xl_restarts = true;
  /// Whether xl restarts it after a shutdown for each reason, by xl's
  /// reason code: 0 poweroff, 1 reboot, 2 suspend, 3 crash.
  std::array<bool, 4> restarts_after = {false, true, false, false};
  /// xvm_after, then each vif backend not named there: the VMs that must
  /// be up before this one is created.
  std::vector<std::string> Dependencies() const;
};

/// A pci= entry as the device it names: "0000:00:03.0" for "00:03.0",
/// "0000:00:03.0,permissive=1" or "0000:00:03.0@4"; lower case.
std::string PciDevice(const std::string& entry);

/// True for a usable VM name: [A-Za-z][A-Za-z0-9_.-]*, at most 31 characters
/// (Qubes' rule for qube names).
bool IsValidVmName(std::string_view name);

/// xl's reading of `type` (a prefix of hvm, pv or pvh; empty means hvm) and
/// of `builder` when there is no type; neither is PV on x86.
/// `type` is nullopt when the file has no type key.
Result<DomainType> ParseDomainType(const std::optional<std::string>& type,
                                   const std::string& builder);
std::string_view DomainTypeName(DomainType type);

/// Reads every DIR/*.cfg. All problems are collected (each "file: reason");
/// any problem means the definitions must not be trusted.
struct VmLoad {
  std::map<std::string, VmDefinition> vms;
  std::vector<std::string> errors;
  /// The VM each unreadable file was to define (by the file's name) -> its
  /// problem: a tool that goes on without it knows what it lacks.
  std::map<std::string, std::string> broken;
};
VmLoad LoadVmDefinitions(const std::string& dir);

/// The policy's view: the facts of every VM, dom0 included.
struct VmFactsLoad {
  VmTable vms;
  std::vector<std::string> errors;
};
VmFactsLoad LoadVmFacts(const std::string& dir);

}  // namespace qmin

#endif  // QMIN_LIB_VM_FACTS_H_
