// libFuzzer target: the policy parser and the evaluator on arbitrary bytes.
// Includes resolve against a directory that does not exist, so the fuzzer
// never reads the file system.
#include <cstddef>
#include <cstdint>
#include <string>

#include "policy.h"
#include "policy_eval.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  qmin::ParsedPolicy parsed = qmin::ParsePolicyText(text, "fuzz.policy", "/nonexistent");
  for (const qmin::PolicyError& error : parsed.errors) (void)qmin::FormatPolicyError(error);
  for (const qmin::Rule& rule : parsed.rules) (void)qmin::FormatRule(rule);
  qmin::VmTable vms;
  vms["dom0"] = {"AdminVM", {}};
  vms["work"] = {"AppVM", {"work"}};
  vms["personal"] = {"AppVM", {}};
  const qmin::Policy policy(std::move(parsed.rules), vms);
  for (const char* target : {"", "personal", "dom0", "@dispvm", "ghost", "@default"}) {
    qmin::PolicyRequest request = qmin::SplitServiceArgument("qubes.Filecopy+x");
    request.source = "work";
    request.target = target;
    (void)qmin::FormatDecision(policy.Evaluate(request));
  }
  return 0;
}
