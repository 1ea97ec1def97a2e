#include "policy_eval.h"

#include <algorithm>
#include <set>

#include "exit.h"

namespace qmin {
namespace {

Decision Deny(std::string reason, std::string rule = "") {
  Decision decision;
  decision.reason = std::move(reason);
  decision.rule = std::move(rule);
  return decision;
}

std::string Where(const Rule& rule) { return rule.file + ":" + std::to_string(rule.line); }

// dom0 is named "dom0" in decisions, "@adminvm" while matching (Qubes' habit).
std::string Named(const std::string& target) {
  return target == "@adminvm" ? kAdminVmName : target;
}

}  // namespace

PolicyRequest SplitServiceArgument(const std::string& call) {
  PolicyRequest request;
  const std::size_t plus = call.find('+');
  request.service = call.substr(0, plus);
  request.argument = plus == std::string::npos ? "+" : call.substr(plus);
  return request;
}

Policy::Policy(std::vector<Rule> rules, VmTable vms)
    : rules_(std::move(rules)), vms_(std::move(vms)) {
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    if (rules_[i].service.empty()) {
      any_service_.push_back(i);
    } else {
      by_service_[rules_[i].service].push_back(i);
    }
  }
}

// What the caller asked for, as Qubes' IntendedTarget sees it: "dom0" is
// @adminvm, "" is @default, a name that is no VM is @default too (so that a
// caller cannot probe which VMs exist), and @dispvm:X needs a DispVM template.
Policy::Normalized Policy::NormalizeTarget(const std::string& requested) const {
  if (requested.empty()) return {"@default", ""};
  std::string why;
  auto token = ParseVmToken(requested, TokenContext::kRequest, why);
  if (!token) {
    // An invalid name is still just "no such VM"; an invalid keyword is refused.
    if (requested.find_first_of("@$") == std::string::npos) return {"@default", ""};
    return {"", why};
  }
  switch (token->kind) {
    case TokenKind::kName:
      return {vms_.count(token->value) != 0 ? token->value : "@default", ""};
    case TokenKind::kDispVmTemplate:
      return {"", "not a template for dispvm: " + token->value};
    default:
      return {token->text, ""};
  }
}

bool Policy::MatchesSource(const VmToken& token, const std::string& source) const {
  return MatchesTarget(token, source);
}

bool Policy::MatchesTarget(const VmToken& token, const std::string& target) const {
  const auto vm = vms_.find(target);
  switch (token.kind) {
    case TokenKind::kName:
      return token.value == target;
    case TokenKind::kWildcard:
      return true;
    case TokenKind::kAnyVm:
      return target != "@adminvm";
    case TokenKind::kAdminVm:
    case TokenKind::kDefault:
    case TokenKind::kDispVm:
    case TokenKind::kDispVmTemplate:
      return token.text == target;
    case TokenKind::kTag:
      return vm != vms_.end() && vm->second.tags.count(token.value) != 0;
    case TokenKind::kType:
      return vm != vms_.end() && vm->second.type == token.value;
    case TokenKind::kDispVmTag:
      return false;  // qmin has no DispVM templates
  }
  return false;
}

bool Policy::MatchesButTarget(const Rule& rule, const PolicyRequest& request) const {
  return (rule.service.empty() || rule.service == request.service) &&
         (rule.argument.empty() || rule.argument == request.argument) &&
         MatchesSource(rule.source, request.source);
}

// Rules for this service and for *, in policy order: the two index lists merged.
std::vector<std::size_t> Policy::CandidateRules(const std::string& service) const {
  const auto named = by_service_.find(service);
  if (named == by_service_.end()) return any_service_;
  std::vector<std::size_t> merged;
  merged.reserve(named->second.size() + any_service_.size());
  std::merge(named->second.begin(), named->second.end(), any_service_.begin(), any_service_.end(),
             std::back_inserter(merged));
  return merged;
}

// Every VM a token stands for, as Qubes' expand() lists them for ask.
std::vector<std::string> Policy::Expand(const VmToken& token) const {
  std::vector<std::string> names;
  for (const auto& [name, facts] : vms_) {
    const std::string as_target = name == kAdminVmName ? "@adminvm" : name;
    bool include = false;
    switch (token.kind) {
      case TokenKind::kName:
        include = token.value == name;
        break;
      case TokenKind::kWildcard:
        include = true;
        break;
      case TokenKind::kAnyVm:
        include = facts.type != "AdminVM";
        break;
      case TokenKind::kAdminVm:
        include = name == kAdminVmName;
        break;
      case TokenKind::kTag:
        include = facts.tags.count(token.value) != 0;
        break;
      case TokenKind::kType:
        include = facts.type == token.value;
        break;
      default:
        break;  // @default and the DispVM forms expand to nothing here
    }
    if (include) names.push_back(Named(as_target));
  }
  return names;
}

// Qubes' collect_targets_for_ask: every rule for this service, argument and
// source, last to first; allow and ask add their targets, deny removes them.
std::vector<std::string> Policy::AskTargets(const PolicyRequest& request) const {
  std::set<std::string> targets;
  const std::vector<std::size_t> candidates = CandidateRules(request.service);
  for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
    const Rule& rule = rules_[*it];
    if (!MatchesButTarget(rule, request)) continue;
    const VmToken& token = rule.verb != Verb::kDeny && rule.redirect ? *rule.redirect : rule.target;
    for (const std::string& name : Expand(token)) {
      if (rule.verb == Verb::kDeny) {
        targets.erase(name);
      } else {
        targets.insert(name);
      }
    }
  }
  // Qubes' engine offers the caller none of its own calls. (@dispvm expands
  // to the caller's default DispVM, which no qmin VM has; @adminvm is dom0
  // already, by Expand.)
  targets.erase(request.source);
  return {targets.begin(), targets.end()};
}

// What an ask rule offers. With target=X, exactly X (dom0 for @adminvm), even
// when X is the caller: Qubes refuses that choice later, when the call runs,
// as a loopback call. qmin has no disposable VMs, so a DispVM offers nothing.
std::vector<std::string> Policy::AskChoices(const Rule& rule, const PolicyRequest& request) const {
  if (!rule.redirect) return AskTargets(request);
  switch (rule.redirect->kind) {
    case TokenKind::kDispVm:
    case TokenKind::kDispVmTemplate:
    case TokenKind::kDispVmTag:
      return {};
    default:
      return {Named(rule.redirect->text)};
  }
}

Decision Policy::Decide(const Rule& rule, const PolicyRequest& request, const std::string& target,
                        const std::function<bool(const std::string&)>& running) const {
  const std::string where = Where(rule);
  if (rule.verb == Verb::kDeny) return Deny("denied by policy", where);
  const auto available = [&](const std::string& name) {
    return rule.autostart || name == kAdminVmName || !running || running(name);
  };
  Decision decision;
  decision.rule = where;
  decision.user = rule.user;
  decision.notify = rule.notify;
  decision.autostart = rule.autostart;
  if (rule.verb == Verb::kAllow) {
    std::string actual = target;
    if (rule.redirect) {
      const Normalized redirected = NormalizeTarget(rule.redirect->text);
      if (!redirected.error.empty()) return Deny(redirected.error, where);
      actual = redirected.target;
    }
    if (actual == "@default")
      return Deny("allow without a target from the caller or the policy", where);
    if (actual == "@dispvm") return Deny("qmin has no disposable VMs", where);
    actual = Named(actual);
    if (actual == request.source)
      return Deny("a call to the calling VM itself is not supported", where);
    if (!available(actual)) return Deny("target " + actual + " would need autostart", where);
    decision.verdict = Decision::Verdict::kAllow;
    decision.target = actual;
    return decision;
  }
  std::vector<std::string> targets = AskChoices(rule, request);
  std::erase_if(targets, [&](const std::string& name) { return !available(name); });
  if (targets.empty()) return Deny("no target is available to choose from", where);
  decision.verdict = Decision::Verdict::kAsk;
  if (rule.default_target) {
    const std::string wanted = Named(rule.default_target->text);
    if (std::find(targets.begin(), targets.end(), wanted) != targets.end()) {
      decision.default_target = wanted;
    } else {
      decision.warning = "default_target=" + wanted + " of " + where +
                         " is not among the targets to choose from; it is dropped";
    }
  }
  decision.targets = std::move(targets);
  return decision;
}

Policy Policy::DenyingAll(std::string why) {
  Policy policy;
  policy.denies_all_ = std::move(why);
  return policy;
}

Decision Policy::DecideFirstMatch(const PolicyRequest& request, bool use_index,
                                  const std::function<bool(const std::string&)>& running) const {
  if (!denies_all_.empty()) return Deny(denies_all_);
  if (vms_.count(request.source) == 0 || request.source == kAdminVmName)
    return Deny("unknown source " + request.source);
  const Normalized target = NormalizeTarget(request.target);
  if (!target.error.empty()) return Deny(target.error);
  const auto matches = [&](const Rule& rule) {
    return MatchesButTarget(rule, request) && MatchesTarget(rule.target, target.target);
  };
  if (use_index) {
    for (std::size_t index : CandidateRules(request.service))
      if (matches(rules_[index])) return Decide(rules_[index], request, target.target, running);
  } else {
    for (const Rule& rule : rules_)
      if (matches(rule)) return Decide(rule, request, target.target, running);
  }
  return Deny("no matching rule found");
}

Decision Policy::Evaluate(const PolicyRequest& request,
                          const std::function<bool(const std::string&)>& running) const {
  return DecideFirstMatch(request, true, running);
}

Decision Policy::EvaluateWithoutIndex(const PolicyRequest& request) const {
  return DecideFirstMatch(request, false, nullptr);
}

std::string Policy::DefaultUser(const std::string& vm) const {
  const auto facts = vms_.find(vm);
  return facts == vms_.end() ? VmFacts{}.default_user : facts->second.default_user;
}

std::string Policy::RequestedTarget(const std::string& requested) const {
  const Normalized target = NormalizeTarget(requested);
  return target.error.empty() ? target.target : "@default";
}

int EvaluateExitCode(const Decision& decision) {
  switch (decision.verdict) {
    case Decision::Verdict::kAllow:
      return evaluate_exit::kAllow;
    case Decision::Verdict::kAsk:
      return evaluate_exit::kAsk;
    case Decision::Verdict::kDeny:
      return evaluate_exit::kDeny;
  }
  return evaluate_exit::kDeny;
}

std::string FormatDecision(const Decision& decision) {
  const std::string user = decision.user.empty() ? "DEFAULT" : decision.user;
  std::string line;
  switch (decision.verdict) {
    case Decision::Verdict::kAllow:
      line = "allow target=" + decision.target + " user=" + user;
      break;
    case Decision::Verdict::kAsk: {
      line = "ask targets=";
      for (std::size_t i = 0; i < decision.targets.size(); ++i)
        line += (i == 0 ? "" : ",") + decision.targets[i];
      line +=
          " default_target=" + (decision.default_target.empty() ? "-" : decision.default_target);
      line += " user=" + user;
      break;
    }
    case Decision::Verdict::kDeny:
      line = "deny";
      break;
  }
  if (decision.verdict != Decision::Verdict::kDeny) {
    line += std::string(" notify=") + (decision.notify ? "yes" : "no");
    line += std::string(" autostart=") + (decision.autostart ? "yes" : "no");
  }
  if (!decision.rule.empty()) line += " rule=" + decision.rule;
  return line;
}

}  // namespace qmin
