#include "nic_handoff.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "files.h"
#include "text.h"

namespace qmin {
namespace {

constexpr int kUndoAttempts = 3;

bool IsBdf(const std::string& text) {
  // dddd:bb:dd.f, as pciback prints and reads it.
  return text.size() == 12 && text[4] == ':' && text[7] == ':' && text[10] == '.' &&
         std::all_of(text.begin(), text.end(), [](char c) { return IsNameChar(c, ":"); });
}

}  // namespace

Status Handoff::Save() {
  if (options_.dry_run) return {};
  return WriteFileAtomic(options_.state, FormatRecord(record_), 0600);
}

// The NIC as it is now: its PCI device and driver from sysfs, its
// addresses and routes from the kernel.
Result<NicRecord> Handoff::Record() {
  NicRecord record;
  record.iface = options_.iface;
  if (!IsSafeName(record.iface))
    return InvalidError("hand over " + record.iface, "not an interface name");
  Result<std::string> device = sysfs_.Resolve("class/net/" + record.iface + "/device");
  if (!device)
    return InvalidError("hand over " + record.iface,
                        "it is not a PCI device (" + device.error().reason + ")");
  record.bdf = device->substr(device->rfind('/') + 1);
  if (!IsBdf(record.bdf))
    return InvalidError("hand over " + record.iface, "its device " + record.bdf + " is not on PCI");
  if (Result<std::string> driver = sysfs_.Resolve("bus/pci/devices/" + record.bdf + "/driver"))
    record.driver = *driver;
  if (record.driver == "/sys/" + std::string(kPcibackDir))
    return InvalidError("hand over " + record.iface, "pciback holds it already");
  if (!sysfs_.Exists(kPcibackDir)) return SystemError("find pciback", ENOENT, ExitCode::kTemporary);
  Result<std::string> mac = net_.Mac(record.iface);
  if (!mac) return mac.error();
  record.mac = *mac;
  const int ifindex = net_.Find(record.iface, record.mac);
  if (ifindex == 0) return SystemError("find " + record.iface, ENODEV);
  Result<bool> up = net_.IsUp(ifindex);
  Result<std::vector<InterfaceAddress>> addresses = net_.Addresses(ifindex);
  Result<std::vector<InterfaceRoute>> routes = net_.Routes(ifindex);
  if (!up) return up.error();
  if (!addresses) return addresses.error();
  if (!routes) return routes.error();
  record.was_up = *up;
  record.addresses = *addresses;
  record.routes = *routes;
  record.netvm = options_.netvm;
  return record;
}

std::vector<Handoff::Step> Handoff::ReleaseSteps() {
  // Down last, so that undoing brings the link up before the routes (a
  // gateway route needs its link up).
  std::vector<std::string> names = {"routes", "addresses", "down"};
  if (!record_.driver.empty()) names.push_back("unbind");
  if (sysfs_.Exists("bus/pci/devices/" + record_.bdf + "/driver_override"))
    names.push_back("override");
  Result<std::string> slots = sysfs_.Read(std::string(kPcibackDir) + "/slots");
  if (!slots || slots->find(record_.bdf) == std::string::npos) names.push_back("slot");
  for (const char* name : {"pciback", "quarantine", "reset", "driver-path"}) names.push_back(name);
  std::vector<Step> steps;
  for (const std::string& name : names) steps.push_back(StepNamed(name));
  return steps;
}

std::vector<Handoff::Step> Handoff::AdoptSteps() {
  std::vector<Step> steps;
  for (const char* name : {"netvm", "vif", "vif-addresses", "default-route"})
    steps.push_back(StepNamed(name));
  return steps;
}

// Takes the steps in order. Each is in the state file before it runs:
// killed half way (Ctrl-C on hvc0, the OOM killer), `restore` still undoes
// it, and every undo lets be what it finds not done. A step that fails, a
// state file that cannot be written, or a signal held meanwhile undoes what
// was taken, that step included.
Status Handoff::Take(const std::vector<Step>& steps) {
  for (const Step& step : steps) {
    log_.Info(step.description);
    if (options_.dry_run) continue;
    record_.done.push_back(step.name);
    Status status = Save();
    if (status) status = step.apply();
    if (status) status = Save();
    if (status) status = Interrupted();
    if (!status) return RollBack(status.error());
  }
  return {};
}

// Only a command that gives the NIC to a VM needs that VM checked.
Status Handoff::CheckTarget(HandoffCommand command) const {
  if (command == HandoffCommand::kRelease || options_.vm_dir.empty()) return {};
  return CheckNetVm(options_.vm_dir, options_.netvm, record_.bdf);
}

Status Handoff::Interrupted() const {
  const int signo = options_.interrupted ? options_.interrupted() : 0;
  if (signo == 0) return {};
  return Error{ExitCode::kTemporary, "hand " + record_.iface + " over",
               "interrupted by signal " + std::to_string(signo), EINTR};
}

Status Handoff::RollBack(Error error) {
  std::string restored;
  const Status undone = Undo(record_.done, restored);
  error.reason += undone ? "; undone: " + restored : "; " + undone.error().Text();
  return error;
}

// Undoes the named steps, last first; each undo is tried again before it
// counts as failed, and the state file follows every step.
Status Handoff::Undo(const std::vector<std::string>& names, std::string& restored) {
  std::vector<std::string> failed;
  bool held = false;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    const Step step = StepNamed(*it);
    Status undone;
    for (int attempt = 0; step.undo && attempt < kUndoAttempts; ++attempt)
      if ((undone = step.undo())) break;
    if (!undone) {
      log_.Error(InvalidError("undo " + *it, undone.error().Text()));
      failed.push_back(*it);
      // While a net-vm may still exist, or Xen may still hold the card in
      // quarantine, the card may still do DMA for it: it stays on pciback
      // until a later restore gets past this step.
      if (*it == "netvm" || *it == "quarantine") {
        held = true;
        break;
      }
      continue;
    }
    restored += (restored.empty() ? "" : ", ") + *it;
    record_.done.erase(std::find(record_.done.begin(), record_.done.end(), *it));
    if (Status saved = Save(); !saved) log_.Warning(saved.error());
  }
  if (!failed.empty()) {
    return InvalidError("undo " + Join(failed, ", "),
                        std::string(held ? "the NIC stays on pciback; " : "") +
                            "see the log; the state file keeps them for restore");
  }
  if (!options_.dry_run) unlink(options_.state.c_str());
  return {};
}

Status Handoff::ReadState() {
  Result<std::string> text = ReadSmallFile(options_.state, 64 * 1024);
  if (!text) return text.error();
  Result<NicRecord> record = ParseRecord(*text, options_.state);
  if (!record) return record.error();
  record_ = *record;
  return {};
}

Result<std::vector<std::string>> Handoff::Describe() {
  Result<std::string> text = ReadSmallFile(options_.state, 64 * 1024);
  if (!text) return std::vector<std::string>{"no handoff: " + options_.state + " does not exist"};
  Result<NicRecord> record = ParseRecord(*text, options_.state);
  if (!record) return record.error();
  const bool adopted = HandedOver(*record);
  const bool started = Took(*record, "netvm");
  std::vector<std::string> lines = {
      record->iface + " " + record->bdf + " " + (record->driver.empty() ? "-" : record->driver),
      std::string(adopted ? "handed to " : "on its way to ") + record->netvm +
          (record->netvm_domid ? " (domain " + std::to_string(record->netvm_domid) + ")" : "") +
          (record->vif.empty() ? "" : " over " + record->vif + " via " + record->gateway),
      "done: " + Join(record->done, " ")};
  // A net-vm that is gone took dom0's network with it: say what helps.
  if (started && !xen_.Alive(record->netvm, record->netvm_domid))
    lines.push_back(record->netvm + " is gone: `nic-handoff restore` gives " + record->iface +
                    " back to dom0");
  for (const std::string& vm : xen_.Stranded()) lines.push_back(StrandedLine(vm));
  return lines;
}

Result<std::vector<std::string>> Handoff::Run(HandoffCommand command) {
  if (command == HandoffCommand::kStatus) return Describe();
  // Two runs never interleave: the second is refused while the first holds
  // the lock beside the state file.
  std::optional<FileLock> lock;
  if (!options_.dry_run) {
    Result<FileLock> locked = FileLock::Acquire(options_.state + ".lock", 0);
    // The net-vm's vif comes up during a handoff too: that handoff sets it
    // up itself (and holds the lock while it waits for it).
    if (!locked && command == HandoffCommand::kReconnect && locked.error().errnum == ETIMEDOUT)
      return std::vector<std::string>{"a nic-handoff is under way: it sets up " + options_.vif +
                                      " itself"};
    if (!locked)
      return Error{ExitCode::kTemporary, "take " + options_.state + ".lock",
                   locked.error().errnum == ETIMEDOUT ? "another nic-handoff is running"
                                                      : locked.error().reason,
                   locked.error().errnum};
    lock.emplace(std::move(*locked));
  }
  return RunLocked(command);
}

Result<std::vector<std::string>> Handoff::RunLocked(HandoffCommand command) {
  const bool has_state = access(options_.state.c_str(), F_OK) == 0;
  if (command == HandoffCommand::kReconnect) return Reconnect();
  // Nothing recorded is nothing to undo: restore says so and succeeds, as
  // an operator who runs it twice expects.
  if (command == HandoffCommand::kRestore && !has_state)
    return std::vector<std::string>{"nothing to restore: no handoff is recorded in " +
                                    options_.state};
  if (command == HandoffCommand::kRestore || command == HandoffCommand::kAdopt) {
    if (Status read = ReadState(); !read) return read.error();
    if (command == HandoffCommand::kRestore) {
      std::string restored;
      if (Status undone = Undo(record_.done, restored); !undone) return undone.error();
      return std::vector<std::string>{"restored: " +
                                      (restored.empty() ? "nothing to undo" : restored)};
    }
    record_.netvm = options_.netvm;
    if (Status checked = CheckTarget(command); !checked) return checked.error();
  } else {
    if (has_state)
      return Error{ExitCode::kRefused, "hand " + options_.iface + " over",
                   options_.state +
                       " says a handoff was done or broken off; see `nic-handoff status`, or "
                       "`restore` first",
                   0};
    Result<NicRecord> record = Record();
    if (!record) return record.error();
    record_ = *record;
    if (Status checked = CheckTarget(command); !checked) return checked.error();
    if (Status saved = Save(); !saved) return saved.error();
  }
  std::vector<Step> steps;
  if (command != HandoffCommand::kAdopt) steps = ReleaseSteps();
  if (command != HandoffCommand::kRelease) {
    const std::vector<Step> adopt = AdoptSteps();
    steps.insert(steps.end(), adopt.begin(), adopt.end());
  }
  if (Status taken = Take(steps); !taken) return taken.error();
  std::vector<std::string> plan;
  for (const Step& step : steps) plan.push_back(step.description);
  return plan;
}

}  // namespace qmin
