#include "ipaddr.h"

#include <gtest/gtest.h>

namespace qmin {
namespace {

TEST(ParseHostAddressTest, CanonicalFormAndFamily) {
  EXPECT_EQ(ParseHostAddress("10.137.0.5")->text, "10.137.0.5");
  EXPECT_EQ(ParseHostAddress("10.137.0.5/24")->text, "10.137.0.5");
  EXPECT_EQ(ParseHostAddress("10.137.0.5")->family, 4);
  EXPECT_EQ(ParseHostAddress("FD00:0::5/64")->text, "fd00::5");
  EXPECT_EQ(ParseHostAddress("fd00::5")->family, 6);
  EXPECT_EQ(ParseHostAddress("fd00::5")->host_prefix(), 128U);
}

TEST(ParseHostAddressTest, RejectsWithTheReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"300.1.1.1", "not an IPv4 or IPv6 address"},
      {"010.0.0.1", "not an IPv4 or IPv6 address"},
      {"1.2.3", "not an IPv4 or IPv6 address"},
      {"1.2.3.4x", "not an IPv4 or IPv6 address"},
      {"1.2.3.4 ", "not an IPv4 or IPv6 address"},
      {"fd00::5%eth0", "not an IPv4 or IPv6 address"},
      {"10.0.0.5/33", "bad prefix length"},
      {"10.0.0.5/", "bad prefix length"},
      {"fd00::5/129", "bad prefix length"},
      {"0.0.0.0", "not a host address (0.0.0.0/8)"},
      {"127.0.0.1", "a loopback address"},
      {"224.0.0.1", "a multicast address"},
      {"255.255.255.255", "the broadcast address"},
      {"240.0.0.1", "a reserved address (240.0.0.0/4)"},
      {"::", "the unspecified address"},
      {"::1", "a loopback address"},
      {"ff02::1", "a multicast address"},
      {"fe80::1", "a link-local address"},
      {"::ffff:10.0.0.5", "an IPv4-mapped address"},
  };
  for (const auto& [text, why] : cases) {
    Result<IpAddress> address = ParseHostAddress(text);
    ASSERT_FALSE(address) << text;
    EXPECT_EQ(address.error().reason, why) << text;
    EXPECT_EQ(address.error().exit, ExitCode::kUsage);
  }
}

TEST(ParseAddressListTest, SpacesSeparateDuplicatesFail) {
  Result<std::vector<IpAddress>> list = ParseAddressList("10.0.0.5  fd00::5 ");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 2U);
  EXPECT_TRUE(ParseAddressList("")->empty());
  EXPECT_EQ(ParseAddressList("10.0.0.5 10.0.0.5/32").error().Text(),
            "use address \"10.0.0.5/32\": listed twice");
  EXPECT_FALSE(ParseAddressList("10.0.0.5\n10.0.0.6"));
  EXPECT_EQ(ParseAddressList("10.0.0.5;reboot").error().Text(),
            "use address \"10.0.0.5;reboot\": not an IPv4 or IPv6 address");
}

TEST(ParseMacTest, UnicastSixPairs) {
  EXPECT_EQ(FormatMac(*ParseMac("00:16:3E:5e:6c:01")), "00:16:3e:5e:6c:01");
  for (const char* bad : {"00:16:3e:5e:6c", "00:16:3e:5e:6c:01:02", "0:16:3e:5e:6c:01",
                          "zz:16:3e:5e:6c:01", "01:00:5e:00:00:01", "00:00:00:00:00:00", ""})
    EXPECT_FALSE(ParseMac(bad)) << bad;
}

}  // namespace
}  // namespace qmin
