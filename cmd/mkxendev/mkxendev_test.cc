#include "mkxendev.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "test_util.h"

namespace qmin {
namespace {

class MkxendevPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ / "proc");
    std::filesystem::create_directories(dir_ / "sys/class/tty/hvc0");
    std::filesystem::create_directories(dir_ / "root/dev");
    std::ofstream(dir_ / "proc/misc") << "122 xen/evtchn\n 60 cpu_dma_latency\n125 xen/xenbus\n";
    std::ofstream(dir_ / "proc/mounts") << "";
    std::ofstream(dir_ / "sys/class/tty/hvc0/dev") << "229:0\n";
    options_.root = dir_ / "root";
    options_.proc = dir_ / "proc";
    options_.sys = dir_ / "sys";
  }

  testing::ScopedTempDir dir_;
  MkxendevOptions options_;
};

TEST_F(MkxendevPlanTest, PlansMountsDirectoryAndNodesInOrder) {
  Result<MkxendevPlan> plan = PlanMkxendev(options_);
  ASSERT_TRUE(plan) << plan.error().Text();
  const std::string root = dir_ / "root";
  EXPECT_EQ(DescribeMkxendevPlan(*plan), (std::vector<std::string>{
                                             "mount xenfs on " + (dir_ / "proc/xen"),
                                             "mount devpts on " + root + "/dev/pts",
                                             "mkdir " + root + "/dev/xen",
                                             "mknod " + root + "/dev/xen/evtchn c 10 122",
                                             "mknod " + root + "/dev/xen/xenbus c 10 125",
                                             "mknod " + root + "/dev/hvc0 c 229 0",
                                             "mknod " + root + "/dev/ptmx c 5 2",
                                         }));
  EXPECT_EQ(plan->late, (std::vector<std::string>{"gntdev", "privcmd"}));
}

TEST_F(MkxendevPlanTest, NoMountPlansNoMounts) {
  options_.mount = false;
  EXPECT_TRUE(PlanMkxendev(options_)->mounts.empty());
}

TEST_F(MkxendevPlanTest, LateDevicesAreAnErrorOnlyAfterAWait) {
  Result<MkxendevPlan> plan = PlanMkxendev(options_);
  EXPECT_TRUE(CheckLateDevices(*plan, options_));
  options_.wait_seconds = 1;
  Status status = CheckLateDevices(*plan, options_);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().Text(),
            "find xen/gntdev, xen/privcmd in " + (dir_ / "proc") + "/misc: not there after 1 s");
  EXPECT_EQ(status.error().exit, ExitCode::kTemporary);
}

TEST_F(MkxendevPlanTest, BadInputStopsThePlan) {
  std::ofstream(dir_ / "proc/misc") << "oops\n";
  EXPECT_EQ(PlanMkxendev(options_).error().Text(),
            "parse " + (dir_ / "proc/misc") + " line 1: expected \"MINOR NAME\", got \"oops\"");
}

TEST_F(MkxendevPlanTest, MissingDevDirectoryIsNamed) {
  std::filesystem::remove(dir_ / "root/dev");
  EXPECT_EQ(PlanMkxendev(options_).error().Text(),
            "create nodes in " + (dir_ / "root/dev") + ": No such file or directory");
}

TEST(AwaitedXenDevicesTest, TheFourTheToolsOpen) {
  EXPECT_EQ(AwaitedXenDevices(),
            (std::vector<std::string>{"evtchn", "gntdev", "privcmd", "xenbus"}));
}

}  // namespace
}  // namespace qmin
