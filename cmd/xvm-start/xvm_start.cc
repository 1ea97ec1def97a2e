#include "xvm_start.h"

#include <algorithm>
#include <set>

#include "event_loop.h"
#include "xen_host.h"
#include "xvm_run.h"

namespace qmin {
namespace {

// The VMs a --stop must take down: those named and, first, all that depend
// on them (a client loses its network when its net-vm goes).
std::set<std::string> StopSet(const VmMap& vms, const std::vector<std::string>& names) {
  std::set<std::string> set;
  std::vector<std::string> todo = names;
  while (!todo.empty()) {
    const std::string name = todo.back();
    todo.pop_back();
    if (!set.insert(name).second) continue;
    for (const std::string& dependent : Dependents(vms, name)) todo.push_back(dependent);
  }
  return set;
}

}  // namespace

Result<XvmDefinitions> LoadXvmDefinitions(const XvmOptions& options) {
  VmLoad load = LoadVmDefinitions(options.vm_dir);
  XvmDefinitions definitions{std::move(load.vms), {}};
  for (const auto& [name, problem] : load.broken)
    definitions.skipped[name] = "its definition is broken: " + problem;
  // Set aside, until none is left, each VM that needs one set aside or
  // undefined: a dependent of a dependent goes too.
  for (bool again = true; again;) {
    again = false;
    for (auto vm = definitions.vms.begin(); vm != definitions.vms.end();) {
      std::string why;
      for (const std::string& dependency : vm->second.Dependencies()) {
        if (definitions.skipped.count(dependency) != 0)
          why = "it needs " + dependency + ", which is set aside";
        else if (definitions.vms.count(dependency) == 0)
          why = "it needs " + dependency + ", which is no VM";
        if (!why.empty()) break;
      }
      if (why.empty()) {
        ++vm;
        continue;
      }
      definitions.skipped[vm->first] = why;
      vm = definitions.vms.erase(vm);
      again = true;
    }
  }
  if (Status graph = CheckGraph(definitions.vms); !graph) return graph.error();
  return definitions;
}

Result<std::vector<std::string>> PlanXvm(const XvmOptions& options, const VmMap& vms) {
  std::vector<std::string> wanted = options.autostart ? AutostartVms(vms) : options.names;
  if (options.stop && options.all)
    for (const auto& [name, vm] : vms) wanted.push_back(name);
  for (const std::string& name : wanted)
    if (vms.count(name) == 0) return InvalidError("plan", "no VM is called " + name);
  if (!options.stop) return StartOrder(vms, wanted);
  const std::set<std::string> stopping = StopSet(vms, wanted);
  Result<std::vector<std::string>> order =
      StartOrder(vms, std::vector<std::string>(stopping.begin(), stopping.end()));
  if (!order) return order.error();
  std::vector<std::string> plan;
  for (auto it = order->rbegin(); it != order->rend(); ++it)
    if (stopping.count(*it) != 0) plan.push_back(*it);
  return plan;
}

Result<int> RunXvm(const XvmOptions& options, const VmMap& vms,
                   const std::vector<std::string>& plan, Log& log, const UpReport& up) {
  const std::optional<std::string> hypervisor = HypervisorVersion(options.sys);
  const std::optional<std::string> toolstack = ToolstackVersion(options.xl);
  if (hypervisor && toolstack && *hypervisor != *toolstack)
    log.Warning("the hypervisor is Xen " + *hypervisor + " but xl's toolstack is Xen " +
                *toolstack + ": Xen will refuse to create domains (\"Permission denied\")");
  Result<EventLoop> loop = EventLoop::Create();
  if (!loop) return loop.error();
  std::unique_ptr<XvmRun> run;
  if (options.stop) {
    run = std::make_unique<Stopper>(*loop, log, options, vms, plan);
  } else {
    run = std::make_unique<Starter>(*loop, log, options, vms, plan, up);
  }
  if (Status begun = run->Begin(); !begun) return begun.error();
  if (Status ran = loop->Run(); !ran) return ran.error();
  return run->status();
}

}  // namespace qmin
