// Starter: each VM is created once what it depends on is up, and waited for
// until it is up as its xvm_wait says.
#include <sys/stat.h>

#include <algorithm>

#include "qrx_proto.h"
#include "text.h"
#include "vchan.h"
#include "xen_host.h"
#include "xvm_run.h"

namespace qmin {
namespace {

// libxl's lines and a hotplug script's error run long: a message keeps this
// much of one.
constexpr std::size_t kMaxXlLine = 400;

// What libxl said of a failure: its first error is the cause (what follows
// is the clean-up failing in turn), else its last line.
std::string Cause(const std::string& text) {
  const std::size_t error = text.find(": error: ");
  if (error != std::string::npos) {
    const std::size_t start = text.rfind('\n', error);
    const std::size_t from = start == std::string::npos ? 0 : start + 1;
    return text.substr(from, text.find('\n', error) - from);
  }
  const std::size_t end = text.find_last_not_of('\n');
  if (end == std::string::npos) return "no message";
  const std::size_t start = text.rfind('\n', end);
  const std::size_t from = start == std::string::npos ? 0 : start + 1;
  return text.substr(from, end - from + 1);
}

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

Starter::Starter(EventLoop& loop, Log& log, const XvmOptions& options, const VmMap& vms,
                 std::vector<std::string> plan, UpReport up)
    : XvmRun(loop, log, options, vms), plan_(std::move(plan)), up_(std::move(up)) {
  for (const std::string& name : plan_) state_[name] = Vm{};
}

// A VM already running counts as up; one that goes while we wait has
// failed, unless xl is to restart it: then it is followed by name.
void Starter::OnDomainsChanged() {
  const std::map<unsigned, std::string> names = DomainNames();
  for (auto& [name, vm] : state_) {
    const std::optional<unsigned> domid = FindDomain(names, name);
    if (vm.state == State::kWaiting && domid) {
      vm.domid = *domid;
      log_.Notice(name + " is running already, as domain " + std::to_string(*domid));
      vm.state = State::kUp;
      up_(name, *domid);
    } else if (vm.state == State::kReadying && domid != vm.domid) {
      Follow(name, domid);
    }
  }
}

// The VM's domain went away (domid: none) or another of its name is there.
void Starter::Follow(const std::string& name, std::optional<unsigned> domid) {
  Vm& vm = state_[name];
  if (!domid) {
    if (!vms_.at(name).xl_restarts) return Fail(name, "it died while starting");
    if (!vm.restarting)
      log_.Warning(name + "'s domain " + std::to_string(vm.domid) +
                   " went away while starting; waiting for xl to restart it");
    vm.restarting = true;
    return;
  }
  log_.Warning(name + " was restarted by xl, as domain " + std::to_string(*domid));
  UnwatchReadiness(vm, name);
  vm.domid = *domid;
  vm.restarting = false;
  if (Status watched = WatchReadiness(name); !watched) return Fail(name, watched.error().Text());
  Check(name);
}

void Starter::Launch() {
  for (const std::string& name : plan_) {
    if (state_[name].state != State::kWaiting) continue;
    bool ready = true;
    for (const std::string& dependency : vms_.at(name).Dependencies()) {
      const State state = state_[dependency].state;
      if (state == State::kFailed || state == State::kSkipped) {
        state_[name].state = State::kSkipped;
        failed_ = true;
        log_.Error(
            InvalidError("start " + name, "it needs " + dependency + ", which did not start"));
        ready = false;
        break;
      }
      ready = ready && state == State::kUp;
    }
    if (ready) Create(name);
  }
}

// What can be known to fail before xl is run: said in words, nothing created.
std::string Starter::Preflight(const VmDefinition& vm) const {
  if (!vm.pci.empty() && vm.type == DomainType::kPvh)
    return "it has pci= but type \"pvh\": libxl refuses PCI passthrough to PVH guests on x86; "
           "make it type = \"pv\"";
  for (const std::string* file : {&vm.kernel, &vm.ramdisk})
    if (!file->empty() && !Exists(*file))
      return "its " + std::string(file == &vm.kernel ? "kernel " : "ramdisk ") + *file +
             " does not exist";
  return "";
}

void Starter::Create(const std::string& name) {
  const VmDefinition& vm = vms_.at(name);
  state_[name].state = State::kCreating;
  if (std::string problem = Preflight(vm); !problem.empty()) return Fail(name, problem);
  log_.Notice("creating " + name + " (" + std::string(DomainTypeName(vm.type)) + ")");
  // xvm_timeout counts from here: an xl create that hangs is part of it.
  const std::chrono::seconds timeout(vm.timeout);
  Result<pid_t> pid = xl_.Run(
      {"create", "-q", vm.path},
      [this, name](int status, const std::string& said) { OnCreated(name, status, said); },
      timeout);
  if (!pid) return Fail(name, pid.error().Text());
  state_[name].deadline = loop_.AddTimer(timeout, [this, name, pid = *pid] {
    state_[name].deadline = 0;
    if (state_[name].state == State::kCreating) {
      xl_.Kill(pid);
      return Fail(name,
                  "xl create had not ended within " + std::to_string(vms_.at(name).timeout) + " s");
    }
    bool failed = false;
    const std::string missing = Missing(name, failed);
    Fail(name, "not up within " + std::to_string(vms_.at(name).timeout) + " s: " + missing);
  });
}

void Starter::OnCreated(const std::string& name, int status, const std::string& said) {
  // Failed meanwhile (its deadline): a domain that appeared all the same goes.
  if (state_[name].state != State::kCreating) return DestroyLeftover(name);
  if (status != 0) {
    const std::optional<std::string> hypervisor = HypervisorVersion(options_.sys);
    const std::optional<std::string> toolstack = ToolstackVersion(options_.xl);
    if (said.find("Permission denied") != std::string::npos && hypervisor && toolstack &&
        *hypervisor != *toolstack)
      return Fail(name, "xl create was refused with \"Permission denied\": the hypervisor is Xen " +
                            *hypervisor + " but xl's toolstack is Xen " + *toolstack +
                            ", and Xen refuses a toolstack of another version (their domctl "
                            "interfaces differ); install the toolstack of Xen " +
                            *hypervisor);
    return Fail(name, "xl create exited " + std::to_string(status) + ": " +
                          QuoteForMessage(Cause(said), kMaxXlLine));
  }
  const std::optional<unsigned> domid = FindDomain(DomainNames(), name);
  if (!domid) return Fail(name, "xl create said yes, but xenstore has no domain called " + name);
  state_[name].domid = *domid;
  Await(name);
}

void Starter::Await(const std::string& name) {
  Vm& state = state_[name];
  state.state = State::kReadying;
  if (Status watched = WatchReadiness(name); !watched) return Fail(name, watched.error().Text());
  Check(name);
}

// Watches the keys that change when the VM's domain becomes ready.
Status Starter::WatchReadiness(const std::string& name) {
  const VmDefinition& vm = vms_.at(name);
  Vm& state = state_[name];
  std::vector<std::string> paths;
  if (vm.wait == WaitFor::kQrx) {
    if (auto key = VchanServerKey(state.domid, 0, qrx::kControlPort)) paths.push_back(*key);
  } else if (vm.wait == WaitFor::kHotplug) {
    const std::map<unsigned, std::string> names = DomainNames();
    for (std::size_t devid = 0; devid < vm.vifs.size(); ++devid) {
      const std::optional<unsigned> backend = vm.vifs[devid].backend.empty()
                                                  ? std::optional(0U)
                                                  : FindDomain(names, vm.vifs[devid].backend);
      if (backend)
        paths.push_back(VifBackendPath(*backend, state.domid, static_cast<unsigned>(devid)));
    }
  }
  for (const std::string& path : paths) {
    if (Status watched = Watch(path, name); !watched) return watched;
    state.watched.push_back(path);
  }
  return {};
}

void Starter::UnwatchReadiness(Vm& vm, const std::string& name) {
  for (const std::string& path : vm.watched) Unwatch(path, name);
  vm.watched.clear();
}

void Starter::OnWatch(const std::string& name) {
  if (state_.count(name) != 0 && state_[name].state == State::kReadying) Check(name);
}

// What the VM still lacks to be up ("" when nothing); `failed` when it never will.
std::string Starter::Missing(const std::string& name, bool& failed) {
  const VmDefinition& vm = vms_.at(name);
  const unsigned domid = state_[name].domid;
  if (state_[name].restarting)
    return "its domain " + std::to_string(domid) + " went away and xl has not restarted it";
  if (vm.wait == WaitFor::kQrx) {
    const std::optional<std::string> key = VchanServerKey(domid, 0, qrx::kControlPort);
    return !key || xs_->Read(*key) ? "" : "its qrx-agent does not serve yet";
  }
  if (vm.wait != WaitFor::kHotplug) return "";
  const std::map<unsigned, std::string> names = DomainNames();
  for (std::size_t devid = 0; devid < vm.vifs.size(); ++devid) {
    const std::string& backend_name = vm.vifs[devid].backend;
    const std::optional<unsigned> backend =
        backend_name.empty() ? std::optional(0U) : FindDomain(names, backend_name);
    const std::string vif = "vif" + std::to_string(devid);
    if (!backend) {
      failed = true;
      return vif + "'s backend " + backend_name + " is not running";
    }
    const std::string path = VifBackendPath(*backend, domid, static_cast<unsigned>(devid));
    const VifStatus status = ReadVifStatus(*xs_, path);
    if (status.state == VifStatus::State::kFailed) {
      failed = true;
      return vif + "'s hotplug failed: " + QuoteForMessage(status.error, kMaxXlLine);
    }
    if (status.state != VifStatus::State::kConnected)
      return vif + " (" + path + ") is not connected yet";
  }
  return "";
}

void Starter::Check(const std::string& name) {
  bool failed = false;
  const std::string missing = Missing(name, failed);
  if (failed) return Fail(name, missing);
  if (missing.empty()) Up(name);
}

void Starter::StopWaiting(Vm& vm, const std::string& name) {
  if (vm.deadline != 0) loop_.CancelTimer(vm.deadline);
  vm.deadline = 0;
  UnwatchReadiness(vm, name);
}

void Starter::Up(const std::string& name) {
  Vm& vm = state_[name];
  StopWaiting(vm, name);
  vm.state = State::kUp;
  log_.Notice(name + " is up, as domain " + std::to_string(vm.domid));
  up_(name, vm.domid);
  Launch();
  MaybeDone();
}

// A VM that was created and failed is destroyed; what depends on it is skipped.
void Starter::Fail(const std::string& name, const std::string& why) {
  Vm& vm = state_[name];
  const bool tried = vm.state == State::kCreating || vm.state == State::kReadying;
  StopWaiting(vm, name);
  vm.state = State::kFailed;
  failed_ = true;
  log_.Error(InvalidError("start " + name, why));
  if (tried) DestroyLeftover(name);
  Launch();
  MaybeDone();
}

// A create that failed after its domain appeared (or was cut off at its
// deadline) leaves no domain behind.
void Starter::DestroyLeftover(const std::string& name) {
  if (!FindDomain(DomainNames(), name)) return;
  Result<pid_t> pid = xl_.Run({"destroy", name}, [this, name](int status, const std::string&) {
    if (status != 0) log_.Warning("xl destroy " + name + " failed");
    MaybeDone();
  });
  if (!pid) log_.Warning(pid.error());
}

bool Starter::Done() const {
  return std::all_of(state_.begin(), state_.end(), [](const auto& entry) {
    const State state = entry.second.state;
    return state == State::kUp || state == State::kFailed || state == State::kSkipped;
  });
}

}  // namespace qmin
