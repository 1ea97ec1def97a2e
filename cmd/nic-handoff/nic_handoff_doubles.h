// Test doubles for nic-handoff's transaction: in-memory models of the PCI
// driver core (bind, unbind, slots, new_slot/remove_slot, driver_override,
// the driver link), of dom0's interfaces and of the Xen side, each of which
// can be made to fail at its Nth call. Only nic_handoff_test.cc includes it.
#ifndef QMIN_CMD_NIC_HANDOFF_DOUBLES_H_
#define QMIN_CMD_NIC_HANDOFF_DOUBLES_H_

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "nic_handoff.h"

namespace qmin {

inline constexpr char kBdf[] = "0000:00:03.0";

inline Status Fault(const std::string& what) { return SystemError(what, EIO); }

// Counts calls and fails the chosen ones once: faults at any step.
struct Faults {
  int calls = 0;
  std::set<int> fail;
  bool Hit() { return fail.erase(++calls) != 0; }
};

struct PciModel {
  std::map<std::string, std::string> driver{{kBdf, "e1000"}};
  std::map<std::string, std::string> override_;
  std::set<std::string> slots;
  bool operator==(const PciModel&) const = default;
};

class FakeSysfs : public Sysfs {
 public:
  PciModel model;
  Faults faults;

  Result<std::string> Read(const std::string& path) override {
    if (path == "bus/pci/drivers/pciback/slots") {
      std::string text;
      for (const std::string& slot : model.slots) text += slot + "\n";
      return text;
    }
    return SystemError("read " + path, ENOENT);
  }

  std::vector<std::string> written;  ///< every path written, faults included

  Status Write(const std::string& path, const std::string& value) override {
    written.push_back(path);
    if (faults.Hit()) return Fault("write " + path);
    const std::string prefix = "bus/pci/drivers/";
    if (path.rfind(prefix, 0) == 0) {
      const std::string rest = path.substr(prefix.size());
      const std::string driver = rest.substr(0, rest.find('/'));
      const std::string file = rest.substr(rest.find('/') + 1);
      return Driver(driver, file, value);
    }
    if (path == std::string("bus/pci/devices/") + kBdf + "/driver_override") {
      if (value == "\n" || value.empty())
        model.override_.erase(kBdf);
      else
        model.override_[kBdf] = value;
      return {};
    }
    return SystemError("write " + path, EINVAL);
  }

  Result<std::string> Resolve(const std::string& path) override {
    if (path == "class/net/eth0/device") return std::string("/sys/devices/pci0000:00/") + kBdf;
    if (path == std::string("bus/pci/devices/") + kBdf + "/driver") {
      const std::string& driver = model.driver[kBdf];
      if (driver.empty()) return SystemError("resolve " + path, ENOENT);
      return "/sys/bus/pci/drivers/" + driver;
    }
    return SystemError("resolve " + path, ENOENT);
  }

  bool Exists(const std::string& path) override {
    return path == "bus/pci/drivers/pciback" ||
           path == std::string("bus/pci/devices/") + kBdf + "/driver_override" ||
           path == std::string("bus/pci/devices/") + kBdf + "/reset";
  }

 private:
  // The kernel's rules: bind needs an unbound device the driver may take
  // (driver_override, or pciback's slots); unbind needs the device bound there.
  Status Driver(const std::string& driver, const std::string& file, const std::string& value) {
    if (file == "new_slot")
      return model.slots.insert(value).second ? Status() : Fault("new_slot twice");
    if (file == "remove_slot")
      return model.slots.erase(value) ? Status() : SystemError("remove_slot", ENOENT);
    if (file == "unbind") {
      if (model.driver[value] != driver) return SystemError("unbind", ENODEV);
      model.driver[value].clear();
      return {};
    }
    if (file == "bind") {
      const auto forced = model.override_.find(value);
      if (!model.driver[value].empty()) return SystemError("bind", EBUSY);
      if (forced != model.override_.end() && forced->second != driver)
        return SystemError("bind", ENODEV);
      if (driver == "pciback" && forced == model.override_.end() && model.slots.count(value) == 0)
        return SystemError("bind", ENODEV);
      model.driver[value] = driver;
      return {};
    }
    if (file == "reset") return {};
    return SystemError("write " + file, EINVAL);
  }
};

struct Link {
  std::string name;
  std::string mac;
  bool up = true;
  std::vector<InterfaceAddress> addresses;
  std::vector<InterfaceRoute> routes;
  bool operator==(const Link&) const = default;
};

inline InterfaceAddress Address(const std::string& text) { return *ParseInterfaceAddress(text); }
inline InterfaceRoute Route(const std::string& text) { return *ParseRoute(text); }

class FakeNet : public NetConfig {
 public:
  std::map<int, Link> links{{2,
                             {"eth0",
                              "52:54:00:12:34:56",
                              true,
                              {Address("10.0.2.15/24")},
                              {Route("10.9.0.0/16 via 10.0.2.1"), Route("default via 10.0.2.2")}}}};
  Faults faults;

  int Find(const std::string& name, const std::string& mac) override {
    for (const auto& [index, link] : links)
      if (link.name == name || (!mac.empty() && link.mac == mac)) return index;
    return 0;
  }
  Result<std::string> Mac(const std::string& name) override { return links[Find(name, "")].mac; }
  Result<bool> IsUp(int index) override { return links[index].up; }
  Status SetUp(int index, bool up) override {
    return Change([&] { links.at(index).up = up; });
  }
  Result<std::vector<InterfaceAddress>> Addresses(int index) override {
    return links[index].addresses;
  }
  Result<std::vector<InterfaceRoute>> Routes(int index) override { return links[index].routes; }
  Status AddAddress(const InterfaceAddress& a, int index) override {
    return Add(links.at(index).addresses, a);
  }
  Status DeleteAddress(const InterfaceAddress& a, int index) override {
    return Delete(links.at(index).addresses, a);
  }
  Status AddRoute(const InterfaceRoute& r, int index) override {
    return Add(links.at(index).routes, r);
  }
  Status DeleteRoute(const InterfaceRoute& r, int index) override {
    return Delete(links.at(index).routes, r);
  }

 private:
  template <typename Action>
  Status Change(Action action) {
    if (faults.Hit()) return Fault("netlink");
    action();
    return {};
  }
  // The kernel keeps no order that matters: lists stay sorted, to compare.
  static std::string Key(const InterfaceAddress& address) { return FormatAddress(address); }
  static std::string Key(const InterfaceRoute& route) { return FormatRoute(route); }
  template <typename T>
  Status Add(std::vector<T>& list, const T& item) {
    return Change([&] {
      if (std::find(list.begin(), list.end(), item) != list.end()) return;
      list.push_back(item);
      std::sort(list.begin(), list.end(), [](const T& a, const T& b) { return Key(a) < Key(b); });
    });
  }
  template <typename T>
  Status Delete(std::vector<T>& list, const T& item) {
    if (std::find(list.begin(), list.end(), item) == list.end())
      return SystemError("delete", ESRCH);
    return Change([&] { list.erase(std::find(list.begin(), list.end(), item)); });
  }
};

class FakeXen : public NetVmControl {
 public:
  FakeXen(FakeNet& net, FakeSysfs& sysfs) : net_(net), sysfs_(sysfs) {}
  std::set<std::string> running;
  std::map<std::string, std::string> driver_paths;
  std::set<std::string> quarantined;
  Faults faults;

  std::function<void()> on_start;  ///< runs as xvm-start would: a crash may come now

  Result<unsigned> Start(const std::string& name) override {
    if (on_start) on_start();
    if (faults.Hit()) return Fault("start " + name).error();
    running.insert(name);
    net_.links[7] = Link{"vif7.0", "fe:ff:ff:ff:ff:ff", true, {}, {}};
    return 7U;
  }
  bool Alive(const std::string& name, unsigned) override { return running.count(name) != 0; }
  Status Destroy(const std::string& name, unsigned) override {
    if (faults.Hit()) return Fault("destroy " + name);
    running.erase(name);
    net_.links.erase(static_cast<int>(domid));
    return {};
  }
  Result<Vif> AwaitVif(unsigned) override {
    if (faults.Hit()) return Fault("await the vif").error();
    return Vif{"vif7.0", *ParseHostAddress("10.137.0.1")};
  }
  Result<Vif> ReadVif(unsigned id) override {
    if (!net_.links.count(static_cast<int>(id))) return SystemError("find the vif", ENODEV);
    return Vif{"vif" + std::to_string(id) + ".0", *ParseHostAddress("10.137.0.1")};
  }
  unsigned DomainOf(const std::string& name) override { return running.count(name) ? domid : 0; }
  std::vector<std::string> Stranded() override { return stranded; }
  /// xl restarts the net-vm as domain `id`: the old vif goes, a new one
  /// comes (bare, as the kernel makes it).
  void Recreate(unsigned id) {
    net_.links.erase(static_cast<int>(domid));
    domid = id;
    net_.links[static_cast<int>(id)] =
        Link{"vif" + std::to_string(id) + ".0", "fe:ff:ff:ff:ff:ff", true, {}, {}};
  }
  unsigned domid = 7;
  std::vector<std::string> stranded;
  Status SetDriverPath(const std::string& bdf, const std::string& driver) override {
    if (faults.Hit()) return Fault("driver_path");
    driver_paths[bdf] = driver;
    return {};
  }
  Status ClearDriverPath(const std::string& bdf) override {
    if (faults.Hit()) return Fault("driver_path");
    driver_paths.erase(bdf);
    return {};
  }
  // libxl's rules: only a device on pciback can be quarantined; taking it
  // out of quarantine also unbinds it from pciback and removes its slot.
  Status Quarantine(const std::string& bdf) override {
    if (faults.Hit()) return Fault("quarantine");
    if (sysfs_.model.driver[bdf] != "pciback") return SystemError("quarantine", ENODEV);
    quarantined.insert(bdf);
    return {};
  }
  // As XenNetVm does: a device not in xl's assignable list was never
  // quarantined, and there is nothing to undo.
  Status Unquarantine(const std::string& bdf) override {
    if (faults.Hit()) return Fault("de-quarantine");
    if (quarantined.erase(bdf) == 0) return {};
    if (sysfs_.model.driver[bdf] == "pciback") sysfs_.model.driver[bdf].clear();
    sysfs_.model.slots.erase(bdf);
    return {};
  }

 private:
  FakeNet& net_;
  FakeSysfs& sysfs_;
};

}  // namespace qmin

#endif  // QMIN_CMD_NIC_HANDOFF_DOUBLES_H_
