#include "xvm_graph.h"

#include <gtest/gtest.h>

namespace qmin {
namespace {

// A VM after `after`, with vifs backed by `backends` ("" is dom0).
VmDefinition Vm(const std::string& name, std::vector<std::string> after = {},
                std::vector<std::string> backends = {}, bool autostart = false) {
  VmDefinition vm;
  vm.name = name;
  vm.after = std::move(after);
  for (std::string& backend : backends) vm.vifs.push_back(VifSpec{std::move(backend), {}});
  vm.autostart = autostart;
  return vm;
}

VmMap Map(std::vector<VmDefinition> vms) {
  VmMap map;
  for (VmDefinition& vm : vms) map[vm.name] = std::move(vm);
  return map;
}

// The seed's topology: the workload's vif is backed by net-vm.
VmMap Seed() {
  return Map({Vm("net-vm", {}, {""}, true), Vm("sa-vm", {}, {}, true),
              Vm("workload-vm", {"sa-vm"}, {"net-vm"}, true), Vm("spare")});
}

TEST(StartOrderTest, DependenciesComeFirstAndOnlyWhatIsWantedAndNeeded) {
  const Result<std::vector<std::string>> order = StartOrder(Seed(), {"workload-vm"});
  ASSERT_TRUE(order) << order.error().Text();
  EXPECT_EQ(*order, (std::vector<std::string>{"sa-vm", "net-vm", "workload-vm"}));
}

TEST(StartOrderTest, TheSameOrderEveryTimeAndEachVmOnce) {
  const VmMap vms = Seed();
  const auto first = StartOrder(vms, {"workload-vm", "net-vm", "sa-vm"});
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, (std::vector<std::string>{"sa-vm", "net-vm", "workload-vm"}));
  EXPECT_EQ(*StartOrder(vms, {"workload-vm", "net-vm", "sa-vm"}), *first);
}

TEST(StartOrderTest, AnUnknownNameIsAUsageError) {
  const auto order = StartOrder(Seed(), {"nobody"});
  ASSERT_FALSE(order);
  EXPECT_EQ(order.error().exit, ExitCode::kUsage);
  EXPECT_EQ(order.error().Text(), "order the VMs: no VM is called nobody");
}

TEST(CheckGraphTest, AnUnknownDependencyIsNamed) {
  EXPECT_EQ(CheckGraph(Map({Vm("a", {"ghost"})})).error().Text(),
            "order the VMs: a is after ghost, which is no VM");
  EXPECT_EQ(CheckGraph(Map({Vm("a", {}, {"ghost"})})).error().Text(),
            "order the VMs: a has a vif backed by ghost, which is no VM");
}

TEST(CheckGraphTest, ACycleIsNamedWhole) {
  const Status cycle = CheckGraph(Map({Vm("a", {"b"}), Vm("b", {}, {"c"}), Vm("c", {"a"})}));
  ASSERT_FALSE(cycle);
  EXPECT_EQ(cycle.error().Text(), "order the VMs: a dependency cycle: a -> b -> c -> a");
  EXPECT_FALSE(StartOrder(Map({Vm("a", {"a"})}), {"a"}));
}

TEST(CheckGraphTest, TwoVmsWithOneAddressOrOneDeviceAreRefused) {
  VmDefinition a = Vm("a", {}, {""});
  VmDefinition b = Vm("b", {}, {""});
  a.vifs[0].ips = {"10.137.0.10"};
  b.vifs[0].ips = {"10.137.0.11", "10.137.0.10"};
  EXPECT_EQ(CheckGraph(Map({a, b})).error().Text(),
            "order the VMs: a and b both give ip=10.137.0.10");
  b.vifs[0].ips = {"10.137.0.11"};
  EXPECT_TRUE(CheckGraph(Map({a, b})));
  a.pci = {"0000:00:03.0"};
  b.pci = {"00:03.0,permissive=1"};
  EXPECT_EQ(CheckGraph(Map({a, b})).error().Text(),
            "order the VMs: a and b both give pci=0000:00:03.0");
  b.pci = {"0000:00:04.0"};
  EXPECT_TRUE(CheckGraph(Map({a, b})));
}

TEST(AutostartVmsTest, ThoseWithXvmAutostartByName) {
  EXPECT_EQ(AutostartVms(Seed()), (std::vector<std::string>{"net-vm", "sa-vm", "workload-vm"}));
}

TEST(DependentsTest, TheVmsThatNeedThisOneDirectly) {
  const VmMap vms = Seed();
  EXPECT_EQ(Dependents(vms, "net-vm"), std::vector<std::string>{"workload-vm"});
  EXPECT_EQ(Dependents(vms, "sa-vm"), std::vector<std::string>{"workload-vm"});
  EXPECT_TRUE(Dependents(vms, "workload-vm").empty());
}

}  // namespace
}  // namespace qmin
