// nic-handoff's transaction against in-memory models of the PCI driver core
// (bind, unbind, slots, new_slot/remove_slot, driver_override, the driver
// link), of dom0's interfaces and of the Xen side. A fault at every single
// step, and during the rollback, must leave all three exactly as found.
#include "nic_handoff.h"
#include "nic_handoff_doubles.h"

#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "files.h"
#include "test_util.h"

namespace qmin {
namespace {

class HandoffTest : public ::testing::Test {
 protected:
  Result<std::vector<std::string>> Run(HandoffCommand command, const std::string& iface = "eth0") {
    HandoffOptions options;
    options.state = dir_ / "state";
    options.iface = iface;
    options.netvm = "net-vm";
    options.vif = vif_;
    options.interrupted = [this] {
      return interrupt_after_ > 0 && --interrupt_after_ == 0 ? 2 : 0;
    };
    Handoff handoff(sysfs_, net_, xen_, log_, options);
    return handoff.Run(command);
  }
  bool AsFound() const {
    return sysfs_.model == PciModel{} && net_.links == FakeNet{}.links && xen_.running.empty() &&
           xen_.driver_paths.empty() && xen_.quarantined.empty() &&
           access((dir_ / "state").c_str(), F_OK) != 0;
  }
  testing::ScopedTempDir dir_;
  FakeSysfs sysfs_;
  FakeNet net_;
  FakeXen xen_{net_, sysfs_};
  Log log_{"nic-handoff", 0};
  int interrupt_after_ = 0;  ///< a signal seems held after this many steps (0: never)
  std::string vif_;          ///< reconnect's vif
};

TEST_F(HandoffTest, TheNicGoesToPcibackAndDom0RoutesThroughTheNetVm) {
  ASSERT_TRUE(Run(HandoffCommand::kHandoff));
  EXPECT_EQ(sysfs_.model.driver[kBdf], "pciback");
  EXPECT_EQ(sysfs_.model.slots, std::set<std::string>{kBdf});
  EXPECT_EQ(xen_.driver_paths[kBdf], "/sys/bus/pci/drivers/e1000");
  EXPECT_EQ(xen_.quarantined, std::set<std::string>{kBdf});
  EXPECT_EQ(xen_.running, std::set<std::string>{"net-vm"});
  const Link& eth0 = net_.links[2];
  EXPECT_FALSE(eth0.up);
  EXPECT_TRUE(eth0.addresses.empty());
  EXPECT_TRUE(eth0.routes.empty());
  EXPECT_EQ(net_.links[7].addresses, std::vector<InterfaceAddress>{Address("10.0.2.15/32")});
  EXPECT_EQ(net_.links[7].routes,
            std::vector<InterfaceRoute>{Route("default via 10.137.0.1 onlink")});
  ASSERT_TRUE(Run(HandoffCommand::kStatus));
  EXPECT_EQ((*Run(HandoffCommand::kStatus))[1],
            "handed to net-vm (domain 7) over vif7.0 via 10.137.0.1");
  EXPECT_EQ(Run(HandoffCommand::kStatus)->size(), 3U) << "the net-vm runs";
  xen_.running.clear();  // it died, or was destroyed by hand
  EXPECT_EQ((*Run(HandoffCommand::kStatus))[3],
            "net-vm is gone: `nic-handoff restore` gives eth0 back to dom0");
  xen_.running.insert("net-vm");
  // Twice is harmless: refused, and nothing changes.
  EXPECT_EQ(Run(HandoffCommand::kHandoff).error().exit, ExitCode::kRefused);
  ASSERT_TRUE(Run(HandoffCommand::kRestore));
  EXPECT_TRUE(AsFound());
}

// xl restarts a net-vm that reboots as a new domain; its vif's hotplug
// (vif-route) runs `nic-handoff reconnect`.
TEST_F(HandoffTest, ARecreatedNetVmGetsDom0sAddressAndRouteBack) {
  vif_ = "vif9.0";
  EXPECT_EQ((*Run(HandoffCommand::kReconnect))[0],
            "no handoff: " + (dir_ / "state") + " does not exist");
  ASSERT_TRUE(Run(HandoffCommand::kHandoff));
  xen_.Recreate(9);
  xen_.stranded = {"workload-vm"};
  vif_ = "vif12.0";  // another domain's vif: none of nic-handoff's business
  EXPECT_EQ((*Run(HandoffCommand::kReconnect))[0], "vif12.0 is not net-vm's");
  EXPECT_TRUE(net_.links[9].addresses.empty());
  vif_ = "vif9.0";
  const auto lines = Run(HandoffCommand::kReconnect);
  ASSERT_TRUE(lines) << lines.error().Text();
  EXPECT_EQ(*lines, (std::vector<std::string>{
                        "dom0 routes through net-vm (domain 9, was 7) over vif9.0 via 10.137.0.1",
                        StrandedLine("workload-vm")}));
  EXPECT_EQ(net_.links[9].addresses, std::vector<InterfaceAddress>{Address("10.0.2.15/32")});
  EXPECT_EQ(net_.links[9].routes,
            std::vector<InterfaceRoute>{Route("default via 10.137.0.1 onlink")});
  ASSERT_TRUE(Run(HandoffCommand::kReconnect)) << "twice is harmless";
  const auto status = Run(HandoffCommand::kStatus);
  EXPECT_EQ((*status)[1], "handed to net-vm (domain 9) over vif9.0 via 10.137.0.1");
  EXPECT_EQ(status->back(), StrandedLine("workload-vm"));
  vif_ = "eth0";
  EXPECT_EQ(Run(HandoffCommand::kReconnect).error().exit, ExitCode::kUsage);
  ASSERT_TRUE(Run(HandoffCommand::kRestore));
  EXPECT_TRUE(AsFound());
}

TEST_F(HandoffTest, AFaultAtAnySysfsWriteLeavesEverythingAsFound) {
  ASSERT_TRUE(Run(HandoffCommand::kHandoff));
  const int writes = sysfs_.faults.calls;
  ASSERT_TRUE(Run(HandoffCommand::kRestore));
  ASSERT_GE(writes, 4);
  for (int at = 1; at <= writes; ++at) {
    sysfs_.faults = Faults{0, {at}};
    Result<std::vector<std::string>> run = Run(HandoffCommand::kHandoff);
    if (run) {
      // Only the device reset may fail and be let go, as libxl lets it go.
      EXPECT_EQ(sysfs_.written[at - 1], std::string("bus/pci/devices/") + kBdf + "/reset");
      ASSERT_TRUE(Run(HandoffCommand::kRestore));
    } else {
      EXPECT_NE(run.error().reason.find("undone:"), std::string::npos) << run.error().Text();
    }
    EXPECT_TRUE(AsFound()) << "after a fault at write " << at;
  }
}

TEST_F(HandoffTest, AFaultAtAnyOtherStepLeavesEverythingAsFound) {
  for (int at = 1; at <= 20; ++at) {
    net_.faults = Faults{0, {at}};
    if (Run(HandoffCommand::kHandoff)) {
      ASSERT_TRUE(Run(HandoffCommand::kRestore));
    }
    ASSERT_TRUE(AsFound()) << "netlink fault " << at;
  }
  for (int at = 1; at <= 4; ++at) {  // quarantine, driver_path, start, the vif
    xen_.faults = Faults{0, {at}};
    ASSERT_FALSE(Run(HandoffCommand::kHandoff)) << "xen fault " << at;
    ASSERT_TRUE(AsFound()) << "xen fault " << at;
  }
}

TEST_F(HandoffTest, AFaultDuringTheRollbackIsTriedAgain) {
  xen_.faults = Faults{0, {4}};  // the vif never comes: everything is undone
  ASSERT_FALSE(Run(HandoffCommand::kHandoff));
  ASSERT_TRUE(AsFound());
  const int rollback_writes = sysfs_.faults.calls / 2;
  for (int at = 1; at <= rollback_writes; ++at) {
    sysfs_.faults = Faults{0, {rollback_writes + at}};
    net_.faults = Faults{0, {6 + at}};
    xen_.faults = Faults{0, {4, 5}};  // and destroying the net-vm fails once too
    ASSERT_FALSE(Run(HandoffCommand::kHandoff));
    EXPECT_TRUE(AsFound()) << "rollback fault " << at;
  }
}

TEST_F(HandoffTest, ASignalHeldDuringTheTransactionUndoesEverythingAfterTheStep) {
  for (int after = 1; after <= 14; ++after) {
    interrupt_after_ = after;
    const Result<std::vector<std::string>> run = Run(HandoffCommand::kHandoff);
    ASSERT_FALSE(run) << "a signal after step " << after;
    EXPECT_NE(run.error().reason.find("interrupted by signal 2; undone: "), std::string::npos)
        << run.error().Text();
    EXPECT_TRUE(AsFound()) << "a signal after step " << after;
  }
}

// Killed while xvm-start runs (Ctrl-C, the OOM killer): the state file
// already names the netvm step then, so restore destroys the net-vm, by
// name, before the card goes back to dom0.
TEST_F(HandoffTest, ACrashWhileTheNetVmStartsIsUndoneByRestore) {
  std::string at_start;
  xen_.on_start = [&] {
    if (Result<std::string> text = ReadSmallFile(dir_ / "state", 65536)) at_start = *text;
  };
  ASSERT_TRUE(Run(HandoffCommand::kHandoff));
  ASSERT_NE(at_start.find("done=netvm\n"), std::string::npos) << at_start;
  ASSERT_TRUE(WriteFileAtomic(dir_ / "state", at_start));  // what the crash leaves
  ASSERT_TRUE(Run(HandoffCommand::kRestore));
  EXPECT_TRUE(xen_.running.empty()) << "the net-vm still runs";
  EXPECT_TRUE(AsFound());
}

// A state file that cannot be written any more (here: its path became a
// directory while the net-vm started) stops the handoff, and everything
// taken is undone: nothing goes on that restore could not undo.
TEST_F(HandoffTest, AStateFileThatCannotBeWrittenStopsAndUndoes) {
  const std::string state = dir_ / "state";
  xen_.on_start = [&] {
    unlink(state.c_str());
    mkdir(state.c_str(), 0700);
  };
  const Result<std::vector<std::string>> run = Run(HandoffCommand::kHandoff);
  ASSERT_FALSE(run);
  EXPECT_NE(run.error().reason.find("; undone: "), std::string::npos) << run.error().Text();
  ASSERT_EQ(rmdir(state.c_str()), 0);
  EXPECT_TRUE(AsFound());
}

// A net-vm that cannot be destroyed may still use the card: the rollback
// stops there, the card stays on pciback, and the state file keeps the rest.
TEST_F(HandoffTest, AFailedUndoOfTheNetVmKeepsTheCardOnPciback) {
  xen_.faults = Faults{0, {4, 5, 6, 7}};  // the vif never comes; destroy fails three times
  const Result<std::vector<std::string>> run = Run(HandoffCommand::kHandoff);
  ASSERT_FALSE(run);
  EXPECT_NE(run.error().reason.find("the NIC stays on pciback"), std::string::npos)
      << run.error().Text();
  EXPECT_EQ(sysfs_.model.driver[kBdf], "pciback");
  EXPECT_EQ(xen_.quarantined, std::set<std::string>{kBdf});
  ASSERT_TRUE(Run(HandoffCommand::kRestore));
  EXPECT_TRUE(AsFound());
}

TEST_F(HandoffTest, ReleaseThenAdoptThenRestoreByHand) {
  ASSERT_TRUE(Run(HandoffCommand::kRelease));
  EXPECT_EQ(sysfs_.model.driver[kBdf], "pciback");
  EXPECT_TRUE(xen_.running.empty());
  ASSERT_TRUE(Run(HandoffCommand::kAdopt));
  EXPECT_EQ(xen_.running, std::set<std::string>{"net-vm"});
  ASSERT_TRUE(Run(HandoffCommand::kRestore));
  EXPECT_TRUE(AsFound());
}

TEST_F(HandoffTest, AnInterfaceThatIsNoPciDeviceIsRefusedUntouched) {
  Result<std::vector<std::string>> run = Run(HandoffCommand::kHandoff, "wlan0");
  ASSERT_FALSE(run);
  EXPECT_EQ(run.error().exit, ExitCode::kUsage);
  EXPECT_TRUE(AsFound());
}

TEST(NicRecordTest, RoundTripsAndRefusesWhatCouldBecomeAPath) {
  NicRecord record{"eth0",
                   "52:54:00:12:34:56",
                   kBdf,
                   "/sys/bus/pci/drivers/e1000",
                   true,
                   {Address("10.0.2.15/24")},
                   {Route("default via 10.0.2.2")},
                   "net-vm",
                   7,
                   "vif7.0",
                   "10.137.0.1",
                   {"down", "routes"}};
  Result<NicRecord> back = ParseRecord(FormatRecord(record), "state");
  ASSERT_TRUE(back) << back.error().Text();
  EXPECT_EQ(FormatRecord(*back), FormatRecord(record));
  EXPECT_FALSE(ParseRecord("iface=../etc\nbdf=0000:00:03.0\n", "state"));
  EXPECT_FALSE(ParseRecord("iface=eth0\nbdf=0000:00:03.0\ndriver=/etc/x\n", "state"));
}

TEST(NicRecordTest, AStepOutsideTheClosedSetIsRefusedNotRestored) {
  const Result<NicRecord> typo = ParseRecord("iface=eth0\nbdf=0000:00:03.0\ndone=routs\n", "state");
  ASSERT_FALSE(typo);
  EXPECT_EQ(typo.error().Text(), "read state line 3: unknown step routs");
  for (std::string_view name : kStepNames)
    EXPECT_TRUE(
        ParseRecord("iface=eth0\nbdf=0000:00:03.0\ndone=" + std::string(name) + "\n", "state"))
        << name;
}

}  // namespace
}  // namespace qmin
