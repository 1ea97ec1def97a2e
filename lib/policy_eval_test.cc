#include "policy_eval.h"

#include <gtest/gtest.h>

namespace qmin {
namespace {

VmTable TestVms() {
  VmTable vms;
  vms["dom0"] = {"AdminVM", {}};
  for (const char* name : {"personal", "work-pub", "mytcp-client", "mytcp-server", "source_vm1",
                           "target_vm", "vault", "sys-firewall"})
    vms[name] = {"AppVM", {}};
  vms["work"] = {"AppVM", {"work"}};
  vms["work-files"] = {"AppVM", {"work"}};
  vms["work-mail"] = {"AppVM", {"mail"}};
  vms["sys-net"] = {"NetVM", {}};
  vms["fedora-36"] = {"TemplateVM", {}};
  vms["anon-whonix"] = {"AppVM", {"anon-vm"}};
  return vms;
}

Policy Make(const std::string& text) {
  ParsedPolicy parsed = ParsePolicyText(text, "t.policy");
  EXPECT_TRUE(parsed.errors.empty()) << FormatPolicyError(parsed.errors[0]);
  return Policy(std::move(parsed.rules), TestVms());
}

// The decision line for SOURCE TARGET SERVICE[+ARG], as --evaluate prints it,
// without the rule= and flag fields.
std::string Decide(const Policy& policy, const std::string& source, const std::string& target,
                   const std::string& call) {
  PolicyRequest request = SplitServiceArgument(call);
  request.source = source;
  request.target = target;
  const Decision decision = policy.Evaluate(request);
  EXPECT_EQ(FormatDecision(decision), FormatDecision(policy.EvaluateWithoutIndex(request)))
      << "the index changed the decision";
  std::string line = FormatDecision(decision);
  return line.substr(
      0, line.find(decision.verdict == Decision::Verdict::kDeny ? " rule=" : " notify="));
}

TEST(SplitServiceArgumentTest, LikeQubes) {
  EXPECT_EQ(SplitServiceArgument("qubes.Filecopy").argument, "+");
  EXPECT_EQ(SplitServiceArgument("test.File+testfile1").argument, "+testfile1");
  EXPECT_EQ(SplitServiceArgument("test.File+").argument, "+");
  EXPECT_EQ(SplitServiceArgument("a+b+c").service, "a");
  EXPECT_EQ(SplitServiceArgument("a+b+c").argument, "+b+c");
}

// reference/qubes-qrexec.md §2.10, each with the decisions Qubes gives.
TEST(QubesExamplesTest, AskEverywhere) {
  const Policy policy = Make("test.Add * * * ask\n");
  EXPECT_EQ(Decide(policy, "work", "personal", "test.Add"),
            "ask targets=anon-whonix,dom0,fedora-36,mytcp-client,mytcp-server,personal,source_vm1,"
            "sys-firewall,sys-net,target_vm,vault,work-files,work-mail,work-pub "
            "default_target=- user=DEFAULT")
      << "every VM but the caller, as in Qubes' collect_targets_for_ask";
}

TEST(QubesExamplesTest, PerArgumentAllowThenDenyTheRest) {
  const Policy policy =
      Make("test.File +testfile1 source_vm1 target_vm allow\ntest.File * * * deny\n");
  EXPECT_EQ(Decide(policy, "source_vm1", "target_vm", "test.File+testfile1"),
            "allow target=target_vm user=DEFAULT");
  EXPECT_EQ(Decide(policy, "source_vm1", "target_vm", "test.File+testfile2"), "deny");
  EXPECT_EQ(Decide(policy, "source_vm1", "target_vm", "test.File"), "deny");
  EXPECT_EQ(Decide(policy, "work", "target_vm", "test.File+testfile1"), "deny");
}

TEST(QubesExamplesTest, BlockEveryServiceBetweenTwoQubes) {
  const Policy policy = Make("* * work personal deny\n* * @anyvm @anyvm allow\n");
  EXPECT_EQ(Decide(policy, "work", "personal", "qubes.Filecopy"), "deny");
  EXPECT_EQ(Decide(policy, "personal", "work", "qubes.Filecopy"), "allow target=work user=DEFAULT");
}

TEST(QubesExamplesTest, AllowListForOneQube) {
  const Policy policy = Make("* * work work-pub allow\n* * work * deny\n");
  EXPECT_EQ(Decide(policy, "work", "work-pub", "any.Service"),
            "allow target=work-pub user=DEFAULT");
  EXPECT_EQ(Decide(policy, "work", "personal", "any.Service"), "deny");
  EXPECT_EQ(Decide(policy, "work", "dom0", "any.Service"), "deny");
}

TEST(QubesExamplesTest, RedirectOfAnUntargetedCall) {
  const Policy policy =
      Make("qubes.ConnectTCP * mytcp-client @default allow target=mytcp-server\n");
  EXPECT_EQ(Decide(policy, "mytcp-client", "", "qubes.ConnectTCP+444"),
            "allow target=mytcp-server user=DEFAULT");
  EXPECT_EQ(Decide(policy, "mytcp-client", "@default", "qubes.ConnectTCP"),
            "allow target=mytcp-server user=DEFAULT");
  // An explicit target is not @default; an unknown one counts as @default.
  EXPECT_EQ(Decide(policy, "mytcp-client", "mytcp-server", "qubes.ConnectTCP"), "deny");
  EXPECT_EQ(Decide(policy, "mytcp-client", "no-such-vm", "qubes.ConnectTCP"),
            "allow target=mytcp-server user=DEFAULT");
}

TEST(QubesExamplesTest, UpdatesProxyForTemplates) {
  const Policy policy =
      Make("qubes.UpdatesProxy * @type:TemplateVM @default allow target=sys-net\n");
  EXPECT_EQ(Decide(policy, "fedora-36", "", "qubes.UpdatesProxy"),
            "allow target=sys-net user=DEFAULT");
  EXPECT_EQ(Decide(policy, "work", "", "qubes.UpdatesProxy"), "deny");
}

TEST(QubesExamplesTest, GetDateDeniedToAnonAllowedToOthers) {
  const Policy policy = Make(
      "qubes.GetDate * @tag:anon-vm @anyvm deny\nqubes.GetDate * @anyvm @anyvm allow "
      "target=dom0\n");
  EXPECT_EQ(Decide(policy, "anon-whonix", "", "qubes.GetDate"), "deny");
  EXPECT_EQ(Decide(policy, "work", "", "qubes.GetDate"), "allow target=dom0 user=DEFAULT");
  // @anyvm never matches dom0 as the caller's target: Qubes denies this too.
  EXPECT_EQ(Decide(policy, "work", "dom0", "qubes.GetDate"), "deny");
}

TEST(QubesExamplesTest, VmShellOnlyToDisposables) {
  const Policy policy =
      Make("qubes.VMShell * @anyvm @dispvm allow\nqubes.VMShell * @anyvm @anyvm deny\n");
  // The rule matches, but there is no DispVM to start: denied, as in Qubes
  // for a qube without default_dispvm.
  EXPECT_EQ(Decide(policy, "work", "@dispvm", "qubes.VMShell"), "deny");
  EXPECT_EQ(Decide(policy, "work", "personal", "qubes.VMShell"), "deny");
}

TEST(QubesExamplesTest, AskAmongTaggedWithADefault) {
  const Policy policy = Make("* * work-mail @tag:work ask default_target=work-files\n");
  EXPECT_EQ(Decide(policy, "work-mail", "work-files", "qubes.Filecopy"),
            "ask targets=work,work-files default_target=work-files user=DEFAULT");
  EXPECT_EQ(Decide(policy, "work-mail", "personal", "qubes.Filecopy"), "deny");
}

TEST(QubesExamplesTest, DispVmRedirectNeedsATemplate) {
  const Policy policy = Make("* * anon-whonix @dispvm allow target=@dispvm:anon-whonix-dvm\n");
  EXPECT_EQ(Decide(policy, "anon-whonix", "@dispvm", "qubes.OpenURL"), "deny");
}

TEST(QubesExamplesTest, NotificationsToDom0) {
  const Policy policy = Make("qubes.Notifications * @anyvm @default allow target=dom0\n");
  EXPECT_EQ(Decide(policy, "work", "", "qubes.Notifications"), "allow target=dom0 user=DEFAULT");
}

TEST(EvaluateTest, FirstMatchWinsAndNoMatchDenies) {
  const Policy policy = Make("svc * work personal deny\nsvc * @anyvm @anyvm allow\n");
  EXPECT_EQ(Decide(policy, "work", "personal", "svc"), "deny");
  EXPECT_EQ(Decide(policy, "work", "vault", "svc"), "allow target=vault user=DEFAULT");
  EXPECT_EQ(Decide(policy, "work", "vault", "other"), "deny");
}

TEST(EvaluateTest, TheDecidingRuleIsNamed) {
  const Policy policy = Make("\nsvc * work personal deny\n");
  PolicyRequest request = SplitServiceArgument("svc");
  request.source = "work";
  request.target = "personal";
  EXPECT_EQ(FormatDecision(policy.Evaluate(request)), "deny rule=t.policy:2");
}

TEST(EvaluateTest, SourceEqualToTargetIsDenied) {
  const Policy policy = Make("svc * * * allow\nother * work @default allow target=work\n");
  EXPECT_EQ(Decide(policy, "work", "work", "svc"), "deny");
  EXPECT_EQ(Decide(policy, "work", "", "other"), "deny");
}

TEST(EvaluateTest, UnknownSourceAndDom0SourceAreDenied) {
  const Policy policy = Make("svc * * * allow\n");
  EXPECT_EQ(Decide(policy, "ghost", "work", "svc"), "deny");
  EXPECT_EQ(Decide(policy, "dom0", "work", "svc"), "deny");
}

TEST(EvaluateTest, Dom0AsTargetByEveryName) {
  const Policy policy = Make("svc * work @adminvm allow\n");
  EXPECT_EQ(Decide(policy, "work", "dom0", "svc"), "allow target=dom0 user=DEFAULT");
  EXPECT_EQ(Decide(policy, "work", "@adminvm", "svc"), "allow target=dom0 user=DEFAULT");
  EXPECT_EQ(Decide(policy, "work", "$adminvm", "svc"), "allow target=dom0 user=DEFAULT");
}

TEST(EvaluateTest, WildcardMatchesDom0AnyVmDoesNot) {
  const Policy policy = Make("a * work * allow\nb * work @anyvm allow\n");
  EXPECT_EQ(Decide(policy, "work", "dom0", "a"), "allow target=dom0 user=DEFAULT");
  EXPECT_EQ(Decide(policy, "work", "dom0", "b"), "deny");
}

TEST(EvaluateTest, InvalidRequestedKeywordsAreDenied) {
  const Policy policy = Make("svc * * * allow\n");
  EXPECT_EQ(Decide(policy, "work", "@anyvm", "svc"), "deny");
  EXPECT_EQ(Decide(policy, "work", "@tag:work", "svc"), "deny");
  EXPECT_EQ(Decide(policy, "work", "@dispvm:nothing", "svc"), "deny");
}

TEST(EvaluateTest, RedirectAppliesAfterTheMatch) {
  // Qubes does not look at later rules for the redirected target.
  const Policy policy = Make("svc * work personal allow target=vault\nsvc * work vault deny\n");
  EXPECT_EQ(Decide(policy, "work", "personal", "svc"), "allow target=vault user=DEFAULT");
  const Policy unknown = Make("svc * work personal allow target=ghost\n");
  EXPECT_EQ(Decide(unknown, "work", "personal", "svc"), "deny");
}

TEST(EvaluateTest, UserIsPassedOn) {
  const Policy policy = Make("svc * work personal allow user=root\n");
  EXPECT_EQ(Decide(policy, "work", "personal", "svc"), "allow target=personal user=root");
}

// Qubes scans the rules for this service and source from last to first:
// allow and ask add their targets, deny removes them, so an earlier rule has
// the last word over a later one.
TEST(AskTest, CandidatesFollowQubesReverseScan) {
  const Policy later_deny = Make(
      "svc * work @tag:work ask default_target=work-files\n"
      "svc * work work-files deny\n"
      "svc * work sys-net allow\n");
  EXPECT_EQ(Decide(later_deny, "work", "work-files", "svc"),
            "ask targets=sys-net,work-files default_target=work-files user=DEFAULT");
  const Policy earlier_deny = Make(
      "svc * work work-files deny\n"
      "svc * work @tag:work ask default_target=work-files\n"
      "svc * work sys-net allow\n");
  EXPECT_EQ(Decide(earlier_deny, "work", "vault", "svc"), "deny");
  EXPECT_EQ(Decide(earlier_deny, "work", "sys-net", "svc"), "allow target=sys-net user=DEFAULT");
  const Policy ask_other = Make(
      "svc * work personal ask default_target=work-files\n"
      "svc * work work-files deny\n"
      "svc * work sys-net allow\n");
  EXPECT_EQ(Decide(ask_other, "work", "personal", "svc"),
            "ask targets=personal,sys-net default_target=- user=DEFAULT");
}

TEST(AskTest, AnEarlierDenyRemovesWhatALaterRuleAdds) {
  const Policy policy = Make("svc * work vault deny\nsvc * work @anyvm ask\n");
  const std::string decision = Decide(policy, "work", "personal", "svc");
  EXPECT_EQ(decision.find("vault"), std::string::npos) << decision;
  EXPECT_EQ(decision.find(",work,"), std::string::npos) << "the caller is never offered";
}

TEST(AskTest, DefaultTargetSurvivesOnlyAsACandidateAndIsWarnedOtherwise) {
  const Policy policy = Make("svc * work personal ask default_target=vault\n");
  EXPECT_EQ(Decide(policy, "work", "personal", "svc"),
            "ask targets=personal default_target=- user=DEFAULT");
  PolicyRequest request = SplitServiceArgument("svc");
  request.source = "work";
  request.target = "personal";
  EXPECT_EQ(policy.Evaluate(request).warning,
            "default_target=vault of t.policy:1 is not among the targets to choose from; it is "
            "dropped");
  const Policy kept = Make("svc * work personal ask default_target=personal\n");
  EXPECT_EQ(kept.Evaluate(request).warning, "");
}

// Qubes' Ask.evaluate: with target=X the choice is exactly X, even the
// caller (whose pick the broker then refuses as a loopback call).
TEST(AskTest, TargetEqualsOffersExactlyThatTargetEvenTheCaller) {
  EXPECT_EQ(Decide(Make("svc * work @anyvm ask target=vault\n"), "work", "personal", "svc"),
            "ask targets=vault default_target=- user=DEFAULT");
  EXPECT_EQ(Decide(Make("svc * work @anyvm ask target=work\n"), "work", "personal", "svc"),
            "ask targets=work default_target=- user=DEFAULT");
  EXPECT_EQ(Decide(Make("svc * work @anyvm ask target=@adminvm\n"), "work", "personal", "svc"),
            "ask targets=dom0 default_target=- user=DEFAULT");
}

// Qubes' collect_targets_for_ask: the caller is removed, even when it is the
// only VM the rules name; @adminvm becomes dom0; @dispvm becomes the caller's
// default DispVM, which no qmin VM has.
TEST(AskTest, WithoutTargetEqualsTheCallerIsNeverAChoice) {
  const Policy only_caller = Make("svc * work work ask\n");
  PolicyRequest request = SplitServiceArgument("svc");
  request.source = "work";
  request.target = "work";
  const Decision decision = only_caller.Evaluate(request);
  EXPECT_EQ(FormatDecision(decision), "deny rule=t.policy:1");
  EXPECT_EQ(decision.reason, "no target is available to choose from");
  EXPECT_EQ(Decide(Make("svc * work @adminvm ask\n"), "work", "dom0", "svc"),
            "ask targets=dom0 default_target=- user=DEFAULT");
  EXPECT_EQ(
      Decide(Make("svc * work @dispvm ask\nsvc * work personal ask\n"), "work", "personal", "svc"),
      "ask targets=personal default_target=- user=DEFAULT");
}

// The choices come from every rule for this source and service, whatever
// their target column, last to first.
TEST(AskTest, ChoicesComeFromEveryRuleForTheSourceWhateverItsTarget) {
  const Policy policy = Make(
      "svc * work personal ask\n"
      "svc * work vault allow\n"
      "svc * personal sys-net allow\n"
      "other * work work-files allow\n");
  EXPECT_EQ(Decide(policy, "work", "personal", "svc"),
            "ask targets=personal,vault default_target=- user=DEFAULT");
}

TEST(AskTest, RedirectIsTheOnlyCandidate) {
  const Policy policy = Make("svc * work @anyvm ask target=dom0 default_target=dom0\n");
  EXPECT_EQ(Decide(policy, "work", "personal", "svc"),
            "ask targets=dom0 default_target=dom0 user=DEFAULT");
}

TEST(AskTest, NoCandidateDenies) {
  const Policy policy = Make("svc * work @default ask\n");
  EXPECT_EQ(Decide(policy, "work", "", "svc"), "deny");
}

TEST(AutostartTest, NotRunningTargetsAreRefusedOrDropped) {
  const Policy policy =
      Make("a * work personal allow autostart=no\nb * work @tag:work ask autostart=no\n");
  const auto only_work_files = [](const std::string& name) { return name == "work-files"; };
  PolicyRequest request = SplitServiceArgument("a");
  request.source = "work";
  request.target = "personal";
  EXPECT_EQ(FormatDecision(policy.Evaluate(request, only_work_files)), "deny rule=t.policy:1");
  request = SplitServiceArgument("b");
  request.source = "work";
  request.target = "work-files";
  EXPECT_EQ(FormatDecision(policy.Evaluate(request, only_work_files)),
            "ask targets=work-files default_target=- user=DEFAULT notify=no autostart=no "
            "rule=t.policy:2");
}

TEST(EvaluateTest, AnEmptyPolicyDeniesEverything) {
  const Policy policy;
  PolicyRequest request = SplitServiceArgument("svc");
  request.source = "work";
  request.target = "personal";
  EXPECT_EQ(FormatDecision(policy.Evaluate(request)), "deny");
}

}  // namespace
}  // namespace qmin
