#include "vm_facts.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "test_util.h"
#include "xlcfg.h"

namespace qmin {
namespace {

TEST(XlConfigTest, ReadsStringsNumbersAndLists) {
  Result<XlConfig> config = ParseXlConfig(
      "name = \"work\"  # the name\nmemory=512; vcpus = 2\ntype='pvh'\n"
      "vif = [ 'ip=10.0.0.5,script=vif-route',\n        \"mac=00:16:3e:00:00:05\" ]\nxvm_tags = "
      "[]\n",
      "work.cfg");
  ASSERT_TRUE(config) << config.error().Text();
  EXPECT_EQ(config->at("name").scalar, "work");
  EXPECT_EQ(config->at("memory").scalar, "512");
  EXPECT_EQ(config->at("vcpus").scalar, "2");
  EXPECT_EQ(config->at("type").scalar, "pvh");
  EXPECT_EQ(config->at("vif").items,
            (std::vector<std::string>{"ip=10.0.0.5,script=vif-route", "mac=00:16:3e:00:00:05"}));
  EXPECT_TRUE(config->at("xvm_tags").is_list);
  EXPECT_TRUE(config->at("xvm_tags").items.empty());
}

TEST(XlConfigTest, ErrorsNameTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"name = \"work\nx=1\n", "parse c line 1: unterminated string"},
      {"name \"work\"\n", "parse c line 1: expected '=' after name"},
      {"a = 1\nb = [\"x\" \"y\"]\n", "parse c line 2: expected ',' or ']' in a list"},
      {"a = 1 2\n", "parse c line 1: expected the end of the line"},
      {"a = 1\na = 2\n", "parse c line 2: a is set twice"},
      {"= 1\n", "parse c line 1: expected a setting name"},
  };
  for (const auto& [text, message] : cases) {
    Result<XlConfig> config = ParseXlConfig(text, "c");
    ASSERT_FALSE(config) << text;
    EXPECT_EQ(config.error().Text(), message);
  }
}

TEST(IsValidVmNameTest, QubesRules) {
  EXPECT_TRUE(IsValidVmName("work"));
  EXPECT_TRUE(IsValidVmName("sys-net"));
  EXPECT_TRUE(IsValidVmName("a_b.c"));
  for (const std::string& bad :
       {std::string(), std::string("1vm"), std::string("-vm"), std::string("a b"),
        std::string("a/b"), std::string("@x"), std::string("x$"), std::string(32, 'a')})
    EXPECT_FALSE(IsValidVmName(bad)) << bad;
}

class VmFactsTest : public ::testing::Test {
 protected:
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  testing::ScopedTempDir dir_;
};

TEST_F(VmFactsTest, Dom0IsAlwaysThereAsTheAdminVm) {
  VmFactsLoad load = LoadVmFacts(dir_ / "none");
  EXPECT_TRUE(load.errors.empty());
  ASSERT_EQ(load.vms.count("dom0"), 1U);
  EXPECT_EQ(load.vms["dom0"].type, "AdminVM");
}

TEST_F(VmFactsTest, NamesTypesAndTags) {
  Write("work.cfg", "name = \"work\"\nxvm_tags = [\"work\", \"mail\"]\n");
  Write("sys-net.cfg", "name = \"sys-net\"\nxvm_type = \"NetVM\"\npci = ['00:03.0']\n");
  Write("notes.txt", "ignored");
  VmFactsLoad load = LoadVmFacts(dir_.path());
  EXPECT_TRUE(load.errors.empty());
  EXPECT_EQ(load.vms.size(), 3U);
  EXPECT_EQ(load.vms["work"].type, "AppVM");
  EXPECT_EQ(load.vms["work"].tags, (std::set<std::string>{"mail", "work"}));
  EXPECT_EQ(load.vms["sys-net"].type, "NetVM");
}

TEST_F(VmFactsTest, ProblemsAreAllCollected) {
  Write("work.cfg", "name = \"other\"\n");
  Write("dom0.cfg", "name = \"dom0\"\n");
  Write("bad.cfg", "name = \"bad\"\nxvm_tags = \"work\"\n");
  Write("evil.cfg", "name = \"evil\"\nxvm_type = \"AdminVM\"\n");
  VmFactsLoad load = LoadVmFacts(dir_.path());
  EXPECT_EQ(load.errors, (std::vector<std::string>{
                             (dir_ / "bad.cfg") + ": xvm_tags must be a list",
                             (dir_ / "dom0.cfg") + ": \"dom0\" is not a valid VM name",
                             (dir_ / "evil.cfg") + ": xvm_type AdminVM belongs to dom0 alone",
                             (dir_ / "work.cfg") + ": name must be \"work\", as the file is called",
                         }));
}

TEST_F(VmFactsTest, TheStartKeysOfXvmStart) {
  Write("net-vm.cfg",
        "name = \"net-vm\"\ntype = \"pv\"\npci = [ \"0000:00:03.0\" ]\nxvm_autostart = 1\n"
        "xvm_wait = \"qrx\"\nxvm_timeout = 90\nkernel = \"/k\"\nramdisk = \"/r\"\n");
  Write("work.cfg",
        "name = \"work\"\ntype = \"pvh\"\nvif = [ \"ip=10.0.0.5,backend=net-vm\", \"mac=x\" ]\n"
        "xvm_after = [ \"vault\", \"net-vm\" ]\n");
  Write("vault.cfg",
        "name = \"vault\"\nbuilder = \"hvm\"\non_reboot = \"destroy\"\n"
        "on_crash = \"coredump-restart\"\n");
  Write("gone.cfg", "name = \"gone\"\non_reboot = \"destroy\"\n");
  VmLoad load = LoadVmDefinitions(dir_.path());
  ASSERT_TRUE(load.errors.empty()) << load.errors[0];
  const VmDefinition& net = load.vms["net-vm"];
  EXPECT_TRUE(net.autostart);
  EXPECT_EQ(net.wait, WaitFor::kQrx);
  EXPECT_EQ(net.timeout, 90U);
  EXPECT_EQ(net.type, DomainType::kPv);
  EXPECT_EQ(net.pci, std::vector<std::string>{"0000:00:03.0"});
  EXPECT_EQ(net.kernel, "/k");
  const VmDefinition& work = load.vms["work"];
  EXPECT_EQ(work.type, DomainType::kPvh);
  EXPECT_FALSE(work.autostart);
  EXPECT_EQ(work.wait, WaitFor::kRunning);
  EXPECT_EQ(work.Dependencies(), (std::vector<std::string>{"vault", "net-vm"}));
  EXPECT_EQ(load.vms["vault"].type, DomainType::kHvm);
  EXPECT_TRUE(work.xl_restarts);  // xl's default: on_reboot = "restart"
  EXPECT_TRUE(load.vms["vault"].xl_restarts);
  EXPECT_FALSE(load.vms["gone"].xl_restarts);
}

TEST(DomainTypeTest, AsXlReadsIt) {
  const std::pair<std::optional<std::string>, DomainType> cases[] = {
      {"pv", DomainType::kPv},         {"p", DomainType::kPv},  {"pvh", DomainType::kPvh},
      {"hvm", DomainType::kHvm},       {"h", DomainType::kHvm}, {"", DomainType::kHvm},
      {std::nullopt, DomainType::kPv},
  };
  for (const auto& [type, expected] : cases) EXPECT_EQ(*ParseDomainType(type, ""), expected);
  EXPECT_EQ(*ParseDomainType(std::nullopt, "hvm"), DomainType::kHvm);
  EXPECT_EQ(ParseDomainType("pvhx", "").error().reason,
            "type must be pv, pvh or hvm, not \"pvhx\"");
}

TEST_F(VmFactsTest, StartKeysAreChecked) {
  Write("a.cfg", "name = \"a\"\nxvm_autostart = 2\n");
  Write("b.cfg", "name = \"b\"\nxvm_wait = \"soon\"\n");
  Write("c.cfg", "name = \"c\"\nxvm_timeout = 0\n");
  Write("d.cfg", "name = \"d\"\nxvm_after = [ \"a b\" ]\n");
  Write("e.cfg", "name = \"e\"\nvif = [ \"backend=../x\" ]\n");
  VmLoad load = LoadVmDefinitions(dir_.path());
  EXPECT_EQ(load.errors, (std::vector<std::string>{
                             (dir_ / "a.cfg") + ": xvm_autostart must be 0 or 1",
                             (dir_ / "b.cfg") + ": xvm_wait must be running, hotplug or qrx",
                             (dir_ / "c.cfg") + ": xvm_timeout must be 1 to 3600 seconds",
                             (dir_ / "d.cfg") + ": invalid VM name \"a b\" in xvm_after",
                             (dir_ / "e.cfg") + ": invalid vif backend \"../x\"",
                         }));
}

TEST(PciDeviceTest, TheDeviceAnEntryNames) {
  EXPECT_EQ(PciDevice("0000:00:03.0"), "0000:00:03.0");
  EXPECT_EQ(PciDevice("00:1F.2"), "0000:00:1f.2");
  EXPECT_EQ(PciDevice("0000:03:00.0,permissive=1,msitranslate=0"), "0000:03:00.0");
  EXPECT_EQ(PciDevice("0000:03:00.0@5"), "0000:03:00.0");
}

}  // namespace
}  // namespace qmin
