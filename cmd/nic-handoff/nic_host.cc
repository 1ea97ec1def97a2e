#include "nic_host.h"

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "domid.h"
#include "ipaddr.h"
#include "process.h"
#include "text.h"
#include "xen_host.h"
#include "xenstore.h"
#include "xenstore_watcher.h"

namespace qmin {
namespace {

// One ioctl on an interface, through a throwaway socket.
bool InterfaceRequest(unsigned long request, ifreq& info) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool ok = ioctl(fd, request, &info) == 0;
  close(fd);
  return ok;
}

std::string MacOf(const std::string& name) {
  ifreq info{};
  if (name.size() >= sizeof info.ifr_name) return "";
  std::memcpy(info.ifr_name, name.c_str(), name.size() + 1);
  if (!InterfaceRequest(SIOCGIFHWADDR, info)) return "";
  std::array<std::uint8_t, 6> mac{};
  std::memcpy(mac.data(), info.ifr_hwaddr.sa_data, mac.size());
  return FormatMac(mac);
}

// What one xl command that only asks Xen may take; xvm-start bounds itself
// (each VM's xvm_timeout), and gets the backstop only.
constexpr std::chrono::seconds kXlLimit{60};
constexpr std::chrono::seconds kXvmStartLimit{3600};

// Runs a program to its end, within `limit`; what it printed on standard
// output. `quiet`: what it says on standard error is not shown (an expected
// "no").
Result<std::string> RunWaiting(const std::vector<std::string>& argv,
                               std::chrono::seconds limit = kXlLimit, bool quiet = false) {
  const int errors = quiet ? open("/dev/null", O_WRONLY | O_CLOEXEC) : 2;
  SpawnOptions options;
  options.argv = argv;
  options.fds = {-1, -1, errors};
  Result<Finished> finished = RunBounded(options, limit);
  if (quiet && errors >= 0) close(errors);
  if (!finished) return finished.error();
  if (finished->killed)
    return Error{ExitCode::kTemporary, "run " + argv[0] + " " + argv.back(),
                 "killed: it had not ended within " + std::to_string(limit.count()) + " s",
                 ETIMEDOUT};
  if (finished->status != 0)
    return Error{ExitCode::kTemporary, "run " + argv[0] + " " + argv.back(),
                 "it exited " + std::to_string(finished->status), 0};
  return finished->printed;
}

// Whether Xen has domain `id`: `xl list ID` asks the hypervisor. Unknown (xl
// cannot run, or hangs) says it is there, so that nothing is taken from it.
bool XenHasDomain(const std::string& xl, const std::string& id) {
  Result<std::string> listed = RunWaiting({xl, "list", id}, kXlLimit, true);
  return listed || listed.error().errnum != 0;
}

}  // namespace

std::string LibxlPciKey(const std::string& bdf) {
  std::string key = bdf;
  std::replace(key.begin(), key.end(), ':', '-');
  std::replace(key.begin(), key.end(), '.', '-');
  return key;
}

int NetlinkConfig::Find(const std::string& name, const std::string& mac) {
  const int named = InterfaceIndex(name);
  if (named != 0 && (mac.empty() || MacOf(name) == mac)) return named;
  if (mac.empty()) return 0;
  // The NIC may be back under another name after its driver took it again.
  struct if_nameindex* all = if_nameindex();
  int found = 0;
  for (const struct if_nameindex* entry = all; entry != nullptr && entry->if_index != 0; ++entry)
    if (MacOf(entry->if_name) == mac) found = static_cast<int>(entry->if_index);
  if (all != nullptr) if_freenameindex(all);
  return found;
}

Result<std::string> NetlinkConfig::Mac(const std::string& name) {
  const std::string mac = MacOf(name);
  if (mac.empty()) return SystemError("read the MAC of " + name, errno != 0 ? errno : ENODEV);
  return mac;
}

Result<bool> NetlinkConfig::IsUp(int ifindex) {
  ifreq info{};
  if (if_indextoname(static_cast<unsigned>(ifindex), info.ifr_name) == nullptr ||
      !InterfaceRequest(SIOCGIFFLAGS, info))
    return SystemError("read interface " + std::to_string(ifindex), errno);
  return (info.ifr_flags & IFF_UP) != 0;
}

Status NetlinkConfig::SetUp(int ifindex, bool up) {
  return up ? netlink_.SetLinkUp(ifindex) : netlink_.SetLinkDown(ifindex);
}
Result<std::vector<InterfaceAddress>> NetlinkConfig::Addresses(int ifindex) {
  return netlink_.Addresses(ifindex);
}
Result<std::vector<InterfaceRoute>> NetlinkConfig::Routes(int ifindex) {
  return netlink_.Routes(ifindex);
}
Status NetlinkConfig::AddAddress(const InterfaceAddress& address, int ifindex) {
  return netlink_.AddAddress(address, ifindex);
}
Status NetlinkConfig::DeleteAddress(const InterfaceAddress& address, int ifindex) {
  return netlink_.DeleteAddress(address, ifindex);
}
Status NetlinkConfig::AddRoute(const InterfaceRoute& route, int ifindex) {
  return netlink_.AddRoute(route, ifindex);
}
Status NetlinkConfig::DeleteRoute(const InterfaceRoute& route, int ifindex) {
  return netlink_.DeleteRoute(route, ifindex);
}

Result<unsigned> XenNetVm::Start(const std::string& name) {
  Result<std::string> printed = RunWaiting({xvm_start_, "--vm-dir", vm_dir_, name}, kXvmStartLimit);
  if (!printed) return printed.error();
  for (std::string_view line : Split(*printed, '\n')) {
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos || line.substr(0, space) != name) continue;
    if (const auto domid = ParseDomainId(line.substr(space + 1))) return *domid;
  }
  return InvalidError("start " + name, xvm_start_ + " did not say its domain ID");
}

// Xen, not xenstore, says whether the domain is gone: libxl drops a domain's
// xenstore entries before Xen lets go of it, and of the NIC it holds. The
// net-vm is looked for by name too (`xl domid`): recorded under one ID, it
// may run under another since (xl restarts a VM that reboots), or have got
// no ID on record at all (killed while xvm-start ran).
std::vector<std::string> XenNetVm::DomainIds(const std::string& name, unsigned domid) {
  std::vector<std::string> ids;
  if (domid != 0) ids.push_back(std::to_string(domid));
  if (const unsigned named = DomainOf(name); named != 0 && named != domid)
    ids.push_back(std::to_string(named));
  return ids;
}

Status XenNetVm::Destroy(const std::string& name, unsigned domid) {
  for (const std::string& id : DomainIds(name, domid)) {
    if (!XenHasDomain(xl_, id)) continue;  // gone already
    Result<std::string> destroyed = RunWaiting({xl_, "destroy", id});
    if (XenHasDomain(xl_, id))
      return Error{
          ExitCode::kTemporary, "destroy " + name + " (domain " + id + ")",
          "Xen still has it" + (destroyed ? std::string() : ": " + destroyed.error().reason),
          EBUSY};
  }
  return {};
}

bool XenNetVm::Alive(const std::string& name, unsigned domid) {
  const std::vector<std::string> ids = DomainIds(name, domid);
  return std::any_of(ids.begin(), ids.end(),
                     [this](const std::string& id) { return XenHasDomain(xl_, id); });
}

namespace {

// dom0's first vif towards `domid`: its devid, or "" while it has none.
std::string FirstVif(Xenstore& xs, unsigned domid) {
  Result<std::vector<std::string>> devids =
      xs.Directory("/local/domain/0/backend/vif/" + std::to_string(domid));
  if (!devids || devids->empty()) return "";
  return *std::min_element(devids->begin(), devids->end());
}

// That vif's name and the net-vm's address on it (its ip key).
Result<NetVmControl::Vif> VifAt(Xenstore& xs, unsigned domid, const std::string& devid) {
  const std::string path =
      "/local/domain/0/backend/vif/" + std::to_string(domid) + "/" + devid + "/ip";
  Result<std::string> ip = xs.Read(path);
  Result<std::vector<IpAddress>> addresses =
      ip ? ParseAddressList(*ip) : Result<std::vector<IpAddress>>(ip.error());
  if (!addresses || addresses->empty())
    return InvalidError("route through domain " + std::to_string(domid), "its vif has no ip");
  return NetVmControl::Vif{"vif" + std::to_string(domid) + "." + devid, addresses->front()};
}

}  // namespace

// dom0's first vif towards `domid`, once its hotplug says it is connected.
Result<NetVmControl::Vif> XenNetVm::AwaitVif(unsigned domid) {
  Result<Xenstore> xs = Xenstore::Open();
  if (!xs) return xs.error();
  Result<XenstoreWatcher> watcher = XenstoreWatcher::Open();
  if (!watcher) return watcher.error();
  const std::string dir = "/local/domain/0/backend/vif/" + std::to_string(domid);
  if (Status watched = watcher->Watch(dir, "vif"); !watched) return watched.error();
  const auto deadline = std::chrono::steady_clock::now() + patience_;
  for (;;) {
    if (const std::string devid = FirstVif(*xs, domid); !devid.empty()) {
      const VifStatus status = ReadVifStatus(*xs, dir + "/" + devid);
      if (status.state == VifStatus::State::kFailed)
        return Error{ExitCode::kTemporary,
                     "connect dom0's vif towards domain " + std::to_string(domid),
                     "its hotplug failed: " + QuoteForMessage(status.error), EIO};
      if (status.state == VifStatus::State::kConnected) return VifAt(*xs, domid, devid);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return SystemError("wait for dom0's vif towards domain " + std::to_string(domid), ETIMEDOUT);
    pollfd ready{watcher->fd(), POLLIN, 0};
    poll(&ready, 1, static_cast<int>(left.count()));
    if (Result<XenstoreWatcher::Drained> drained = watcher->Drain(); !drained)
      return drained.error();
  }
}

Result<NetVmControl::Vif> XenNetVm::ReadVif(unsigned domid) {
  Result<Xenstore> xs = Xenstore::Open();
  if (!xs) return xs.error();
  const std::string devid = FirstVif(*xs, domid);
  if (devid.empty())
    return SystemError("find dom0's vif towards domain " + std::to_string(domid), ENODEV);
  return VifAt(*xs, domid, devid);
}

unsigned XenNetVm::DomainOf(const std::string& name) {
  Result<std::string> named = RunWaiting({xl_, "domid", name}, kXlLimit, true);
  const auto id = named ? ParseDomainId(Trimmed(*named)) : std::nullopt;
  return id ? *id : 0;
}

// A guest may write below its own device/vif: what it says there can only
// list it here, or not, and its name is printed only when it is a name.
std::vector<std::string> XenNetVm::Stranded() {
  constexpr std::size_t kVifsLooked = 16;
  Result<Xenstore> xs = Xenstore::Open();
  Result<std::vector<std::string>> domains =
      xs ? xs->Directory("/local/domain") : Result<std::vector<std::string>>(xs.error());
  if (!domains) return {};
  const std::set<std::string> alive(domains->begin(), domains->end());
  std::vector<std::string> stranded;
  for (const std::string& id : *domains) {
    if (id == "0" || !ParseDomainId(id)) continue;
    const std::string vifs = "/local/domain/" + id + "/device/vif";
    Result<std::vector<std::string>> devids = xs->Directory(vifs);
    if (!devids) continue;
    const std::size_t looked = std::min(devids->size(), kVifsLooked);
    const bool lost = std::any_of(devids->begin(), devids->begin() + looked, [&](auto& devid) {
      Result<std::string> backend = xs->Read(vifs + "/" + devid + "/backend-id");
      const auto backend_id = backend ? ParseDomainId(Trimmed(*backend)) : std::nullopt;
      return backend_id && alive.count(std::to_string(*backend_id)) == 0;
    });
    Result<std::string> name = xs->Read("/local/domain/" + id + "/name");
    if (lost) stranded.push_back(name && IsSafeName(*name) ? *name : "domain " + id);
  }
  return stranded;
}

Status XenNetVm::SetDriverPath(const std::string& bdf, const std::string& driver) {
  Result<Xenstore> xs = Xenstore::Open();
  if (!xs) return xs.error();
  return xs->Write("/libxl/pci/" + LibxlPciKey(bdf) + "/driver_path", driver);
}

Status XenNetVm::Quarantine(const std::string& bdf) {
  Result<std::string> added = RunWaiting({xl_, "pci-assignable-add", bdf});
  return added ? Status() : Status(added.error());
}

Status XenNetVm::Unquarantine(const std::string& bdf) {
  // A device xl does not list as assignable was never quarantined (or is
  // out already): nothing to undo.
  Result<std::string> listed = RunWaiting({xl_, "pci-assignable-list"});
  if (!listed) return listed.error();
  if (listed->find(bdf) == std::string::npos) return {};
  Result<std::string> removed = RunWaiting({xl_, "pci-assignable-remove", bdf});
  return removed ? Status() : Status(removed.error());
}

Status XenNetVm::ClearDriverPath(const std::string& bdf) {
  Result<Xenstore> xs = Xenstore::Open();
  if (!xs) return xs.error();
  return xs->Remove("/libxl/pci/" + LibxlPciKey(bdf));
}

}  // namespace qmin
