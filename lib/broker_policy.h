// The policy side of qrx-broker: one-shot evaluation (--evaluate), the
// configuration check (-n), and how the daemon reports its policy loads.
#ifndef QMIN_LIB_BROKER_POLICY_H_
#define QMIN_LIB_BROKER_POLICY_H_

#include <string>
#include <vector>

#include "error.h"
#include "log.h"
#include "policy_eval.h"
#include "policy_store.h"

namespace qmin {

/// Exit status of --evaluate: 0 allow, 2 ask, 1 deny.
int DecisionExitCode(const Decision& decision);

struct Evaluation {
  Decision decision;
  LoadReport report;  ///< errors here mean the decision is a fail-closed deny
};

/// Loads everything and decides one call; TARGET "" means @default.
Evaluation EvaluateOnce(const PolicySources& sources, const std::string& source,
                        const std::string& target, const std::string& call);

/// Loads everything for -n; `rules` gets the parsed rules for -v.
LoadReport CheckPolicy(const PolicySources& sources, std::vector<Rule>& rules);

/// Logs a load: its size, or loudly every error and that calls are denied.
/// `what` is "load" or "reload".
void LogPolicyLoad(Log& log, const LoadReport& report, const std::string& what);

}  // namespace qmin

#endif  // QMIN_LIB_BROKER_POLICY_H_
