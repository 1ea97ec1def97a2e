// The broker's policy: loaded from the policy directories and the VM
// definitions, reloaded when they change (inotify, and SIGHUP). A load with
// any error leaves a policy that denies every call until a later load
// succeeds (fail closed). Also the one-shot forms: -n and --evaluate.
#ifndef QMIN_LIB_POLICY_STORE_H_
#define QMIN_LIB_POLICY_STORE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "error.h"
#include "event_loop.h"
#include "log.h"
#include "policy.h"
#include "policy_eval.h"

namespace qmin {

struct PolicySources {
  std::vector<std::string> policy_dirs = {"/run/qubes/policy.d", "/etc/qubes/policy.d"};
  std::string vm_dir = "/etc/xvm";
  std::string legacy_dir = "/etc/qubes-rpc/policy";
};

struct LoadReport {
  std::size_t rules = 0;
  std::vector<std::string> files;     ///< every policy file read
  std::vector<std::string> errors;    ///< formatted, with file:line and caret
  std::vector<std::string> warnings;  ///< files skipped, said but not fatal
  /// VM definitions that could not be read: each makes its one VM unknown
  /// (its calls are denied), and the rest of the policy works.
  std::vector<std::string> vm_errors;
  std::size_t vms = 0;  ///< VMs defined (dom0 aside)
  bool ok() const { return errors.empty(); }
};

/// Loads policy and VM facts. With errors in the policy files, `policy`
/// denies every call and says so.
LoadReport LoadPolicySources(const PolicySources& sources, Policy& policy,
                             std::vector<Rule>* rules_out = nullptr);

/// "1 error", "3 errors".
std::string CountErrors(std::size_t count);
/// Why every call is denied after a load with errors.
std::string NotLoaded(const LoadReport& report);

/// Reports changes to the files a policy comes from, through inotify: a
/// pollable fd, no polling loop. A policy directory that is removed and made
/// again is followed through its parent.
class PolicyWatch {
 public:
  /// Watches the sources' directories and those of the files `report` read.
  static Result<PolicyWatch> Open(const PolicySources& sources, const LoadReport& report);
  PolicyWatch(PolicyWatch&& other) noexcept;
  PolicyWatch& operator=(PolicyWatch&&) = delete;
  PolicyWatch(const PolicyWatch&) = delete;
  ~PolicyWatch();

  int fd() const { return fd_; }
  /// Reads all pending events; true if any concerned the policy. Never blocks.
  bool Drain();
  /// Watches again: directories may have come or gone.
  void Rewatch(const PolicySources& sources, const LoadReport& report);

 private:
  explicit PolicyWatch(int fd) : fd_(fd) {}
  int fd_;
  /// watch -> the one name that matters in it ("" for any: a watched directory).
  std::map<int, std::string> watches_;
};

/// The daemon's policy, kept current on the event loop.
class PolicyStore {
 public:
  PolicyStore(EventLoop& loop, Log& log, PolicySources sources);
  ~PolicyStore();
  PolicyStore(const PolicyStore&) = delete;
  PolicyStore& operator=(const PolicyStore&) = delete;

  Status Start();
  /// Loads again now (SIGHUP).
  void Reload();
  const Policy& policy() const { return policy_; }

 private:
  void OnChange();
  void Report(const LoadReport& report);

  EventLoop& loop_;
  Log& log_;
  PolicySources sources_;
  Policy policy_;
  LoadReport last_;
  bool loaded_once_ = false;
  std::unique_ptr<PolicyWatch> watch_;
  EventLoop::TimerId settle_ = 0;
};

struct Evaluation {
  Decision decision;
  LoadReport report;  ///< errors here mean the decision is a fail-closed deny
};

/// Loads everything and decides one call; TARGET "" means @default.
Evaluation EvaluateOnce(const PolicySources& sources, const std::string& source,
                        const std::string& target, const std::string& call);

/// Loads everything for -n; `rules` gets the parsed rules for -v.
LoadReport CheckPolicy(const PolicySources& sources, std::vector<Rule>& rules);

}  // namespace qmin

#endif  // QMIN_LIB_POLICY_STORE_H_
