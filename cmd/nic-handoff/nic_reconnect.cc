// reconnect: the net-vm came back as a new domain (xl restarts a VM that
// reboots, on_reboot = "restart"), and dom0's vif towards it is new. Its
// hotplug script (vif-route) asks nic-handoff to move dom0's addresses and
// default route onto it, so that a headless dom0 is reachable again with
// nobody typing anything. The VMs whose vifs the old net-vm backed lost
// their network; they are named.
#include <unistd.h>

#include <optional>

#include "domid.h"
#include "nic_handoff.h"
#include "text.h"

namespace qmin {
namespace {

// "vif7.0": the domain's ID, 7; nothing for any other name.
std::optional<unsigned> VifDomain(const std::string& vif) {
  const std::size_t dot = vif.find('.');
  if (vif.rfind("vif", 0) != 0 || dot == std::string::npos) return std::nullopt;
  if (!ParseUnsigned(std::string_view(vif).substr(dot + 1), 0xffff)) return std::nullopt;
  return ParseDomainId(std::string_view(vif).substr(3, dot - 3));
}

}  // namespace

std::string StrandedLine(const std::string& vm) {
  return vm + " lost its network (the domain behind its vif is gone): restart it, with " +
         "`xvm-start --stop " + vm + "` and `xvm-start " + vm + "`";
}

// Every outcome is logged (to syslog too, from a hotplug script), and
// comes back as the lines.
Result<std::vector<std::string>> Handoff::Reconnect() {
  const auto said = [this](const std::string& line) {
    log_.Info(line);
    return std::vector<std::string>{line};
  };
  const std::optional<unsigned> domid = VifDomain(options_.vif);
  if (!domid) return UsageError("reconnect " + options_.vif + ": not a vif's name (vifDOMID.N)");
  if (access(options_.state.c_str(), F_OK) != 0)
    return said("no handoff: " + options_.state + " does not exist");
  if (Status read = ReadState(); !read) return read.error();
  if (!HandedOver(record_))
    return said("no finished handoff in " + options_.state + ": nothing to do");
  if (xen_.DomainOf(record_.netvm) != *domid)
    return said(options_.vif + " is not " + record_.netvm + "'s");
  Result<NetVmControl::Vif> vif = xen_.ReadVif(*domid);
  if (!vif) return vif.error();
  if (vif->name != options_.vif)
    return said(options_.vif + " is not dom0's first vif towards " + record_.netvm);
  const unsigned was = record_.netvm_domid;
  record_.netvm_domid = *domid;
  record_.vif = vif->name;
  record_.gateway = vif->gateway.text;
  // Recorded first: a restore from here on undoes the new vif's addresses.
  if (Status saved = Save(); !saved) return saved.error();
  if (Status added = AddVifAddresses(); !added) return added.error();
  if (Status routed = Tolerant(AddDefaultRoute()); !routed) return routed.error();
  std::vector<std::string> lines =
      said("dom0 routes through " + record_.netvm + " (domain " + std::to_string(*domid) +
           ", was " + std::to_string(was) + ") over " + record_.vif + " via " + record_.gateway);
  for (const std::string& vm : xen_.Stranded()) {
    lines.push_back(StrandedLine(vm));
    log_.Warning(lines.back());
  }
  return lines;
}

}  // namespace qmin
