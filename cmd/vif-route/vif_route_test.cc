#include "vif_route.h"

#include <gtest/gtest.h>

namespace qmin {
namespace {

TEST(ParseVifInvocationTest, XlsCommandsAndTheirOldNames) {
  VifRouteOptions options;
  ASSERT_TRUE(ParseVifInvocation({"online", "type_if=vif"}, options));
  EXPECT_TRUE(options.online);
  EXPECT_FALSE(options.tap);
  ASSERT_TRUE(ParseVifInvocation({"remove", "type_if=tap"}, options));
  EXPECT_FALSE(options.online);
  EXPECT_TRUE(options.tap);
  ASSERT_TRUE(ParseVifInvocation({"add"}, options));
  EXPECT_TRUE(options.online);
}

TEST(ParseVifInvocationTest, AnythingElseIsAUsageErrorWithTheWordQuoted) {
  VifRouteOptions options;
  const Status bad = ParseVifInvocation({"up\x1b[2J"}, options);
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().usage);
  EXPECT_EQ(bad.error().reason, "unknown command \"up\\x1b[2J\"");
  EXPECT_FALSE(ParseVifInvocation({"online", "type_if=bridge"}, options));
  EXPECT_FALSE(ParseVifInvocation({}, options));
}

TEST(ValidateVifOptionsTest, NamesThatBecomePathsAreChecked) {
  VifRouteOptions options;
  options.vif = "vif5.0";
  options.xenbus_path = "backend/vif/5/0";
  EXPECT_TRUE(ValidateVifOptions(options));
  options.xenbus_path = "/local/domain/3/backend/vif/5/0";
  EXPECT_TRUE(ValidateVifOptions(options));
  for (const char* path : {"backend/vif/5", "backend/vbd/5/0", "backend/vif/32752/0",
                           "/local/domain/x/backend/vif/5/0", "backend/vif/5/0/../../x"}) {
    options.xenbus_path = path;
    EXPECT_FALSE(ValidateVifOptions(options)) << path;
  }
  options.xenbus_path = "backend/vif/5/0";
  for (const char* vif : {"", "..", "a/b", "vif5.0-with-a-long-name"}) {
    options.vif = vif;
    EXPECT_FALSE(ValidateVifOptions(options)) << vif;
  }
}

}  // namespace
}  // namespace qmin
