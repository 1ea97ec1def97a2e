// The broker's current policy: loaded from the policy directories and the VM
// definitions, reloaded when they change. A load with any error leaves a
// policy that denies every call until a later load succeeds (fail closed).
#ifndef QMIN_LIB_POLICY_STORE_H_
#define QMIN_LIB_POLICY_STORE_H_

#include <set>
#include <string>
#include <vector>

#include "error.h"
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
  std::vector<std::string> files;   ///< every policy file read
  std::vector<std::string> errors;  ///< formatted, with file:line and caret
  bool ok() const { return errors.empty(); }
};

/// Loads policy and VM facts. With errors, `policy` is the empty policy.
LoadReport LoadPolicySources(const PolicySources& sources, Policy& policy,
                             std::vector<Rule>* rules_out = nullptr);

/// Reports changes to the files a policy comes from, through inotify: a
/// pollable fd, no polling loop.
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
  /// Watches again after a reload: directories may have come or gone.
  void Rewatch(const PolicySources& sources, const LoadReport& report);

 private:
  explicit PolicyWatch(int fd) : fd_(fd) {}
  int fd_;
  std::set<int> watches_;
};

}  // namespace qmin

#endif  // QMIN_LIB_POLICY_STORE_H_
