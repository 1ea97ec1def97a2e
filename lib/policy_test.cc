#include "policy.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "test_util.h"

namespace qmin {
namespace {

std::vector<std::string> Errors(const ParsedPolicy& parsed) {
  std::vector<std::string> errors;
  for (const PolicyError& error : parsed.errors) errors.push_back(FormatPolicyError(error));
  return errors;
}

// The first error of a one-line policy, without file and line.
std::string ErrorOf(const std::string& line) {
  ParsedPolicy parsed = ParsePolicyText(line, "p");
  if (parsed.errors.empty()) return "no error";
  return parsed.errors[0].message;
}

TEST(ParseVmTokenTest, EachColumnAcceptsWhatQubesAccepts) {
  std::string why;
  struct Case {
    const char* text;
    TokenContext context;
    bool ok;
  };
  const Case cases[] = {
      {"work", TokenContext::kSource, true},
      {"*", TokenContext::kSource, true},
      {"@anyvm", TokenContext::kSource, true},
      {"@adminvm", TokenContext::kSource, true},
      {"@default", TokenContext::kSource, false},
      {"@dispvm", TokenContext::kSource, false},
      {"@tag:x", TokenContext::kSource, true},
      {"@type:AppVM", TokenContext::kSource, true},
      {"@default", TokenContext::kTarget, true},
      {"@dispvm", TokenContext::kTarget, true},
      {"@dispvm:dvm", TokenContext::kTarget, true},
      {"@dispvm:@tag:t", TokenContext::kTarget, true},
      {"*", TokenContext::kRedirect, false},
      {"@anyvm", TokenContext::kRedirect, false},
      {"@tag:x", TokenContext::kRedirect, false},
      {"@default", TokenContext::kRedirect, false},
      {"@adminvm", TokenContext::kRedirect, true},
      {"@dispvm", TokenContext::kRedirect, true},
      {"@dispvm:@tag:t", TokenContext::kRedirect, false},
      {"@anyvm", TokenContext::kRequest, false},
      {"@default", TokenContext::kRequest, true},
      {"@bogus", TokenContext::kTarget, false},
      {"wo/rk", TokenContext::kSource, false},
      {"1work", TokenContext::kSource, false},
  };
  for (const Case& c : cases)
    EXPECT_EQ(ParseVmToken(c.text, c.context, why).has_value(), c.ok) << c.text;
}

TEST(ParseVmTokenTest, AliasesBecomeCanonical) {
  std::string why;
  EXPECT_EQ(ParseVmToken("dom0", TokenContext::kTarget, why)->kind, TokenKind::kAdminVm);
  EXPECT_EQ(ParseVmToken("$anyvm", TokenContext::kSource, why)->text, "@anyvm");
  EXPECT_EQ(ParseVmToken("$tag:work", TokenContext::kSource, why)->value, "work");
  EXPECT_FALSE(ParseVmToken("@tag:", TokenContext::kSource, why));
  EXPECT_EQ(why, "invalid empty @tag: token: @tag:");
}

TEST(ParseRuleTest, ReadsEveryColumnAndParameter) {
  ParsedPolicy parsed = ParsePolicyText(
      "# comment\n\nqubes.Filecopy +x work @tag:work ask default_target=work-files user=u "
      "notify=yes\n",
      "p");
  ASSERT_TRUE(parsed.errors.empty()) << Errors(parsed)[0];
  ASSERT_EQ(parsed.rules.size(), 1U);
  const Rule& rule = parsed.rules[0];
  EXPECT_EQ(rule.service, "qubes.Filecopy");
  EXPECT_EQ(rule.argument, "+x");
  EXPECT_EQ(rule.source.value, "work");
  EXPECT_EQ(rule.target.kind, TokenKind::kTag);
  EXPECT_EQ(rule.verb, Verb::kAsk);
  EXPECT_EQ(rule.default_target->value, "work-files");
  EXPECT_EQ(rule.user, "u");
  EXPECT_TRUE(rule.notify);
  EXPECT_TRUE(rule.autostart);
  EXPECT_EQ(rule.line, 3U);
  EXPECT_EQ(FormatRule(rule),
            "qubes.Filecopy\t+x\twork\t@tag:work\task default_target=work-files user=u notify=yes");
}

TEST(ParseRuleTest, DenyNotifiesByDefaultAllowDoesNot) {
  ParsedPolicy parsed = ParsePolicyText("a * work personal deny\nb * work personal allow\n", "p");
  EXPECT_TRUE(parsed.rules[0].notify);
  EXPECT_FALSE(parsed.rules[1].notify);
}

TEST(ParseRuleTest, SyntaxErrorsAreNamedAsQubesNamesThem) {
  const std::pair<const char*, const char*> cases[] = {
      {"svc * work", "wrong number of fields"},
      {"svc * work personal alow", "invalid action: alow"},
      {"svc * work @default allow", "allow action for @default rule must specify target= option"},
      {"svc * work personal deny target=x", "invalid parameter target for action deny"},
      {"svc * work personal deny user=x", "invalid parameter user for action deny"},
      {"svc * work personal allow default_target=x",
       "invalid parameter default_target for action allow"},
      {"svc * work personal allow colour=red", "invalid parameter colour for action allow"},
      {"svc * work personal allow user=a user=b", "parameter given twice: user"},
      {"svc * work personal allow notify=maybe", "notify is maybe, but can be only yes or no"},
      {"svc * work personal allow autostart", "invalid action parameter syntax: autostart"},
      {"* +x work personal allow", "only * argument allowed for * service"},
      {"svc x work personal allow", "argument x does not start with +"},
      {"svc +a/b work personal allow", "argument +a/b contains invalid characters"},
      {"s/vc * work personal allow", "service s/vc contains invalid characters"},
      {"svc+x * work personal allow", "service svc+x contains invalid characters"},
      {"svc * @default personal allow", "invalid source token: @default"},
      {"svc * work @bogus allow", "invalid target token: @bogus"},
      {"svc * work personal allow target=@anyvm", "invalid redirect token: @anyvm"},
      {"svc * work personal allow target=@tag:x", "invalid redirect token: @tag:x"},
      {"svc * work personal ask default_target=*", "invalid redirect token: *"},
      {"!bogus", "invalid directive"},
      {"!include a b", "invalid number of params"},
      {"!include-service svc +x", "invalid number of params"},
      {"!compat-4.0 x", "invalid number of params"},
  };
  for (const auto& [line, message] : cases) EXPECT_EQ(ErrorOf(line), message) << line;
}

TEST(ParseRuleTest, EveryErrorIsReportedWithACaretUnderTheToken) {
  ParsedPolicy parsed = ParsePolicyText(
      "svc * work personal alow\nok * work personal allow\nsvc * @default x allow\nsvc x y\n",
      "f.policy");
  EXPECT_EQ(parsed.rules.size(), 1U);
  EXPECT_EQ(Errors(parsed), (std::vector<std::string>{
                                "f.policy:1: invalid action: alow\n"
                                "svc * work personal alow\n"
                                "                    ^",
                                "f.policy:3: invalid source token: @default\n"
                                "svc * @default x allow\n"
                                "      ^",
                                "f.policy:4: wrong number of fields\n"
                                "svc x y\n"
                                "      ^",
                            }));
}

TEST(ParseRuleTest, BinaryContentAndLongLinesAreRefused) {
  EXPECT_EQ(Errors(ParsePolicyText(std::string("svc * a b allow\0x", 17), "f")),
            (std::vector<std::string>{"f: binary content (a NUL byte): not a policy file"}));
  PolicyLimits limits;
  limits.max_line_length = 10;
  ParsedPolicy parsed = ParsePolicyText("svc * work personal allow\n", "f", ".", limits);
  ASSERT_EQ(parsed.errors.size(), 1U);
  EXPECT_EQ(parsed.errors[0].message, "line longer than 10 bytes");
}

class PolicyDirTest : public ::testing::Test {
 protected:
  void Write(const std::string& name, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(dir_ / name).parent_path());
    std::ofstream(dir_ / name) << text;
  }
  ParsedPolicy Load(std::vector<std::string> dirs = {}) {
    if (dirs.empty()) dirs = {dir_ / "etc"};
    return LoadPolicy(dirs, {}, dir_ / "legacy");
  }
  std::vector<std::string> Services(const ParsedPolicy& parsed) {
    std::vector<std::string> services;
    for (const Rule& rule : parsed.rules) services.push_back(rule.service);
    return services;
  }
  testing::ScopedTempDir dir_;
};

TEST_F(PolicyDirTest, FilesMergeInCOrderAndRunWinsOnEqualNames) {
  Write("etc/90-default.policy", "etc90 * @anyvm @anyvm deny\n");
  Write("etc/30-user.policy", "etc30 * @anyvm @anyvm deny\n");
  Write("run/30-user.policy", "run30 * @anyvm @anyvm deny\n");
  Write("run/50-x.policy", "run50 * @anyvm @anyvm deny\n");
  Write("etc/README", "not a policy\n");
  Write("etc/.hidden.policy", "garbage\n");
  Write("etc/70-ignored.policy.bak", "garbage\n");
  ParsedPolicy parsed = Load({dir_ / "run", dir_ / "etc"});
  EXPECT_TRUE(parsed.errors.empty());
  EXPECT_EQ(Services(parsed), (std::vector<std::string>{"run30", "run50", "etc90"}));
}

TEST_F(PolicyDirTest, AnInvalidFileNameFailsEverything) {
  Write("etc/30-user.policy", "a * @anyvm @anyvm allow\n");
  Write("etc/40-User.policy", "b * @anyvm @anyvm allow\n");
  ParsedPolicy parsed = Load();
  ASSERT_EQ(parsed.errors.size(), 1U);
  EXPECT_EQ(parsed.errors[0].message, "invalid file name: " + (dir_ / "etc/40-User.policy"));
}

TEST_F(PolicyDirTest, MissingDirectoryIsEmpty) {
  EXPECT_TRUE(Load({dir_ / "none"}).errors.empty());
}

TEST_F(PolicyDirTest, IncludesResolveAgainstTheTopFilesDirectory) {
  Write("etc/30-user.policy", "!include include/first\nlast * @anyvm @anyvm deny\n");
  Write("etc/include/first", "first * @anyvm @anyvm deny\n!include include/second\n");
  Write("etc/include/second", "second * @anyvm @anyvm deny\n");
  ParsedPolicy parsed = Load();
  ASSERT_TRUE(parsed.errors.empty()) << Errors(parsed)[0];
  EXPECT_EQ(Services(parsed), (std::vector<std::string>{"first", "second", "last"}));
}

TEST_F(PolicyDirTest, IncludeDirReadsItsPolicyFilesInOrder) {
  Write("etc/30-user.policy", "!include-dir extra\n");
  Write("etc/extra/b.policy", "b * @anyvm @anyvm deny\n");
  Write("etc/extra/a.policy", "a * @anyvm @anyvm deny\n");
  Write("etc/extra/notes.txt", "ignored\n");
  EXPECT_EQ(Services(Load()), (std::vector<std::string>{"a", "b"}));
}

TEST_F(PolicyDirTest, IncludeServiceReadsTheOldFormat) {
  Write("etc/30-admin.policy", "!include-service admin.vm.List * include/admin-ro\n");
  Write("etc/include/admin-ro", "$anyvm $adminvm allow,target=dom0\n# comment\nwork $anyvm deny\n");
  ParsedPolicy parsed = Load();
  ASSERT_TRUE(parsed.errors.empty()) << Errors(parsed)[0];
  ASSERT_EQ(parsed.rules.size(), 2U);
  EXPECT_EQ(FormatRule(parsed.rules[0]),
            "admin.vm.List\t*\t@anyvm\t@adminvm\tallow target=@adminvm");
  EXPECT_EQ(FormatRule(parsed.rules[1]), "admin.vm.List\t*\twork\t@anyvm\tdeny");
}

TEST_F(PolicyDirTest, MissingIncludesAreErrors) {
  Write("etc/30-user.policy", "!include nowhere\n!include-dir nodir\n");
  ParsedPolicy parsed = Load();
  ASSERT_EQ(parsed.errors.size(), 2U);
  EXPECT_EQ(parsed.errors[0].message, "not a file: " + (dir_ / "etc/nowhere"));
  EXPECT_EQ(parsed.errors[1].message, "not a directory: " + (dir_ / "etc/nodir"));
}

TEST_F(PolicyDirTest, IncludeCyclesAreRefused) {
  Write("etc/30-user.policy", "!include include/a\n");
  Write("etc/include/a", "!include include/b\n");
  Write("etc/include/b", "!include include/a\n");
  ParsedPolicy parsed = Load();
  ASSERT_EQ(parsed.errors.size(), 1U);
  EXPECT_EQ(parsed.errors[0].message,
            "include cycle: " + std::filesystem::canonical(dir_ / "etc/include/a").string() +
                " is already being read");
}

TEST_F(PolicyDirTest, IncludesThatEscapeThroughSymlinksAreRefused) {
  Write("outside/secret", "svc * @anyvm @anyvm allow\n");
  Write("etc/30-user.policy", "!include include/link\n!include ../outside/secret\n");
  std::filesystem::create_directories(dir_ / "etc/include");
  std::filesystem::create_symlink(dir_ / "outside/secret", dir_ / "etc/include/link");
  ParsedPolicy parsed = Load();
  EXPECT_TRUE(parsed.rules.empty());
  ASSERT_EQ(parsed.errors.size(), 2U);
  EXPECT_EQ(parsed.errors[0].message,
            "include outside the policy directories: " + (dir_ / "etc/include/link") + " is " +
                std::filesystem::canonical(dir_ / "outside/secret").string());
}

TEST_F(PolicyDirTest, HugeFilesAreRefused) {
  Write("etc/30-user.policy", std::string(2 * 1024 * 1024, '#'));
  ParsedPolicy parsed = Load();
  ASSERT_EQ(parsed.errors.size(), 1U);
  EXPECT_EQ(parsed.errors[0].message,
            "read " + (dir_ / "etc/30-user.policy") + ": larger than 1048576 bytes");
}

TEST_F(PolicyDirTest, Compat40IsEmptyWithoutLegacyFilesAndRefusedWithThem) {
  Write("etc/35-compat.policy", "!compat-4.0\n");
  EXPECT_TRUE(Load().errors.empty());
  Write("legacy/qubes.Filecopy", "$anyvm $anyvm ask\n");
  ParsedPolicy parsed = Load();
  ASSERT_EQ(parsed.errors.size(), 1U);
  EXPECT_EQ(parsed.errors[0].message, "!compat-4.0: the legacy policy files in " +
                                          (dir_ / "legacy") +
                                          " are not supported; move their rules into policy.d");
}

}  // namespace
}  // namespace qmin
