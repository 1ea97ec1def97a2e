#include "vif_route.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <memory>

#include "domid.h"
#include "files.h"
#include "ipaddr.h"
#include "netlink.h"
#include "process.h"
#include "text.h"
#include "xenstore.h"

namespace qmin {
namespace {

constexpr int kLockTimeoutMs = 20000;   // well inside libxl's 40 s
constexpr int kHandoffLimitMs = 15000;  // with the lock's 20 s, still inside the 40
constexpr std::size_t kMaxStateFile = 16 * 1024;

// One change to the system, and how to take it back.
struct Step {
  std::string description;
  std::function<Status()> apply;
  std::function<void()> undo;
};

bool IsInterfaceName(const std::string& name) { return name.size() <= 15 && IsSafeName(name); }

// backend/vif/DOMID/DEVID, optionally under /local/domain/N/.
bool IsVifBackendPath(const std::string& path) {
  std::string_view rest = path;
  if (rest.rfind("/local/domain/", 0) == 0) {
    rest.remove_prefix(14);
    const std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos || !ParseDomainId(rest.substr(0, slash))) return false;
    rest.remove_prefix(slash + 1);
  }
  const std::vector<std::string_view> parts = Split(rest, '/');
  return parts.size() == 4 && parts[0] == "backend" && parts[1] == "vif" &&
         ParseDomainId(parts[2]) && ParseUnsigned(parts[3], 0xffff);
}

std::string StatePath(const VifRouteOptions& options) {
  return options.state_dir + "/" + options.vif;
}

std::string SysctlPath(const VifRouteOptions& options, int family, const std::string& device,
                       const char* key) {
  return options.proc_sys + (family == 4 ? "/net/ipv4/conf/" : "/net/ipv6/conf/") + device + "/" +
         key;
}

// Sets a sysctl to 1, remembering the old value so that undo restores it.
Step SysctlStep(const std::string& path, const std::string& label) {
  auto previous = std::make_shared<std::string>();
  return Step{
      "sysctl " + label + "=1",
      [path, previous]() -> Status {
        Result<std::string> old = ReadSmallFile(path, 64);
        if (!old) return old.error();
        *previous = *old;
        return WriteExisting(path, "1\n");
      },
      [path, previous]() {
        if (!previous->empty()) (void)WriteExisting(path, *previous);
      },
  };
}

std::string Label(const std::string& path, const std::string& proc_sys) {
  std::string label = path.substr(proc_sys.size() + 1);
  std::replace(label.begin(), label.end(), '/', '.');
  return label;
}

struct VifConfig {
  std::vector<IpAddress> addresses;
  std::array<std::uint8_t, 6> mac{};
};

// The guest's addresses and MAC, from the backend directory in xenstore.
Result<VifConfig> ReadVifConfig(const Xenstore& xs, const VifRouteOptions& options) {
  VifConfig config;
  Result<std::string> ip = xs.Read(options.xenbus_path + "/ip");
  if (!ip && ip.error().errnum != ENOENT) return ip.error();
  const std::string ip_text = ip ? *ip : "";
  Result<std::vector<IpAddress>> addresses = ParseAddressList(ip_text);
  if (!addresses) return addresses.error();
  config.addresses = std::move(*addresses);
  if (config.addresses.empty() && !options.allow_no_ip)
    return InvalidError("route " + options.vif, "no address in " + options.xenbus_path +
                                                    "/ip (a VM must not come up half-routed)");
  Result<std::string> mac_text = xs.Read(options.xenbus_path + "/mac");
  if (!mac_text) return mac_text.error();
  Result<std::array<std::uint8_t, 6>> mac = ParseMac(*mac_text);
  if (!mac) return mac.error();
  config.mac = *mac;
  return config;
}

std::string StateFileText(const VifRouteOptions& options, const VifConfig& config) {
  std::vector<std::string> ips;
  for (const IpAddress& address : config.addresses) ips.push_back(address.text);
  return "# vif-route online: what offline removes\nxenbus_path=" + options.xenbus_path +
         "\nip=" + Join(ips, " ") + "\nmac=" + FormatMac(config.mac) +
         "\nnetdev=" + options.netdev + "\n";
}

std::vector<Step> OnlinePlan(const VifRouteOptions& options, const VifConfig& config,
                             Netlink* netlink, Xenstore* xs, int ifindex, int uplink) {
  std::vector<Step> plan;
  const auto sysctl = [&](int family, const std::string& device, const char* key) {
    const std::string path = SysctlPath(options, family, device, key);
    plan.push_back(SysctlStep(path, Label(path, options.proc_sys)));
  };
  const bool ipv6 = std::any_of(config.addresses.begin(), config.addresses.end(),
                                [](const IpAddress& a) { return a.family == 6; });
  sysctl(4, options.vif, "proxy_arp");
  sysctl(4, options.vif, "rp_filter");  // strict: the guest may only use its own addresses
  if (ipv6) sysctl(6, options.vif, "proxy_ndp");
  if (ipv6 && uplink != 0) sysctl(6, options.netdev, "proxy_ndp");
  plan.push_back(
      Step{"link " + options.vif + " up", [=] { return netlink->SetLinkUp(ifindex); }, [] {}});
  for (const IpAddress& address : config.addresses) {
    const std::string prefix = "/" + std::to_string(address.host_prefix());
    plan.push_back(Step{"route replace " + address.text + prefix + " dev " + options.vif,
                        [=] { return netlink->ReplaceHostRoute(address, ifindex); },
                        [=] { (void)netlink->DeleteHostRoute(address, ifindex); }});
    plan.push_back(Step{"neigh replace " + address.text + " lladdr " + FormatMac(config.mac) +
                            " dev " + options.vif + " nud permanent",
                        [=] { return netlink->ReplaceNeighbour(address, config.mac, ifindex); },
                        [=] { (void)netlink->DeleteNeighbour(address, ifindex, false); }});
    if (address.family == 6 && uplink != 0)
      plan.push_back(Step{"neigh replace proxy " + address.text + " dev " + options.netdev,
                          [=] { return netlink->ReplaceProxyNeighbour(address, uplink); },
                          [=] { (void)netlink->DeleteNeighbour(address, uplink, true); }});
  }
  const std::string state = StatePath(options);
  const std::string state_text = StateFileText(options, config);
  plan.push_back(Step{"record " + state, [=] { return WriteFileAtomic(state, state_text); },
                      [=] { unlink(state.c_str()); }});
  const std::string status_key = options.xenbus_path + "/hotplug-status";
  const std::string error_key = options.xenbus_path + "/hotplug-error";
  plan.push_back(Step{"xenstore write " + status_key + " connected",
                      [=]() -> Status {
                        if (Status removed = xs->Remove(error_key); !removed) return removed;
                        return xs->Write(status_key, "connected");
                      },
                      [] {}});
  return plan;
}

// Writes hotplug-error and hotplug-status=error together, as Xen's scripts do.
void ReportFailure(const Xenstore& xs, const VifRouteOptions& options, const Error& error) {
  (void)xs.InTransaction([&](const Transaction& tx) -> Status {
    if (Status status = xs.Write(options.xenbus_path + "/hotplug-error", error.Text(), &tx);
        !status)
      return status;
    return xs.Write(options.xenbus_path + "/hotplug-status", "error", &tx);
  });
}

Status RunOnline(const VifRouteOptions& options, Xenstore& xs, std::vector<std::string>& plan_out) {
  Result<VifConfig> config = ReadVifConfig(xs, options);
  if (!config) return config.error();
  const int ifindex = InterfaceIndex(options.vif);
  if (ifindex == 0) return SystemError("route " + options.vif, ENODEV);
  int uplink = 0;
  if (!options.netdev.empty()) {
    uplink = InterfaceIndex(options.netdev);
    if (uplink == 0) return SystemError("use uplink " + options.netdev, ENODEV);
  }
  Result<Netlink> netlink = Netlink::Open();
  if (!netlink) return netlink.error();
  std::vector<Step> plan = OnlinePlan(options, *config, &*netlink, &xs, ifindex, uplink);
  if (options.dry_run) {
    for (const Step& step : plan) plan_out.push_back(step.description);
    return {};
  }
  for (std::size_t done = 0; done < plan.size(); ++done) {
    if (Status status = plan[done].apply(); !status) {
      for (std::size_t i = done; i-- > 0;) plan[i].undo();
      return status;
    }
  }
  return {};
}

Status OnlineSteps(const VifRouteOptions& options, Xenstore& xs, std::vector<std::string>& plan) {
  if (Status valid = ValidateVifOptions(options); !valid) return valid;
  if (options.dry_run) return RunOnline(options, xs, plan);
  if (mkdir(options.state_dir.c_str(), 0755) != 0 && errno != EEXIST)
    return SystemError("create " + options.state_dir, errno);
  // Each vif has its own lock: vifs of one domain come up in parallel,
  // while an offline racing an online retry of the same vif waits.
  Result<FileLock> lock = FileLock::Acquire(StatePath(options) + ".lock", kLockTimeoutMs);
  if (!lock) return lock.error();
  return RunOnline(options, xs, plan);
}

// Addresses to remove: from xenstore, and from the state file that online
// wrote (the keys may already be gone).
struct OfflineTargets {
  std::vector<IpAddress> addresses;
  std::string netdev;
};

void AddAddresses(std::vector<IpAddress>& into, const std::string& text) {
  Result<std::vector<IpAddress>> parsed = ParseAddressList(text);
  if (!parsed) return;
  for (IpAddress& address : *parsed)
    if (std::find(into.begin(), into.end(), address) == into.end())
      into.push_back(std::move(address));
}

OfflineTargets CollectOfflineTargets(const VifRouteOptions& options, Log& log) {
  OfflineTargets targets;
  targets.netdev = options.netdev;
  if (Result<Xenstore> xs = Xenstore::Open()) {
    if (Result<std::string> ip = xs->Read(options.xenbus_path + "/ip"))
      AddAddresses(targets.addresses, *ip);
  } else {
    log.Warning(xs.error());
  }
  Result<std::string> state = ReadSmallFile(StatePath(options), kMaxStateFile);
  if (!state) return targets;
  for (std::string_view line : Split(*state, '\n')) {
    if (line.rfind("ip=", 0) == 0) AddAddresses(targets.addresses, std::string(line.substr(3)));
    if (line.rfind("netdev=", 0) == 0 && targets.netdev.empty()) {
      const std::string netdev(line.substr(7));
      if (IsInterfaceName(netdev)) targets.netdev = netdev;
    }
  }
  return targets;
}

bool AlreadyGone(const Status& status) {
  const int err = status.error().errnum;
  return err == ENOENT || err == ESRCH || err == ENODEV || err == EADDRNOTAVAIL;
}

}  // namespace

Status ValidateVifOptions(const VifRouteOptions& options) {
  if (options.vif.empty()) return InvalidError("route a vif", "no interface: set $vif or --vif");
  if (!IsInterfaceName(options.vif))
    return InvalidError("route a vif", "invalid interface name " + QuoteForMessage(options.vif));
  if (!options.netdev.empty() && !IsInterfaceName(options.netdev))
    return InvalidError("route " + options.vif,
                        "invalid uplink name " + QuoteForMessage(options.netdev));
  if (options.xenbus_path.empty())
    return InvalidError("route " + options.vif, "no $XENBUS_PATH or --xenbus-path");
  if (!IsVifBackendPath(options.xenbus_path))
    return InvalidError("route " + options.vif,
                        "invalid backend path " + QuoteForMessage(options.xenbus_path));
  return {};
}

namespace {

Status VifOnline(const VifRouteOptions& options, std::vector<std::string>& plan) {
  Result<Xenstore> xs = Xenstore::Open();
  if (!xs) return xs.error();  // nowhere to report it but the log
  const Status status = OnlineSteps(options, *xs, plan);
  // Without a usable backend path there is no place for hotplug-error.
  if (!status && !options.dry_run && IsVifBackendPath(options.xenbus_path))
    ReportFailure(*xs, options, status.error());
  return status;
}

void VifOffline(const VifRouteOptions& options, Log& log, std::vector<std::string>& plan) {
  std::unique_ptr<FileLock> lock;
  if (!options.dry_run) {
    Result<FileLock> acquired = FileLock::Acquire(StatePath(options) + ".lock", kLockTimeoutMs);
    if (acquired) lock = std::make_unique<FileLock>(std::move(*acquired));
  }
  const OfflineTargets targets = CollectOfflineTargets(options, log);
  const int ifindex = InterfaceIndex(options.vif);
  const int uplink = targets.netdev.empty() ? 0 : InterfaceIndex(targets.netdev);
  Result<Netlink> netlink = Netlink::Open();
  const auto attempt = [&](const std::string& description, const std::function<Status()>& action) {
    plan.push_back(description);
    if (options.dry_run || !netlink) return;
    if (Status status = action(); !status && !AlreadyGone(status)) log.Warning(status.error());
  };
  for (const IpAddress& address : targets.addresses) {
    // Without the interface, the kernel has already dropped its routes and neighbours.
    if (ifindex != 0) {
      attempt("neigh del " + address.text + " dev " + options.vif,
              [&] { return netlink->DeleteNeighbour(address, ifindex, false); });
      attempt("route del " + address.text + "/" + std::to_string(address.host_prefix()) + " dev " +
                  options.vif,
              [&] { return netlink->DeleteHostRoute(address, ifindex); });
    }
    if (address.family == 6 && uplink != 0)
      attempt("neigh del proxy " + address.text + " dev " + targets.netdev,
              [&] { return netlink->DeleteNeighbour(address, uplink, true); });
  }
  plan.push_back("remove " + StatePath(options));
  if (!options.dry_run) unlink(StatePath(options).c_str());
  if (lock) lock->Unlink();
  if (!netlink) log.Warning(netlink.error());
}

// dom0's uplink. Once nic-handoff has handed the NIC to a net-vm, a vif
// that comes online in dom0 may be that net-vm's, re-created (xl restarts a
// VM that reboots): nic-handoff moves dom0's addresses and default route
// onto it. It logs what it does itself; its failure does not fail this
// vif, which is up.
void FollowHandoff(const VifRouteOptions& options, Log& log, std::vector<std::string>& plan) {
  if (options.nic_handoff.empty() || access(options.handoff_state.c_str(), F_OK) != 0) return;
  SpawnOptions spawn;
  spawn.argv = {options.nic_handoff, "--state", options.handoff_state, "reconnect", options.vif};
  plan.push_back(Join(spawn.argv, " "));
  if (options.dry_run) return;
  spawn.fds = {-1, -1, 2};
  Result<Finished> finished = RunBounded(spawn, std::chrono::milliseconds(kHandoffLimitMs));
  if (!finished) return log.Warning(finished.error());
  if (finished->killed || finished->status != 0)
    log.Warning(options.nic_handoff + " reconnect " + options.vif +
                (finished->killed ? " was killed at its limit"
                                  : " exited " + std::to_string(finished->status)));
}

}  // namespace

Status ParseVifInvocation(const std::vector<std::string>& words, VifRouteOptions& options) {
  if (words.empty() || words.size() > 2) return UsageError("expected COMMAND [type_if=vif|tap]");
  const std::string& command = words[0];
  if (command != "online" && command != "offline" && command != "add" && command != "remove")
    return UsageError("unknown command " + QuoteForMessage(command));
  const std::string type_if = words.size() > 1 ? words[1] : "type_if=vif";
  if (type_if != "type_if=vif" && type_if != "type_if=tap")
    return UsageError("expected type_if=vif or type_if=tap, got " + QuoteForMessage(type_if));
  options.online = command == "online" || command == "add";
  options.tap = type_if == "type_if=tap";
  return {};
}

Result<std::vector<std::string>> RunVifRoute(const VifRouteOptions& options, Log& log) {
  std::vector<std::string> plan;
  if (options.tap) return plan;
  if (!options.online) {
    if (Status valid = ValidateVifOptions(options); !valid) {
      log.Warning(valid.error());  // offline always succeeds: libxl ignores it anyway
      return plan;
    }
    VifOffline(options, log, plan);
    return plan;
  }
  if (Status status = VifOnline(options, plan); !status) {
    Error error = status.error();
    error.exit = ExitCode::kRefused;  // the hotplug contract: 1, and hotplug-error says why
    return error;
  }
  FollowHandoff(options, log, plan);
  return plan;
}

}  // namespace qmin
