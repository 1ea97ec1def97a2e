#include "mounts.h"

#include <gtest/gtest.h>

namespace qmin {
namespace {

const MountSpec kXenfs{"xenfs", "xenfs", "/proc/xen", "", 0};

TEST(IsMountedTest, MatchesTargetAndType) {
  EXPECT_TRUE(IsMounted("proc /proc proc rw 0 0\nxenfs /proc/xen xenfs rw 0 0\n", kXenfs));
  EXPECT_FALSE(IsMounted("proc /proc proc rw 0 0\n", kXenfs));
  EXPECT_FALSE(IsMounted("tmpfs /proc/xen tmpfs rw 0 0\n", kXenfs));
  EXPECT_FALSE(IsMounted("xenfs /proc/xenx xenfs rw 0 0\n", kXenfs));
  EXPECT_FALSE(IsMounted("", kXenfs));
  EXPECT_FALSE(IsMounted("garbage\n", kXenfs));
}

TEST(IsMountedTest, UnderstandsOctalEscapes) {
  const MountSpec spaced{"devpts", "devpts", "/tmp/a b/pts", "", 0};
  EXPECT_TRUE(IsMounted("devpts /tmp/a\\040b/pts devpts rw 0 0\n", spaced));
  EXPECT_FALSE(IsMounted("devpts /tmp/a\\040b/pts\\134 devpts rw 0 0\n", spaced));
}

TEST(DescribeMountTest, OneLine) { EXPECT_EQ(DescribeMount(kXenfs), "mount xenfs on /proc/xen"); }

TEST(MountFileSystemTest, FailureNamesTypeAndTarget) {
  const MountSpec bogus{"no-such-fs-type", "none", "/nonexistent-qmin/dir", "", 0};
  Status status = MountFileSystem(bogus);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().Text(), "create /nonexistent-qmin/dir: No such file or directory");
}

}  // namespace
}  // namespace qmin
