// What is checked before a handoff changes anything: that NETVM is a VM
// that can take this NIC. A typo that named another VM with a passed-through
// device (the sa-vm and its USB controller) would otherwise hand that device
// over and leave the host off the network.
#include <algorithm>

#include "nic_handoff.h"
#include "text.h"
#include "vm_facts.h"

namespace qmin {

Status CheckNetVm(const std::string& vm_dir, const std::string& netvm, const std::string& bdf) {
  const auto refuse = [&](const std::string& why) {
    return InvalidError("hand " + bdf + " to " + QuoteForMessage(netvm), why);
  };
  if (!IsValidVmName(netvm) || netvm == kAdminVmName) return refuse("that is no VM name");
  const VmLoad load = LoadVmDefinitions(vm_dir);
  const auto vm = load.vms.find(netvm);
  if (vm == load.vms.end()) {
    const auto broken = load.broken.find(netvm);
    return refuse(broken != load.broken.end() ? broken->second
                                              : "no definition " + vm_dir + "/" + netvm + ".cfg");
  }
  if (vm->second.type != DomainType::kPv)
    return refuse("its type is " + std::string(DomainTypeName(vm->second.type)) +
                  "; PCI passthrough needs type = \"pv\"");
  const auto holds = [&](const VmDefinition& definition) {
    return std::any_of(definition.pci.begin(), definition.pci.end(),
                       [&](const std::string& entry) { return PciDevice(entry) == bdf; });
  };
  if (!holds(vm->second)) return refuse("its pci= does not name " + bdf);
  for (const auto& [name, other] : load.vms)
    if (name != netvm && holds(other)) return refuse(name + "'s pci= names " + bdf + " too");
  return {};
}

}  // namespace qmin
