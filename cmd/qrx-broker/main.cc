// qrx-broker: qrexec in dom0: the policy (--evaluate, -n) and the daemon
// that routes calls between VMs.
#include <unistd.h>

#include "cli.h"
#include "daemon.h"
#include "files.h"
#include "policy_store.h"
#include "qrx_broker.h"
#include "text.h"
#include "vchan.h"

namespace {

// clang-format off
const qmin::ToolSpec kTool = {
    "qrx-broker",
    "[-dhnv] [--evaluate] [--vm-dir DIR] [--policy-dir DIR]... [--legacy-policy-dir DIR] "
    "[--socket PATH] [--rpc-dir DIR]... [--xvm-start PATH] [--autostart-timeout SECONDS] "
    "[--ask-program PATH] [--stopping-flag PATH] [SOURCE TARGET SERVICE[+ARG]]",
    "Route qrexec calls between VMs by Qubes' policy.d rules.",
    {
        {"ask-program",       0,   "PATH", "decides `ask' rules: prints the target it allows, or nothing"},
        {"autostart-timeout", 0,   "SECONDS", "how long a call waits for its target to start (default 60)"},
        {"check",             'n', "",    "check the options, the policy and the VM definitions, then exit"},
        {"debug",             'd', "",    "stay in the foreground and log to standard error"},
        {"evaluate",          0,   "",    "print the decision for SOURCE TARGET SERVICE[+ARG] and exit"},
        {"legacy-policy-dir", 0,   "DIR", "what !compat-4.0 reads (default /etc/qubes-rpc/policy)"},
        {"policy-dir",        0,   "DIR", "a policy directory; repeat for more, earlier wins on equal names"},
        {"rpc-dir",           0,   "DIR", "dom0's services, in order; repeat for more "
                                          "(default /usr/local/etc/qubes-rpc, then /etc/qubes-rpc)"},
        {"socket",            0,   "PATH", "where dom0's qrx-call connects (default /run/qubes/qrx-broker.sock)"},
        {"stopping-flag",     0,   "PATH", "while it exists, no VM is started (default /run/xvm-stopping)"},
        {"vm-dir",            0,   "DIR", "VM definitions (default /etc/xvm)"},
        {"xvm-start",         0,   "PATH", "what starts a VM for autostart=yes (default /usr/sbin/xvm-start)"},
    },
    0, 3, false, qmin::VchanTransportName(),
};
// clang-format on

// Every option the daemon takes, checked here once, for -n and the daemon alike.
qmin::Result<qmin::qrx::BrokerOptions> Options(const qmin::Args& args) {
  qmin::qrx::BrokerOptions options;
  if (args.Has("policy-dir")) options.sources.policy_dirs = args.GetAll("policy-dir");
  options.sources.vm_dir = args.Get("vm-dir", options.sources.vm_dir);
  options.sources.legacy_dir = args.Get("legacy-policy-dir", options.sources.legacy_dir);
  options.socket_path = args.Get("socket", options.socket_path);
  if (args.Has("rpc-dir")) options.runner.rpc_dirs = args.GetAll("rpc-dir");
  options.xvm_start = args.Get("xvm-start", options.xvm_start);
  options.stopping_flag = args.Get("stopping-flag", options.stopping_flag);
  options.ask_program = args.Get("ask-program");
  if (!options.ask_program.empty() && access(options.ask_program.c_str(), X_OK) != 0)
    return qmin::SystemError("use --ask-program " + options.ask_program, errno,
                             qmin::ExitCode::kUsage);
  const auto seconds = args.Number("autostart-timeout", {1, 3600, "seconds"},
                                   static_cast<std::uint64_t>(options.autostart_timeout.count()));
  if (!seconds) return seconds.error();
  options.autostart_timeout = std::chrono::seconds(*seconds);
  return options;
}

qmin::Result<int> Evaluate(const qmin::Args& args, const qmin::PolicySources& sources,
                           qmin::Log& log) {
  const auto& words = args.positionals();
  if (words.size() != 3) return qmin::UsageError("--evaluate needs SOURCE TARGET SERVICE[+ARG]");
  const qmin::Evaluation evaluation = qmin::EvaluateOnce(sources, words[0], words[1], words[2]);
  qmin::WriteLines(STDERR_FILENO, evaluation.report.errors);
  for (const std::string& error : evaluation.report.vm_errors)
    log.Warning("VM definition error: " + error);
  if (!evaluation.decision.warning.empty()) log.Warning(evaluation.decision.warning);
  qmin::WriteLine(STDOUT_FILENO, qmin::FormatDecision(evaluation.decision));
  return qmin::EvaluateExitCode(evaluation.decision);
}

qmin::Result<int> Check(const qmin::Args& args, const qmin::PolicySources& sources,
                        qmin::Log& log) {
  std::vector<qmin::Rule> rules;
  const qmin::LoadReport report = qmin::CheckPolicy(sources, rules);
  for (const std::string& warning : report.warnings) log.Warning("policy file skipped: " + warning);
  qmin::WriteLines(STDERR_FILENO, report.errors);
  qmin::WriteLines(STDERR_FILENO, report.vm_errors);
  if (!report.ok())
    return qmin::InvalidError("load the policy", qmin::CountErrors(report.errors.size()));
  if (!report.vm_errors.empty())
    return qmin::InvalidError("load the VM definitions",
                              qmin::CountErrors(report.vm_errors.size()));
  for (const std::string& dir : sources.policy_dirs)
    if (!qmin::IsDirectory(dir)) log.Warning("policy directory " + dir + " is missing");
  if (rules.empty()) log.Warning("the policy holds no rule: every call will be denied");
  if (args.verbosity > 0) {
    for (const qmin::Rule& rule : rules) qmin::WriteLine(STDOUT_FILENO, qmin::FormatRule(rule));
    qmin::WriteLine(STDOUT_FILENO, std::to_string(rules.size()) + " rules from " +
                                       std::to_string(report.files.size()) + " files, " +
                                       std::to_string(report.vms) + " VMs");
  }
  qmin::WriteLine(STDOUT_FILENO, "configuration OK");
  return 0;
}

qmin::Result<int> Run(const qmin::Args& args, qmin::Log& log) {
  qmin::Result<qmin::qrx::BrokerOptions> options = Options(args);
  if (!options) return options.error();
  if (args.Has("evaluate")) return Evaluate(args, options->sources, log);
  if (!args.positionals().empty()) return qmin::UsageError("operands need --evaluate");
  if (args.Has("check")) return Check(args, options->sources, log);
  return qmin::RunDaemon<qmin::qrx::Broker>(args, log, std::move(*options));
}

}  // namespace

int main(int argc, char** argv) { return qmin::RunTool(kTool, argc, argv, Run); }
