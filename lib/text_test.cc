#include "text.h"

#include <gtest/gtest.h>

namespace qmin {
namespace {

TEST(ParseUnsignedTest, AcceptsPlainDecimal) {
  EXPECT_EQ(ParseUnsigned("0", 10), 0U);
  EXPECT_EQ(ParseUnsigned("122", 255), 122U);
  EXPECT_EQ(ParseUnsigned("18446744073709551615", UINT64_MAX), UINT64_MAX);
}

TEST(ParseUnsignedTest, RejectsRatherThanRepairs) {
  for (const char* bad : {"", " 1", "1 ", "+1", "-1", "01", "1a", "0x10", "١"})
    EXPECT_FALSE(ParseUnsigned(bad, 1000)) << bad;
}

TEST(ParseUnsignedTest, RejectsAboveMaximum) {
  EXPECT_FALSE(ParseUnsigned("256", 255));
  EXPECT_EQ(ParseUnsigned("255", 255), 255U);
  EXPECT_FALSE(ParseUnsigned("18446744073709551616", UINT64_MAX));
  EXPECT_FALSE(ParseUnsigned("5", 3));
}

TEST(SplitTest, KeepsEmptyFields) {
  EXPECT_EQ(Split("a::b", ':'), (std::vector<std::string_view>{"a", "", "b"}));
  EXPECT_EQ(Split("", ':'), (std::vector<std::string_view>{""}));
  EXPECT_EQ(Split("a:", ':'), (std::vector<std::string_view>{"a", ""}));
}

TEST(IsSafeNameTest, OnlyOnePlainPathComponent) {
  EXPECT_TRUE(IsSafeName("evtchn"));
  EXPECT_TRUE(IsSafeName("xenbus_backend"));
  EXPECT_TRUE(IsSafeName("a.b-c"));
  for (const char* bad : {"", ".", "..", "a/b", "a b", "a\nb", "$x", "a;b"})
    EXPECT_FALSE(IsSafeName(bad)) << bad;
}

TEST(QuoteForMessageTest, ControlBytesAreEscapedAndLongTextCut) {
  EXPECT_EQ(QuoteForMessage("a\"\\\x1b"), "\"a\\x22\\x5c\\x1b\"");
  EXPECT_EQ(QuoteForMessage(std::string(100, 'x')), "\"" + std::string(80, 'x') + "...\"");
}

TEST(NameRuleTest, OneRuleWithExtras) {
  EXPECT_TRUE(IsNameText("work-vm_1.2"));
  EXPECT_FALSE(IsNameText(""));
  EXPECT_FALSE(IsNameText("svc+arg"));
  EXPECT_TRUE(IsNameText("svc+arg", "+"));
  EXPECT_TRUE(IsNameText("@dispvm:x", "@:"));
  for (const char* bad : {"a/b", "a b", "\xc3\xa9", "$x", "a\nb"})
    EXPECT_FALSE(IsNameText(bad, "+@:")) << bad;
}

TEST(NameRuleTest, SanitizeReplacesEveryOtherByteWithUnderscore) {
  EXPECT_EQ(SanitizeName("a/b c", "+"), "a_b_c");
  EXPECT_EQ(SanitizeName("svc+arg$", "+"), "svc+arg_");
  EXPECT_EQ(SanitizeName("\xc3\xa9", ""), "__");
  EXPECT_EQ(SanitizeName("@default", "@:"), "@default");
  EXPECT_EQ(SanitizeName("@default", ""), "_default");
}

TEST(JoinTest, SplitsOtherWay) {
  EXPECT_EQ(Join({}, ", "), "");
  EXPECT_EQ(Join({"a"}, ", "), "a");
  EXPECT_EQ(Join({"a", "", "c"}, ","), "a,,c");
}

}  // namespace
}  // namespace qmin
