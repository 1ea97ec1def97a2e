// qrx-broker: qrexec in dom0: the policy (--evaluate, -n) and the daemon
// that routes calls between VMs.
#include <unistd.h>

#include "broker_policy.h"
#include "cli.h"
#include "event_loop.h"
#include "qrx_broker.h"
#include "text.h"

namespace {

// clang-format off
const qmin::ToolSpec kTool = {
    "qrx-broker",
    "[-dhnv] [--evaluate] [--vm-dir DIR] [--policy-dir DIR]... [--legacy-policy-dir DIR] "
    "[--socket PATH] [--rpc-dir DIR]... [--xvm-start PATH] [--autostart-timeout SECONDS] "
    "[SOURCE TARGET SERVICE[+ARG]]",
    "Route qrexec calls between VMs by Qubes' policy.d rules.",
    {
        {"debug",             'd', "",    "stay in the foreground and log to standard error"},
        {"autostart-timeout", 0,   "SECONDS", "how long a call waits for its target to start (default 60)"},
        {"check",             'n', "",    "check the policy and the VM definitions, then exit"},
        {"evaluate",          0,   "",    "print the decision for SOURCE TARGET SERVICE[+ARG] and exit"},
        {"legacy-policy-dir", 0,   "DIR", "what !compat-4.0 reads (default /etc/qubes-rpc/policy)"},
        {"policy-dir",        0,   "DIR", "a policy directory; repeat for more, earlier wins on equal names"},
        {"rpc-dir",           0,   "DIR", "dom0's services; repeat for more (default /etc/qubes-rpc)"},
        {"socket",            0,   "PATH", "where dom0's qrx-call connects (default /run/qubes/qrx-broker.sock)"},
        {"vm-dir",            0,   "DIR", "VM definitions (default /etc/xvm)"},
        {"xvm-start",         0,   "PATH", "what starts a VM for autostart=yes (default /usr/sbin/xvm-start)"},
    },
    0, 3,
};
// clang-format on

qmin::PolicySources Sources(const qmin::Args& args) {
  qmin::PolicySources sources;
  if (args.Has("policy-dir")) sources.policy_dirs = args.GetAll("policy-dir");
  sources.vm_dir = args.Get("vm-dir", sources.vm_dir);
  sources.legacy_dir = args.Get("legacy-policy-dir", sources.legacy_dir);
  return sources;
}

qmin::Status Evaluate(const qmin::Args& args, qmin::ExitCode& exit_code) {
  const auto& words = args.positionals();
  if (words.size() != 3)
    return qmin::InvalidError("parse the command line",
                              "--evaluate needs SOURCE TARGET SERVICE[+ARG]");
  const qmin::Evaluation evaluation =
      qmin::EvaluateOnce(Sources(args), words[0], words[1], words[2]);
  for (const std::string& error : evaluation.report.errors) qmin::WriteLine(STDERR_FILENO, error);
  qmin::WriteLine(STDOUT_FILENO, qmin::FormatDecision(evaluation.decision));
  exit_code = static_cast<qmin::ExitCode>(qmin::DecisionExitCode(evaluation.decision));
  return {};
}

qmin::Status Check(const qmin::Args& args) {
  std::vector<qmin::Rule> rules;
  const qmin::LoadReport report = qmin::CheckPolicy(Sources(args), rules);
  for (const std::string& error : report.errors) qmin::WriteLine(STDERR_FILENO, error);
  if (!report.ok())
    return qmin::InvalidError("load the policy", std::to_string(report.errors.size()) + " errors");
  if (args.verbosity > 0)
    for (const qmin::Rule& rule : rules) qmin::WriteLine(STDOUT_FILENO, qmin::FormatRule(rule));
  qmin::WriteLine(STDOUT_FILENO, "configuration OK");
  return {};
}

qmin::Status Run(const qmin::Args& args, qmin::Log& log, qmin::ExitCode& exit_code) {
  if (args.Has("evaluate")) return Evaluate(args, exit_code);
  if (!args.positionals().empty())
    return qmin::InvalidError("parse the command line", "operands need --evaluate");
  if (args.Has("check")) return Check(args);
  if (!args.Has("debug")) log.set_sinks(qmin::Log::kSyslog);
  qmin::qrx::BrokerOptions options;
  options.sources = Sources(args);
  options.socket_path = args.Get("socket", options.socket_path);
  if (args.Has("rpc-dir")) options.rpc_dirs = args.GetAll("rpc-dir");
  options.xvm_start = args.Get("xvm-start", options.xvm_start);
  if (args.Has("autostart-timeout")) {
    const auto seconds = qmin::ParseUnsigned(args.Get("autostart-timeout"), 3600);
    if (!seconds || *seconds == 0)
      return qmin::InvalidError("parse the command line",
                                "--autostart-timeout needs 1 to 3600 seconds");
    options.autostart_timeout = std::chrono::seconds(*seconds);
  }
  qmin::Result<qmin::EventLoop> loop = qmin::EventLoop::Create();
  if (!loop) return loop.error();
  qmin::qrx::Broker broker(*loop, options, log);
  if (qmin::Status started = broker.Start(); !started) return started;
  return loop->Run();
}

}  // namespace

int main(int argc, char** argv) { return qmin::RunTool(kTool, argc, argv, Run); }
