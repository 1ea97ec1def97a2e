// Stopper: a VM shuts down once nothing running depends on it; a clean
// shutdown (xl shutdown -w) that takes longer than the timeout, or fails,
// ends in xl destroy.

#include <algorithm>
#include <utility>

#include "text.h"
#include "xen_host.h"
#include "xvm_run.h"

namespace qmin {

namespace {

// After the deadline, how long destroyed VMs may keep coming back (xl
// restarting a VM that rebooted, an autostart) before the run gives up.
constexpr std::chrono::seconds kDestroyGrace{15};

}  // namespace

// One deadline for the whole run, set once: a VM that reboots instead of
// halting, or is started again meanwhile, cannot make the stop wait forever.
Stopper::Stopper(EventLoop& loop, Log& log, const XvmOptions& options, const VmMap& vms,
                 std::vector<std::string> plan)
    : XvmRun(loop, log, options, vms), plan_(std::move(plan)) {
  for (const std::string& name : plan_) state_[name] = Vm{};
  loop_.AddTimer(std::chrono::seconds(options_.stop_timeout), [this] { OnDeadline(); });
}

// A VM that is running again after its shutdown (under a new domain ID, or
// the same) is stopped again: Launch sees it running and not stopping.
void Stopper::OnDomainsChanged() {
  const std::map<unsigned, std::string> names = DomainNames();
  if (!std::exchange(looked_, true) && !options_.all)
    for (const auto& [name, vm] : state_)
      if (!FindDomain(names, name)) log_.Notice(name + " is not running: nothing to stop");
  for (auto& [name, vm] : state_) {
    const std::optional<unsigned> domid = FindDomain(names, name);
    if (vm.running && !domid) Gone(name);
    if (domid && ((!vm.running && vm.went) || (vm.running && *domid != vm.domid)))
      log_.Notice(name + " is back as domain " + std::to_string(*domid) + ": stopping it again");
    if (vm.running && !domid) vm.went = true;
    // Back means another domain: the one that shut down may linger in
    // xenstore a moment after xl shutdown -w has returned.
    if (domid && *domid != vm.asked) vm.coming_back = false;
    vm.running = domid.has_value();
    vm.domid = domid.value_or(0);
  }
  Launch();
}

void Stopper::Launch() {
  for (const std::string& name : plan_) {
    Vm& vm = state_[name];
    // A domain already asked to shut down is not asked again (xl shutdown -w
    // returns before xenstore drops it); one that came back under a new ID is.
    if (!vm.running || vm.stopping || given_up_ || (vm.asked == vm.domid && !expired_)) continue;
    const std::vector<std::string> dependents = Dependents(vms_, name);
    const bool waits =
        std::any_of(dependents.begin(), dependents.end(), [&](const std::string& other) {
          return state_.count(other) != 0 && state_[other].running;
        });
    if (waits) continue;  // dependents first, even when destroying
    if (expired_) {
      Destroy(name);
    } else {
      Stop(name);
    }
  }
}

void Stopper::Stop(const std::string& name) {
  Vm& vm = state_[name];
  vm.stopping = true;
  vm.asked = vm.domid;
  log_.Notice("shutting " + name + " down");
  // The run's deadline ends a clean shutdown sooner; this only bounds it.
  const std::chrono::seconds limit(options_.stop_timeout + kDestroyGrace.count());
  Result<pid_t> pid = xl_.Run(
      {"shutdown", "-w", name},
      [this, name](int status, const std::string& said) {
        Vm& stopped = state_[name];
        stopped.shutdown = -1;
        stopped.stopping = false;
        if (status != 0 && stopped.running && !expired_) return Destroy(name);
        ExpectBack(name, said);
        OnDomainsChanged();
        MaybeDone();
      },
      limit);
  if (!pid) return Destroy(name);
  vm.shutdown = *pid;
}

void Stopper::OnDeadline() {
  expired_ = true;
  std::vector<std::string> late;
  bool awaited = false;  // xl is between a VM's old domain and its new one
  for (auto& [name, vm] : state_) {
    awaited = awaited || vm.coming_back;
    if (!vm.running) continue;
    late.push_back(name);
    if (vm.shutdown > 0) xl_.Kill(vm.shutdown);
  }
  if (late.empty() && !awaited) return MaybeDone();
  if (!late.empty())
    log_.Warning(Join(late, ", ") + " did not shut down within " +
                 std::to_string(options_.stop_timeout) + " s: destroying " +
                 (late.size() == 1 ? "it" : "them"));
  // What comes back from here on is destroyed; past the grace, given up.
  loop_.AddTimer(kDestroyGrace, [this] { GiveUp(); });
  Launch();
}

void Stopper::GiveUp() {
  for (const auto& [name, vm] : state_) {
    if (!vm.running) continue;
    failed_ = true;
    log_.Error(InvalidError("stop " + name, "it keeps coming back after xl destroy"));
  }
  given_up_ = true;
  MaybeDone();
}

void Stopper::Destroy(const std::string& name) {
  state_[name].stopping = true;
  Result<pid_t> pid = xl_.Run({"destroy", name}, [this, name](int status, const std::string& said) {
    // A destroy that failed is not tried again at once (no loop of xl
    // runs): the run ends with it, at the latest when it gives up.
    if (status != 0 && state_[name].running) {
      failed_ = true;
      log_.Error(InvalidError("destroy " + name, said.empty() ? "xl destroy failed" : said));
    } else {
      state_[name].stopping = false;
    }
    OnDomainsChanged();
    MaybeDone();
  });
  if (!pid) {
    failed_ = true;
    log_.Error(pid.error());
  }
}

// xl shutdown -w says why the domain shut down ("Domain 5 has been shut
// down, reason code 1"). A guest that rebooted when asked to halt, or one
// whose definition restarts it, is recreated by xl after it is gone: until
// it is seen again (and, past the deadline, destroyed; or given up on) the
// run is not done.
void Stopper::ExpectBack(const std::string& name, const std::string& said) {
  const std::string marker = "reason code ";
  const std::size_t at = said.rfind(marker);
  if (at == std::string::npos) return;
  const std::size_t start = at + marker.size();
  const std::size_t end = said.find_first_not_of("0123456789", start);
  const auto reason = ParseUnsigned(std::string_view(said).substr(start, end - start), 3);
  if (!reason || !vms_.at(name).restarts_after[*reason]) return;
  state_[name].coming_back = true;
  log_.Notice(name + " shut down with reason code " + std::to_string(*reason) +
              ", for which xl restarts it: waiting to stop it again");
}

void Stopper::Gone(const std::string& name) { log_.Notice(name + " is down"); }

bool Stopper::Done() const {
  return given_up_ || std::none_of(state_.begin(), state_.end(), [](const auto& entry) {
           return entry.second.running || entry.second.coming_back;
         });
}

}  // namespace qmin
