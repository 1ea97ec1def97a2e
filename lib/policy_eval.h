// Evaluating qrexec calls against a parsed policy with Qubes' semantics:
// first match wins, no match denies, an unknown target counts as @default,
// source == target is denied, target= redirects after the match, ask offers
// the targets Qubes would offer (never the caller, unless target= names it). Rules are indexed by
// service, so a decision costs microseconds with 10,000 rules.
#ifndef QMIN_LIB_POLICY_EVAL_H_
#define QMIN_LIB_POLICY_EVAL_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "policy.h"
#include "vm_facts.h"

namespace qmin {

struct PolicyRequest {
  std::string service;
  std::string argument = "+";  ///< "+ARG"; "+" for none
  std::string source;          ///< a VM name
  std::string target;          ///< as the caller asked; "" means @default
};

/// Splits "SERVICE+ARG" as Qubes does; no '+' means the empty argument.
PolicyRequest SplitServiceArgument(const std::string& call);

struct Decision {
  enum class Verdict { kAllow, kAsk, kDeny };
  Verdict verdict = Verdict::kDeny;
  std::string target;                ///< allow: where the call goes
  std::vector<std::string> targets;  ///< ask: candidates, sorted
  std::string default_target;        ///< ask: "" for none
  std::string user;                  ///< "" for the target's default user
  bool notify = false;
  bool autostart = true;
  std::string rule;     ///< "FILE:LINE" of the deciding rule, or ""
  std::string reason;   ///< why, for deny and for the log
  std::string warning;  ///< something in the deciding rule the operator should fix, or ""
};

/// One line: "allow target=T user=U ...", "ask targets=A,B default_target=D
/// user=U ...", or "deny ...".
std::string FormatDecision(const Decision& decision);

/// The status of qrx-broker --evaluate: allow, deny or ask (exit.h).
int EvaluateExitCode(const Decision& decision);

class Policy {
 public:
  /// An empty policy: it denies everything.
  Policy() = default;
  Policy(std::vector<Rule> rules, VmTable vms);
  /// A policy that denies everything and says why in every decision (the
  /// policy files could not be loaded).
  static Policy DenyingAll(std::string why);

  /// `running` says whether a VM runs, for autostart=no; null means all do.
  Decision Evaluate(const PolicyRequest& request,
                    const std::function<bool(const std::string&)>& running = nullptr) const;

  /// The same decision by a plain scan of every rule: the baseline of make bench.
  Decision EvaluateWithoutIndex(const PolicyRequest& request) const;

  /// Who runs user=DEFAULT calls in `vm` (xvm_default_user; root in dom0).
  std::string DefaultUser(const std::string& vm) const;
  /// What the caller asked for as the policy reads it: a VM name, or
  /// @adminvm, @default (also for names that are no VM), @dispvm...
  std::string RequestedTarget(const std::string& requested) const;

  std::size_t size() const { return rules_.size(); }
  const VmTable& vms() const { return vms_; }
  const std::vector<Rule>& rules() const { return rules_; }

 private:
  struct Normalized {
    std::string target;  // a VM name, "@adminvm", "@default", "@dispvm" or "@dispvm:NAME"
    std::string error;   // non-empty: the request itself is refused
  };
  Normalized NormalizeTarget(const std::string& requested) const;
  bool MatchesSource(const VmToken& token, const std::string& source) const;
  bool MatchesTarget(const VmToken& token, const std::string& target) const;
  bool MatchesButTarget(const Rule& rule, const PolicyRequest& request) const;
  std::vector<std::size_t> CandidateRules(const std::string& service) const;
  Decision Decide(const Rule& rule, const PolicyRequest& request, const std::string& target,
                  const std::function<bool(const std::string&)>& running) const;
  Decision DecideFirstMatch(const PolicyRequest& request, bool use_index,
                            const std::function<bool(const std::string&)>& running) const;
  std::vector<std::string> Expand(const VmToken& token) const;
  std::vector<std::string> AskTargets(const PolicyRequest& request) const;
  std::vector<std::string> AskChoices(const Rule& rule, const PolicyRequest& request) const;

  std::vector<Rule> rules_;
  VmTable vms_;
  std::string denies_all_;  ///< non-empty: every decision is a deny for this reason
  std::map<std::string, std::vector<std::size_t>, std::less<>> by_service_;
  std::vector<std::size_t> any_service_;
};

}  // namespace qmin

#endif  // QMIN_LIB_POLICY_EVAL_H_
