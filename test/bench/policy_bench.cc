// make bench: policy load time and time per decision, with 100 and 10,000
// rules, each decision also timed by a plain scan of every rule in the same
// run: the ratio is the result, these machines being noisy.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "policy.h"
#include "policy_eval.h"

namespace {

using Clock = std::chrono::steady_clock;

// RULES rules over RULES/10 services, ten sources each, and catch-alls last.
std::string MakePolicy(int rules) {
  std::string text;
  for (int i = 0; i < rules - 2; ++i)
    text += "svc" + std::to_string(i / 10) + " * vm" + std::to_string(i % 10) + " @anyvm allow\n";
  text += "* * @anyvm personal deny\n* * @anyvm @anyvm ask\n";
  return text;
}

qmin::VmTable MakeVms() {
  qmin::VmTable vms;
  vms["dom0"] = {"AdminVM", {}};
  vms["personal"] = {"AppVM", {}};
  vms["target"] = {"AppVM", {}};
  for (int i = 0; i < 10; ++i) vms["vm" + std::to_string(i)] = {"AppVM", {}};
  return vms;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

template <typename Decide>
double PerDecision(const qmin::Policy& policy, int calls, Decide decide) {
  const int services = static_cast<int>(policy.size() / 10) + 1;
  std::size_t allowed = 0;
  const auto start = Clock::now();
  for (int i = 0; i < calls; ++i) {
    qmin::PolicyRequest request =
        qmin::SplitServiceArgument("svc" + std::to_string((i * 7919) % services));
    request.source =
        "vm" + std::to_string(9 - i % 10);  // the last source of each service: a deep match
    request.target = "target";
    allowed += decide(policy, request).verdict == qmin::Decision::Verdict::kAllow;
  }
  const double seconds = Seconds(Clock::now() - start) / calls;
  if (allowed == 0) std::fprintf(stderr, "bench: no call was allowed; the benchmark is wrong\n");
  return seconds;
}

void Run(int rules) {
  const std::string text = MakePolicy(rules);
  auto start = Clock::now();
  qmin::ParsedPolicy parsed = qmin::ParsePolicyText(text, "bench.policy");
  const qmin::Policy policy(std::move(parsed.rules), MakeVms());
  const double load = Seconds(Clock::now() - start);
  const int calls = rules >= 10000 ? 2000 : 20000;
  const double indexed =
      PerDecision(policy, calls * 10, [](const auto& p, const auto& r) { return p.Evaluate(r); });
  const double scanned = PerDecision(
      policy, calls, [](const auto& p, const auto& r) { return p.EvaluateWithoutIndex(r); });
  std::printf(
      "policy %5d rules: load %7.2f ms; decision %6.2f us indexed, %8.2f us by full scan (%.0fx)\n",
      rules, load * 1e3, indexed * 1e6, scanned * 1e6, scanned / indexed);
}

}  // namespace

int main() {
  Run(100);
  Run(10000);
  return 0;
}
