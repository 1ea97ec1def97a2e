#include "broker_policy.h"

namespace qmin {

void LogPolicyLoad(Log& log, const LoadReport& report, const std::string& what) {
  if (report.ok()) {
    log.Info("policy " + what + "ed: " + std::to_string(report.rules) + " rules from " +
             std::to_string(report.files.size()) + " files");
    return;
  }
  for (const std::string& error : report.errors) log.Warning("policy error: " + error);
  const std::size_t count = report.errors.size();
  log.Error(InvalidError(what + " the policy", std::to_string(count) +
                                                   (count == 1 ? " error" : " errors") +
                                                   "; every call is denied until fixed"));
}

int DecisionExitCode(const Decision& decision) {
  switch (decision.verdict) {
    case Decision::Verdict::kAllow:
      return 0;
    case Decision::Verdict::kAsk:
      return 2;
    case Decision::Verdict::kDeny:
      return 1;
  }
  return 1;
}

Evaluation EvaluateOnce(const PolicySources& sources, const std::string& source,
                        const std::string& target, const std::string& call) {
  Evaluation evaluation;
  Policy policy;
  evaluation.report = LoadPolicySources(sources, policy);
  PolicyRequest request = SplitServiceArgument(call);
  request.source = source;
  request.target = target;
  evaluation.decision = policy.Evaluate(request);
  if (!evaluation.report.ok()) evaluation.decision.reason = "the policy has errors";
  return evaluation;
}

LoadReport CheckPolicy(const PolicySources& sources, std::vector<Rule>& rules) {
  Policy policy;
  return LoadPolicySources(sources, policy, &rules);
}

}  // namespace qmin
