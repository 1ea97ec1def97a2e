// The policy side of qrx-broker: one-shot evaluation (--evaluate), the
// configuration check (-n), and the daemon loop that keeps the policy
// current (reload on SIGHUP and on any change to its files).
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

/// Runs until SIGTERM or SIGINT: loads the policy, then reloads it on SIGHUP
/// and when its files change. Logs every load; a failed one loudly, with
/// every error, and from then on the policy denies every call until fixed.
Status ServePolicy(const PolicySources& sources, Log& log);

}  // namespace qmin

#endif  // QMIN_LIB_BROKER_POLICY_H_
