// nic-handoff: gives dom0's physical NIC to the network VM as one
// transaction, and always leaves dom0 reachable. The steps, each with its
// undo, are recorded in a state file as they are taken, so that a failure
// at any step (or a crash, with `restore`) undoes exactly what was done, in
// reverse: the kernel's and libxl's sysfs sequence for pciback, the net-vm
// started by xvm-start, and dom0's addresses moved onto its vif towards the
// net-vm with a default route through it.
#ifndef QMIN_CMD_NIC_HANDOFF_H_
#define QMIN_CMD_NIC_HANDOFF_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"
#include "log.h"
#include "netlink.h"
#include "sysfs.h"

namespace qmin {

/// What the state file keeps: the NIC as it was, and the steps taken.
struct NicRecord {
  std::string iface;
  std::string mac;
  std::string bdf;     ///< "0000:00:03.0"
  std::string driver;  ///< its driver's /sys path, "" when it had none
  bool was_up = false;
  std::vector<InterfaceAddress> addresses;
  std::vector<InterfaceRoute> routes;
  std::string netvm;
  unsigned netvm_domid = 0;
  std::string vif;                ///< dom0's vif towards the net-vm, once known
  std::string gateway;            ///< the net-vm's address on that vif
  std::vector<std::string> done;  ///< the steps taken, in order
};

/// Every step a handoff may take, by the name its state file records. The set
/// is closed: a state file naming any other step is refused when it is read,
/// so a typo is never "restored" by doing nothing.
inline constexpr std::string_view kStepNames[] = {
    "routes", "addresses", "down",          "unbind",       "override",
    "slot",   "pciback",   "quarantine",    "reset",        "driver-path",
    "netvm",  "vif",       "vif-addresses", "default-route"};
bool IsStepName(std::string_view name);

/// An error that says the change is so already (EEXIST, ENOENT, ...)
/// counts as the change made: steps and undos may run twice.
Status Tolerant(Status status);

/// What status and reconnect say of a VM whose network went with its
/// backend domain.
std::string StrandedLine(const std::string& vm);

std::string FormatRecord(const NicRecord& record);
Result<NicRecord> ParseRecord(std::string_view text, const std::string& source);
/// Whether the record says `step` was taken.
bool Took(const NicRecord& record, std::string_view step);
/// A finished handoff: its last step, dom0's default route, is taken.
inline bool HandedOver(const NicRecord& record) {
  return !record.done.empty() && record.done.back() == "default-route";
}

/// dom0's interfaces, as the handoff changes them (netlink, or a double).
class NetConfig {
 public:
  virtual ~NetConfig() = default;
  /// The interface with this MAC (preferring this name), or 0.
  virtual int Find(const std::string& name, const std::string& mac) = 0;
  virtual Result<std::string> Mac(const std::string& name) = 0;
  virtual Result<bool> IsUp(int ifindex) = 0;
  virtual Status SetUp(int ifindex, bool up) = 0;
  virtual Result<std::vector<InterfaceAddress>> Addresses(int ifindex) = 0;
  virtual Result<std::vector<InterfaceRoute>> Routes(int ifindex) = 0;
  virtual Status AddAddress(const InterfaceAddress& address, int ifindex) = 0;
  virtual Status DeleteAddress(const InterfaceAddress& address, int ifindex) = 0;
  virtual Status AddRoute(const InterfaceRoute& route, int ifindex) = 0;
  virtual Status DeleteRoute(const InterfaceRoute& route, int ifindex) = 0;
};

/// The Xen side: the net-vm, dom0's vif towards it, libxl's bookkeeping.
class NetVmControl {
 public:
  virtual ~NetVmControl() = default;
  /// Starts the net-vm (xvm-start); its domain ID.
  virtual Result<unsigned> Start(const std::string& name) = 0;
  /// Destroys the domain `domid` (when 0, the one called `name`); succeeds
  /// only once Xen has no such domain.
  virtual Status Destroy(const std::string& name, unsigned domid) = 0;
  /// Whether Xen has the domain `domid` (or, when 0, one called `name`).
  virtual bool Alive(const std::string& name, unsigned domid) = 0;
  /// Waits until dom0's first vif towards `domid` is connected; its name
  /// ("vif3.0") and the net-vm's address on it.
  struct Vif {
    std::string name;
    IpAddress gateway;
  };
  virtual Result<Vif> AwaitVif(unsigned domid) = 0;
  /// The same vif as it is now, connected or not: its hotplug script asks
  /// while the new domain still waits for that script to end.
  virtual Result<Vif> ReadVif(unsigned domid) = 0;
  /// The domain called `name` now (`xl domid`), or 0 when Xen has none.
  virtual unsigned DomainOf(const std::string& name) = 0;
  /// The VMs with a vif whose backend domain is gone: their network went
  /// with it.
  virtual std::vector<std::string> Stranded() = 0;
  /// libxl's /libxl/pci/<dddd-bb-dd-f>/driver_path, so that
  /// `xl pci-assignable-remove -r` can give the device back too.
  virtual Status SetDriverPath(const std::string& bdf, const std::string& driver) = 0;
  virtual Status ClearDriverPath(const std::string& bdf) = 0;
  /// `xl pci-assignable-add`: with the device on pciback already, libxl only
  /// quarantines it (hands its IOMMU context from dom0 to Xen's quarantine).
  virtual Status Quarantine(const std::string& bdf) = 0;
  /// `xl pci-assignable-remove`: out of quarantine, back in dom0's IOMMU
  /// context (where a destroyed domain leaves it, too), then libxl unbinds it
  /// from pciback and removes its slot itself.
  virtual Status Unquarantine(const std::string& bdf) = 0;
};

/// Before anything changes: NETVM is defined in `vm_dir`, PV, its pci= names
/// the NIC at `bdf`, and no other definition names it (exit 100 otherwise).
Status CheckNetVm(const std::string& vm_dir, const std::string& netvm, const std::string& bdf);

struct HandoffOptions {
  std::string state = "/run/nic-handoff.state";
  std::string iface;
  std::string netvm;
  std::string vif;  ///< reconnect: the vif whose hotplug ran
  bool dry_run = false;
  /// The VM definitions that CheckNetVm reads; "" checks nothing (the
  /// unit tests' doubles have no definitions).
  std::string vm_dir;
  /// A signal (SIGINT, SIGTERM, SIGHUP) that arrived while they were held
  /// for the transaction, or 0; null: never interrupted.
  std::function<int()> interrupted;
};

/// pciback's directory below /sys.
inline constexpr char kPcibackDir[] = "bus/pci/drivers/pciback";

enum class HandoffCommand { kHandoff, kRelease, kAdopt, kRestore, kStatus, kReconnect };

class Handoff {
 public:
  Handoff(Sysfs& sysfs, NetConfig& net, NetVmControl& xen, Log& log, HandoffOptions options)
      : sysfs_(sysfs), net_(net), xen_(xen), log_(log), options_(std::move(options)) {}

  /// Runs one command; its lines (a plan for -n, or status) come back.
  /// A failure has undone what was done, and says what failed.
  Result<std::vector<std::string>> Run(HandoffCommand command);

 private:
  struct Step {
    std::string name;
    std::string description;
    std::function<Status()> apply;
    std::function<Status()> undo;  ///< null when there is nothing to undo
  };
  Result<NicRecord> Record();
  std::vector<Step> ReleaseSteps();
  std::vector<Step> AdoptSteps();
  Step StepNamed(const std::string& name);
  Step LinkStep(const std::string& name);
  Step DeviceStep(const std::string& name);
  static Step UnknownStep(const std::string& name);
  Status DeleteRoutes();
  Status AddRoutes();
  Status DeleteAddresses();
  Status AddAddresses();
  Status AddVifAddresses();
  Status DeleteVifAddresses();
  Status AddDefaultRoute();
  Status DeleteDefaultRoute();
  Status Reset();
  Status UnbindPciback();
  Status Rebind();
  Status RemoveSlot();
  Status StartNetVm();
  Status AwaitVif();
  Status Take(const std::vector<Step>& steps);
  Status Interrupted() const;
  Status CheckTarget(HandoffCommand command) const;
  Status RollBack(Error error);
  Status Undo(const std::vector<std::string>& names, std::string& restored);
  Status Save();
  int Interface();
  Result<std::vector<std::string>> Describe();
  Result<std::vector<std::string>> Reconnect();
  Status ReadState();
  Result<std::vector<std::string>> RunLocked(HandoffCommand command);

  Sysfs& sysfs_;
  NetConfig& net_;
  NetVmControl& xen_;
  Log& log_;
  HandoffOptions options_;
  NicRecord record_;
};

}  // namespace qmin

#endif  // QMIN_CMD_NIC_HANDOFF_H_
