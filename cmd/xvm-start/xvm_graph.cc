#include "xvm_graph.h"

#include <algorithm>
#include <map>
#include <set>

namespace qmin {
namespace {

Error GraphError(const std::string& why) { return InvalidError("order the VMs", why); }

// Depth first from `name`; `path` is the chain being followed, so meeting a
// name on it again is a cycle, named from where it starts.
Status Visit(const VmMap& vms, const std::string& name, std::vector<std::string>& path,
             std::set<std::string>& done, std::vector<std::string>& order) {
  if (done.count(name) != 0) return {};
  const auto on_path = std::find(path.begin(), path.end(), name);
  if (on_path != path.end()) {
    std::string cycle;
    for (auto it = on_path; it != path.end(); ++it) cycle += *it + " -> ";
    return GraphError("a dependency cycle: " + cycle + name);
  }
  path.push_back(name);
  for (const std::string& dependency : vms.at(name).Dependencies())
    if (Status status = Visit(vms, dependency, path, done, order); !status) return status;
  path.pop_back();
  done.insert(name);
  order.push_back(name);
  return {};
}

// Two VMs with one address would route it both ways; two with one device
// would fight over it (and the second passthrough fails half way).
Status CheckClaims(const VmMap& vms) {
  std::map<std::string, std::string> owners;  // "ip=A" or "pci=BDF" -> the VM
  const auto claim = [&](const std::string& what, const std::string& name) -> Status {
    const auto [owner, fresh] = owners.emplace(what, name);
    if (fresh || owner->second == name) return {};
    return GraphError(owner->second + " and " + name + " both give " + what);
  };
  for (const auto& [name, vm] : vms) {
    for (const VifSpec& vif : vm.vifs)
      for (const std::string& ip : vif.ips)
        if (Status status = claim("ip=" + ip, name); !status) return status;
    for (const std::string& entry : vm.pci)
      if (Status status = claim("pci=" + PciDevice(entry), name); !status) return status;
  }
  return {};
}

}  // namespace

Status CheckGraph(const VmMap& vms) {
  for (const auto& [name, vm] : vms) {
    for (const std::string& after : vm.after)
      if (vms.count(after) == 0)
        return GraphError(name + " is after " + after + ", which is no VM");
    for (const VifSpec& vif : vm.vifs)
      if (!vif.backend.empty() && vms.count(vif.backend) == 0)
        return GraphError(name + " has a vif backed by " + vif.backend + ", which is no VM");
  }
  std::set<std::string> done;
  std::vector<std::string> order;
  for (const auto& [name, vm] : vms) {
    std::vector<std::string> path;
    if (Status status = Visit(vms, name, path, done, order); !status) return status;
  }
  return CheckClaims(vms);
}

Result<std::vector<std::string>> StartOrder(const VmMap& vms,
                                            const std::vector<std::string>& wanted) {
  if (Status checked = CheckGraph(vms); !checked) return checked.error();
  std::set<std::string> done;
  std::vector<std::string> order;
  for (const std::string& name : wanted) {
    if (vms.count(name) == 0) return GraphError("no VM is called " + name);
    std::vector<std::string> path;
    if (Status status = Visit(vms, name, path, done, order); !status) return status.error();
  }
  return order;
}

std::vector<std::string> AutostartVms(const VmMap& vms) {
  std::vector<std::string> names;
  for (const auto& [name, vm] : vms)
    if (vm.autostart) names.push_back(name);
  return names;
}

std::vector<std::string> Dependents(const VmMap& vms, const std::string& name) {
  std::vector<std::string> dependents;
  for (const auto& [other, vm] : vms) {
    const std::vector<std::string> dependencies = vm.Dependencies();
    if (std::find(dependencies.begin(), dependencies.end(), name) != dependencies.end())
      dependents.push_back(other);
  }
  return dependents;
}

}  // namespace qmin
