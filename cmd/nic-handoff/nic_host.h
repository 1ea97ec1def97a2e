// The real sides of nic-handoff's seams: dom0's interfaces over rtnetlink,
// and the Xen side through xvm-start, xl and xenstore.
#ifndef QMIN_CMD_NIC_HOST_H_
#define QMIN_CMD_NIC_HOST_H_

#include <chrono>
#include <string>

#include "netlink.h"
#include "nic_handoff.h"

namespace qmin {

class NetlinkConfig : public NetConfig {
 public:
  explicit NetlinkConfig(Netlink netlink) : netlink_(std::move(netlink)) {}
  int Find(const std::string& name, const std::string& mac) override;
  Result<std::string> Mac(const std::string& name) override;
  Result<bool> IsUp(int ifindex) override;
  Status SetUp(int ifindex, bool up) override;
  Result<std::vector<InterfaceAddress>> Addresses(int ifindex) override;
  Result<std::vector<InterfaceRoute>> Routes(int ifindex) override;
  Status AddAddress(const InterfaceAddress& address, int ifindex) override;
  Status DeleteAddress(const InterfaceAddress& address, int ifindex) override;
  Status AddRoute(const InterfaceRoute& route, int ifindex) override;
  Status DeleteRoute(const InterfaceRoute& route, int ifindex) override;

 private:
  Netlink netlink_;
};

class XenNetVm : public NetVmControl {
 public:
  XenNetVm(std::string xvm_start, std::string vm_dir, std::string xl, std::chrono::seconds patience)
      : xvm_start_(std::move(xvm_start)),
        vm_dir_(std::move(vm_dir)),
        xl_(std::move(xl)),
        patience_(patience) {}
  Result<unsigned> Start(const std::string& name) override;
  Status Destroy(const std::string& name, unsigned domid) override;
  bool Alive(const std::string& name, unsigned domid) override;
  Result<Vif> AwaitVif(unsigned domid) override;
  Result<Vif> ReadVif(unsigned domid) override;
  unsigned DomainOf(const std::string& name) override;
  std::vector<std::string> Stranded() override;
  Status SetDriverPath(const std::string& bdf, const std::string& driver) override;
  Status ClearDriverPath(const std::string& bdf) override;
  Status Quarantine(const std::string& bdf) override;
  Status Unquarantine(const std::string& bdf) override;

 private:
  /// The net-vm's domains: the recorded ID, and the one xl finds by name
  /// (another, once xl has restarted it).
  std::vector<std::string> DomainIds(const std::string& name, unsigned domid);

  std::string xvm_start_;
  std::string vm_dir_;  ///< passed on to xvm-start
  std::string xl_;
  std::chrono::seconds patience_;
};

/// libxl's spelling of a device in xenstore: 0000:00:03.0 -> 0000-00-03-0.
std::string LibxlPciKey(const std::string& bdf);

}  // namespace qmin

#endif  // QMIN_CMD_NIC_HOST_H_
