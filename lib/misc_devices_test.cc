#include "misc_devices.h"

#include <gtest/gtest.h>

namespace qmin {
namespace {

TEST(ParseMiscDevicesTest, ReadsTheKernelsFormat) {
  Result<std::vector<MiscDevice>> devices =
      ParseMiscDevices("122 xen/evtchn\n 60 cpu_dma_latency\n  1 psaux\n", "misc");
  ASSERT_TRUE(devices) << devices.error().Text();
  EXPECT_EQ(*devices,
            (std::vector<MiscDevice>{{122, "xen/evtchn"}, {60, "cpu_dma_latency"}, {1, "psaux"}}));
}

TEST(ParseMiscDevicesTest, EmptyFileHasNoDevices) {
  EXPECT_TRUE(ParseMiscDevices("", "misc")->empty());
}

TEST(ParseMiscDevicesTest, MalformedLinesAreNamedExactly) {
  const std::pair<const char*, const char*> cases[] = {
      {"122\n", "parse misc line 1: expected \"MINOR NAME\", got \"122\""},
      {"1 a\nx y\n", "parse misc line 2: bad minor number in \"x y\""},
      {"1048576 big\n", "parse misc line 1: bad minor number in \"1048576 big\""},
      {"12 \n", "parse misc line 1: bad device name in \"12 \""},
      {"12 a b\n", "parse misc line 1: bad device name in \"12 a b\""},
      {"12 a\tb\n", "parse misc line 1: bad device name in \"12 a\\x09b\""},
      {"1 a\n\n2 b\n", "parse misc line 2: expected \"MINOR NAME\", got \"\""},
  };
  for (const auto& [text, message] : cases) {
    Result<std::vector<MiscDevice>> devices = ParseMiscDevices(text, "misc");
    ASSERT_FALSE(devices) << text;
    EXPECT_EQ(devices.error().Text(), message);
    EXPECT_EQ(devices.error().exit, ExitCode::kUsage);
  }
}

TEST(XenMiscDevicesTest, KeepsOnlyXenEntriesWithoutPrefix) {
  Result<std::vector<MiscDevice>> xen = XenMiscDevices(
      {{122, "xen/evtchn"}, {60, "cpu_dma_latency"}, {125, "xen/xenbus"}, {5, "xenfoo"}}, "misc");
  ASSERT_TRUE(xen);
  EXPECT_EQ(*xen, (std::vector<MiscDevice>{{122, "evtchn"}, {125, "xenbus"}}));
}

TEST(XenMiscDevicesTest, RefusesNamesThatWouldEscapeDevXen) {
  for (const char* name : {"xen/../x", "xen/", "xen/a/b", "xen/.."}) {
    Result<std::vector<MiscDevice>> xen = XenMiscDevices({{1, name}}, "misc");
    ASSERT_FALSE(xen) << name;
    EXPECT_EQ(xen.error().Text(), std::string("parse misc: unsafe device name \"") + name + "\"");
  }
}

TEST(XenMiscDevicesTest, RefusesDuplicates) {
  EXPECT_EQ(XenMiscDevices({{1, "xen/a"}, {2, "xen/a"}}, "misc").error().Text(),
            "parse misc: device \"xen/a\" listed twice");
}

}  // namespace
}  // namespace qmin
