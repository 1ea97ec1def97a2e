#include "device_nodes.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "test_util.h"

namespace qmin {
namespace {

TEST(PlanNodeTest, NothingThereMeansCreate) {
  testing::ScopedTempDir dir;
  Result<NodeStep> step = PlanNode(NodeSpec{dir / "evtchn", 10, 122, 0600});
  ASSERT_TRUE(step);
  EXPECT_EQ(step->action, NodeAction::kCreate);
  EXPECT_EQ(DescribeNodeStep(*step), "mknod " + (dir / "evtchn") + " c 10 122");
}

TEST(PlanNodeTest, FilesAndDirectoriesAreInTheWay) {
  testing::ScopedTempDir dir;
  std::ofstream(dir / "file") << "data";
  ASSERT_EQ(mkdir((dir / "dir").c_str(), 0755), 0);
  ASSERT_EQ(symlink("/dev/null", (dir / "link").c_str()), 0);
  ASSERT_EQ(mkfifo((dir / "fifo").c_str(), 0600), 0);
  const std::pair<const char*, const char*> cases[] = {{"file", "a regular file"},
                                                       {"dir", "a directory"},
                                                       {"link", "a symbolic link"},
                                                       {"fifo", "a FIFO"}};
  for (const auto& [name, kind] : cases) {
    Result<NodeStep> step = PlanNode(NodeSpec{dir / name, 10, 1, 0600});
    ASSERT_FALSE(step) << name;
    EXPECT_EQ(step.error().Text(), "create " + (dir / name) + ": " + kind + " is in the way");
    EXPECT_EQ(step.error().exit, ExitCode::kUsage);
  }
}

TEST(PlanNodeTest, InspectFailureIsASystemError) {
  testing::ScopedTempDir dir;
  std::ofstream(dir / "file") << "";
  Result<NodeStep> step = PlanNode(NodeSpec{dir / "file/child", 10, 1, 0600});
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().Text(), "inspect " + (dir / "file/child") + ": Not a directory");
  EXPECT_EQ(step.error().exit, ExitCode::kTemporary);
}

TEST(ApplyNodeTest, CreatesKeepsAndReplacesAsRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "mknod needs root";
  testing::ScopedTempDir dir;
  const NodeSpec spec{dir / "evtchn", 10, 122, 0600};
  ASSERT_TRUE(ApplyNode(*PlanNode(spec)));
  struct stat st {};
  ASSERT_EQ(lstat(spec.path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(10, 122));
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  EXPECT_EQ(PlanNode(spec)->action, NodeAction::kKeep);

  const NodeSpec moved{spec.path, 10, 123, 0600};
  Result<NodeStep> step = PlanNode(moved);
  EXPECT_EQ(step->action, NodeAction::kReplace);
  EXPECT_EQ(step->was, "c 10:122");
  ASSERT_TRUE(ApplyNode(*step));
  ASSERT_EQ(lstat(spec.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_rdev, makedev(10, 123));
}

TEST(ApplyNodeTest, FailureNamesThePathAndLeavesNoTemporary) {
  testing::ScopedTempDir dir;
  const NodeStep step{NodeSpec{dir / "missing/evtchn", 10, 1, 0600}, NodeAction::kCreate, ""};
  Status status = ApplyNode(step);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().Text(),
            "create " + (dir / "missing/evtchn") + ": No such file or directory");
}

TEST(ParseDevNumbersTest, StrictMajorColonMinor) {
  Result<NodeSpec> spec = ParseDevNumbers("229:0\n", "dev");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->major, 229U);
  EXPECT_EQ(spec->minor, 0U);
  for (const char* bad : {"229", "229:", ":0", "229:0:1", " 229:0", "229:0\n\n", "4096:0", "a:b"}) {
    Result<NodeSpec> parsed = ParseDevNumbers(bad, "dev");
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().exit, ExitCode::kUsage);
  }
  EXPECT_EQ(ParseDevNumbers("x\n", "dev").error().Text(),
            "parse dev: expected \"MAJOR:MINOR\", got \"x\\x0a\"");
}

}  // namespace
}  // namespace qmin
