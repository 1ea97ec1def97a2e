// The steps of a handoff, each with its undo, found by name so that
// `restore` can undo what a state file says was done.
#include <cerrno>

#include "nic_handoff.h"

namespace qmin {
namespace {

// What a step that finds nothing to do again may ignore.
bool AlreadyDone(const Status& status) {
  const int err = status.error().errnum;
  return err == ESRCH || err == ENOENT || err == EADDRNOTAVAIL || err == EEXIST || err == ENODEV;
}

// The driver's directory below sysfs, from its /sys path.
std::string DriverDir(const std::string& driver) {
  return driver.substr(std::string("/sys/").size());
}

std::string Pciback(const std::string& file) { return std::string(kPcibackDir) + "/" + file; }

}  // namespace

Status Tolerant(Status status) { return !status && AlreadyDone(status) ? Status() : status; }

// A name outside kStepNames: neither done nor undone, and said so.
Handoff::Step Handoff::UnknownStep(const std::string& name) {
  const auto refuse = [name]() -> Status {
    return InvalidError("take step " + name, "no such step");
  };
  return {name, "unknown step " + name, refuse, refuse};
}

int Handoff::Interface() { return net_.Find(record_.iface, record_.mac); }

Handoff::Step Handoff::StepNamed(const std::string& name) {
  for (const char* link : {"down", "routes", "addresses", "vif-addresses", "default-route"})
    if (name == link) return LinkStep(name);
  return DeviceStep(name);
}

// The steps on dom0's network configuration.
Handoff::Step Handoff::LinkStep(const std::string& name) {
  const std::string& iface = record_.iface;
  if (name == "down")
    return {name, "ip link set " + iface + " down",
            [this] { return net_.SetUp(Interface(), false); },
            [this] { return record_.was_up ? net_.SetUp(Interface(), true) : Status(); }};
  if (name == "routes")
    return {name, "take " + iface + "'s routes away", [this] { return DeleteRoutes(); },
            [this] { return AddRoutes(); }};
  if (name == "addresses")
    return {name, "take " + iface + "'s addresses away", [this] { return DeleteAddresses(); },
            [this] { return AddAddresses(); }};
  if (name == "vif-addresses")
    return {name, "move " + iface + "'s addresses to the vif, as /32",
            [this] { return AddVifAddresses(); }, [this] { return DeleteVifAddresses(); }};
  if (name == "default-route")
    return {name, "route by default through " + record_.netvm, [this] { return AddDefaultRoute(); },
            [this] { return DeleteDefaultRoute(); }};
  return UnknownStep(name);
}

// The steps on the PCI device and on Xen.
Handoff::Step Handoff::DeviceStep(const std::string& name) {
  const std::string bdf = record_.bdf;
  const std::string device = "bus/pci/devices/" + bdf;
  const std::string driver = record_.driver;
  if (name == "unbind")
    return {name, "unbind " + bdf + " from " + driver,
            [this, bdf, driver] { return sysfs_.Write(DriverDir(driver) + "/unbind", bdf); },
            [this] { return Rebind(); }};
  if (name == "override")
    return {name, "echo pciback > /sys/" + device + "/driver_override",
            [this, device] { return sysfs_.Write(device + "/driver_override", "pciback"); },
            [this, device] { return sysfs_.Write(device + "/driver_override", "\n"); }};
  if (name == "slot")
    return {name, "add " + bdf + " to pciback's slots",
            [this, bdf] { return sysfs_.Write(Pciback("new_slot"), bdf); },
            [this] { return RemoveSlot(); }};
  if (name == "pciback")
    return {name, "bind " + bdf + " to pciback",
            [this, bdf] { return sysfs_.Write(Pciback("bind"), bdf); },
            [this] { return UnbindPciback(); }};
  if (name == "quarantine")
    return {name, "xl pci-assignable-add " + bdf + " (Xen quarantines it)",
            [this, bdf] { return xen_.Quarantine(bdf); },
            [this, bdf] { return xen_.Unquarantine(bdf); }};
  if (name == "reset")
    return {name, "reset " + bdf + " (a failure is only a warning, as in libxl)",
            [this] { return Reset(); }, nullptr};
  if (name == "driver-path")
    return {
        name, "record " + driver + " as libxl's driver_path of " + bdf,
        [this, bdf, driver] { return driver.empty() ? Status() : xen_.SetDriverPath(bdf, driver); },
        [this, bdf] { return Tolerant(xen_.ClearDriverPath(bdf)); }};
  if (name == "netvm")
    return {name, "xvm-start " + record_.netvm, [this] { return StartNetVm(); },
            [this] { return xen_.Destroy(record_.netvm, record_.netvm_domid); }};
  if (name == "vif")
    return {name, "wait for dom0's vif towards " + record_.netvm, [this] { return AwaitVif(); },
            nullptr};
  return UnknownStep(name);
}

namespace {

// Makes one change for each of `items` (the NIC's routes or addresses),
// letting be what is already so.
template <typename Item, typename Change>
Status EachTolerant(const std::vector<Item>& items, Change change) {
  for (const Item& item : items)
    if (Status status = Tolerant(change(item)); !status) return status;
  return {};
}

}  // namespace

Status Handoff::DeleteRoutes() {
  return EachTolerant(record_.routes,
                      [this](const InterfaceRoute& r) { return net_.DeleteRoute(r, Interface()); });
}

Status Handoff::AddRoutes() {
  return EachTolerant(record_.routes,
                      [this](const InterfaceRoute& r) { return net_.AddRoute(r, Interface()); });
}

Status Handoff::DeleteAddresses() {
  return EachTolerant(record_.addresses, [this](const InterfaceAddress& a) {
    return net_.DeleteAddress(a, Interface());
  });
}

Status Handoff::AddAddresses() {
  return EachTolerant(record_.addresses, [this](const InterfaceAddress& a) {
    return net_.AddAddress(a, Interface());
  });
}

Status Handoff::AddVifAddresses() {
  const int vif = net_.Find(record_.vif, "");
  return EachTolerant(record_.addresses, [&](InterfaceAddress address) {
    address.prefix = address.address.host_prefix();
    return net_.AddAddress(address, vif);
  });
}

Status Handoff::DeleteVifAddresses() {
  const int vif = net_.Find(record_.vif, "");
  if (vif == 0) return {};
  for (InterfaceAddress address : record_.addresses) {
    address.prefix = address.address.host_prefix();
    if (Status status = Tolerant(net_.DeleteAddress(address, vif)); !status) return status;
  }
  return {};
}

Status Handoff::AddDefaultRoute() {
  Result<IpAddress> gateway = ParseHostAddress(record_.gateway);
  if (!gateway) return gateway.error();
  const InterfaceRoute route{IpAddress{gateway->family, {}, ""}, 0, *gateway, true};
  return net_.AddRoute(route, net_.Find(record_.vif, ""));
}

Status Handoff::DeleteDefaultRoute() {
  Result<IpAddress> gateway = ParseHostAddress(record_.gateway);
  const int vif = net_.Find(record_.vif, "");
  if (!gateway || vif == 0) return {};
  const InterfaceRoute route{IpAddress{gateway->family, {}, ""}, 0, *gateway, true};
  return Tolerant(net_.DeleteRoute(route, vif));
}

// The NIC back to its driver. The kernel refuses to bind a device that has
// a driver: one that has its own already (the unbind never happened) is
// let be.
Status Handoff::Rebind() {
  Status bound = sysfs_.Write(DriverDir(record_.driver) + "/bind", record_.bdf);
  if (bound) return {};
  Result<std::string> now = sysfs_.Resolve("bus/pci/devices/" + record_.bdf + "/driver");
  return now && *now == record_.driver ? Status() : bound;
}

// `xl pci-assignable-remove` unbinds the device itself: what is not bound
// to pciback any more is let be.
Status Handoff::UnbindPciback() {
  Result<std::string> driver = sysfs_.Resolve("bus/pci/devices/" + record_.bdf + "/driver");
  if (!driver || *driver != "/sys/" + std::string(kPcibackDir)) return {};
  return sysfs_.Write(Pciback("unbind"), record_.bdf);
}

// Likewise its slot, which libxl removes too.
Status Handoff::RemoveSlot() {
  Result<std::string> slots = sysfs_.Read(Pciback("slots"));
  if (slots && slots->find(record_.bdf) == std::string::npos) return {};
  return sysfs_.Write(Pciback("remove_slot"), record_.bdf);
}

// libxl resets a device it assigns and only warns when that fails; so do we.
Status Handoff::Reset() {
  const std::string& bdf = record_.bdf;
  const std::string device = "bus/pci/devices/" + bdf;
  const bool flr = sysfs_.Exists(Pciback("do_flr"));
  if (!flr && !sysfs_.Exists(device + "/reset")) {
    log_.Warning(bdf + " has no function-level reset; going on, as libxl does");
    return {};
  }
  Status reset = flr ? sysfs_.Write(Pciback("do_flr"), bdf) : sysfs_.Write(device + "/reset", "1");
  if (!reset)
    log_.Warning("the reset of " + bdf + " failed (" + reset.error().reason +
                 "); going on, as libxl does");
  return {};
}

Status Handoff::StartNetVm() {
  Result<unsigned> domid = xen_.Start(record_.netvm);
  if (!domid) return domid.error();
  record_.netvm_domid = *domid;
  return {};
}

Status Handoff::AwaitVif() {
  Result<NetVmControl::Vif> vif = xen_.AwaitVif(record_.netvm_domid);
  if (!vif) return vif.error();
  record_.vif = vif->name;
  record_.gateway = vif->gateway.text;
  return {};
}

}  // namespace qmin
