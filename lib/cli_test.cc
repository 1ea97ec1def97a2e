#include "cli.h"

#include <gtest/gtest.h>

namespace qmin {
namespace {

const ToolSpec kTool = {
    "demo",
    "[-hnv] [--wait SECONDS] NAME",
    "A demo tool.",
    {{"dry-run", 'n', "", "print the plan"}, {"wait", 'w', "SECONDS", "wait"}},
    1,
    1,
};

Result<Args> Parse(std::vector<const char*> words) {
  words.insert(words.begin(), "demo");
  return ParseArgs(kTool, static_cast<int>(words.size()), words.data());
}

TEST(ParseArgsTest, LongShortAndBundledOptions) {
  Result<Args> args = Parse({"-nvv", "--wait=5", "name"});
  ASSERT_TRUE(args) << args.error().Text();
  EXPECT_TRUE(args->Has("dry-run"));
  EXPECT_EQ(args->verbosity, 2);
  EXPECT_EQ(args->Get("wait"), "5");
  EXPECT_EQ(args->positionals(), std::vector<std::string>{"name"});
}

TEST(ParseArgsTest, ValuesInTheNextWordOrAttached) {
  EXPECT_EQ(Parse({"--wait", "7", "x"})->Get("wait"), "7");
  EXPECT_EQ(Parse({"-w", "8", "x"})->Get("wait"), "8");
  EXPECT_EQ(Parse({"-w9", "x"})->Get("wait"), "9");
  EXPECT_EQ(Parse({"-w1", "-w", "2", "x"})->GetAll("wait"), (std::vector<std::string>{"1", "2"}));
}

TEST(ArgsNumberTest, InRangeOrTheFallbackElseAUsageErrorStatingTheRange) {
  const NumberRange seconds{1, 3600, "seconds"};
  EXPECT_EQ(*Parse({"x"})->Number("wait", seconds, 60), 60U);
  EXPECT_EQ(*Parse({"--wait", "3600", "x"})->Number("wait", seconds, 60), 3600U);
  for (const char* bad : {"0", "3601", "-1", "5s", ""}) {
    const Result<std::uint64_t> number = Parse({"--wait", bad, "x"})->Number("wait", seconds, 60);
    ASSERT_FALSE(number) << bad;
    EXPECT_EQ(number.error().exit, ExitCode::kUsage);
    EXPECT_EQ(number.error().reason, "--wait needs 1 to 3600 seconds");
  }
  EXPECT_EQ(Parse({"-w", "9", "x"})->Number("wait", {0, 8, ""}, 0).error().reason,
            "--wait needs 0 to 8");
}

TEST(ParseArgsTest, DoubleDashEndsOptions) {
  Result<Args> args = Parse({"--", "-n"});
  ASSERT_TRUE(args);
  EXPECT_FALSE(args->Has("dry-run"));
  EXPECT_EQ(args->positionals(), std::vector<std::string>{"-n"});
}

TEST(ParseArgsTest, UsageErrorsAreExactAndExit100) {
  const std::pair<std::vector<const char*>, const char*> cases[] = {
      {{"--bogus", "x"}, "unknown option --bogus"},
      {{"-q", "x"}, "unknown option -q"},
      {{"--dry-run=1", "x"}, "option --dry-run takes no value"},
      {{"x", "--wait"}, "option --wait needs a value"},
      {{"x", "-w"}, "option -w needs a value"},
      {{}, "missing operand"},
      {{"a", "b"}, "extra operand b"},
  };
  for (const auto& [words, reason] : cases) {
    Result<Args> args = Parse(words);
    ASSERT_FALSE(args) << reason;
    EXPECT_EQ(args.error().reason, reason);
    EXPECT_EQ(args.error().exit, ExitCode::kUsage);
  }
}

TEST(ParseArgsTest, HelpAndVersionNeedNoOperands) {
  EXPECT_TRUE(Parse({"-h"})->help);
  EXPECT_TRUE(Parse({"--version"})->version);
}

TEST(ParseArgsTest, SyslogIsCommonToEveryTool) {
  EXPECT_TRUE(Parse({"--syslog", "x"})->syslog);
  EXPECT_FALSE(Parse({"x"})->syslog);
  EXPECT_FALSE(Parse({"--syslog=yes", "x"}));
}

TEST(HelpTextTest, UsageLineThenSortedAlignedOptions) {
  EXPECT_EQ(HelpText(kTool),
            "usage: demo [-hnv] [--wait SECONDS] NAME\n\n"
            "A demo tool.\n\n"
            "  -n, --dry-run             print the plan\n"
            "  -h, --help                print this help and exit\n"
            "      --syslog              log to syslog as well as to standard error\n"
            "  -v, --verbose             say more; repeat for debug output\n"
            "      --version             print the version and exit\n"
            "  -w, --wait SECONDS        wait\n");
}

}  // namespace
}  // namespace qmin
