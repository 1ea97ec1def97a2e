#include "qrx_service.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "test_util.h"

namespace qmin::qrx {
namespace {

std::string Why(const Result<ServiceCommand>& command) {
  return command ? "ok" : command.error().reason;
}

TEST(ParseServiceCommandTest, QubesRpcCallsAndTheirTokens) {
  Result<ServiceCommand> call = ParseServiceCommand("user:QUBESRPC qubes.Filecopy+x work");
  ASSERT_TRUE(call);
  EXPECT_EQ(call->user, "user");
  EXPECT_EQ(call->service, "qubes.Filecopy+x");
  EXPECT_EQ(call->source, "work");
  EXPECT_TRUE(call->shell.empty());
  EXPECT_EQ(FormatServiceCommand(*call), "user:QUBESRPC qubes.Filecopy+x work");
  Result<ServiceCommand> dom0 = ParseServiceCommand("root:QUBESRPC svc+ work keyword adminvm");
  ASSERT_TRUE(dom0);
  EXPECT_EQ(dom0->target_type, "keyword");
  EXPECT_EQ(dom0->target, "adminvm");
  EXPECT_EQ(ParseServiceCommand("user:nogui:QUBESRPC svc+ work")->service, "svc+");
}

TEST(ParseServiceCommandTest, OtherCommandsAreShellCommands) {
  Result<ServiceCommand> shell = ParseServiceCommand("root:echo hi; exit 3");
  ASSERT_TRUE(shell);
  EXPECT_EQ(shell->user, "root");
  EXPECT_EQ(shell->shell, "echo hi; exit 3");
  EXPECT_EQ(ParseServiceCommand("user:nogui:ls /")->shell, "ls /");
}

TEST(ParseServiceCommandTest, RejectsRatherThanRepairs) {
  const std::pair<const char*, const char*> cases[] = {
      {"no colon", "no user"},
      {":QUBESRPC svc work", "invalid user"},
      {"us er:QUBESRPC svc work", "invalid user"},
      {"user:QUBESRPCsvc work", "QUBESRPC without a space"},
      {"user:QUBESRPC svc", "not SERVICE SOURCE [TYPE TARGET]"},
      {"user:QUBESRPC svc  work", "not SERVICE SOURCE [TYPE TARGET]"},
      {"user:QUBESRPC svc work name", "not SERVICE SOURCE [TYPE TARGET]"},
      {"user:QUBESRPC a/b work", "invalid service name"},
      {"user:QUBESRPC +x work", "invalid service name"},
      {"user:QUBESRPC svc wo/rk", "invalid source"},
      {"user:QUBESRPC svc work sort dom0", "invalid target type"},
      {"user:", "an empty command"},
  };
  for (const auto& [cmdline, why] : cases)
    EXPECT_EQ(Why(ParseServiceCommand(cmdline)), why) << cmdline;
}

class FindServiceTest : public ::testing::Test {
 protected:
  void Make(const std::string& dir, const std::string& name, mode_t mode = 0755) {
    mkdir((dir_ / dir).c_str(), 0755);
    const std::string path = dir_ / (dir + "/" + name);
    std::ofstream(path) << "#!/bin/sh\n";
    chmod(path.c_str(), mode);
  }
  std::vector<std::string> Dirs() const { return {dir_ / "local", dir_ / "etc"}; }
  testing::ScopedTempDir dir_;
};

TEST_F(FindServiceTest, ArgumentFirstThenEachDirectoryInOrder) {
  Make("etc", "svc");
  Make("local", "svc");
  Make("etc", "svc+x");
  EXPECT_EQ(FindService(Dirs(), "svc+x")->path, dir_ / "etc/svc+x") << "SERVICE+ARG anywhere first";
  EXPECT_EQ(FindService(Dirs(), "svc+y")->path, dir_ / "local/svc") << "/usr/local first";
  EXPECT_FALSE(FindService(Dirs(), "other"));
}

TEST_F(FindServiceTest, TheFirstEntryDecidesEvenWhenItCannotRun) {
  Make("local", "svc", 0644);
  Make("etc", "svc");
  const std::optional<FoundService> found = FindService(Dirs(), "svc");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->kind, FoundService::Kind::kUnusable);
}

TEST(ServiceEnvironmentTest, QubesVariablesAndTheUsersOwn) {
  const Account account{"alice", 1000, 1000, "/home/alice", "/bin/bash", {1000}};
  const ServiceCommand call{"alice", "", "svc+arg", "work", "", ""};
  const std::vector<std::string> env = ServiceEnvironment(call, account, {"/a", "/b"}, 42);
  for (const char* expected : {"HOME=/home/alice", "USER=alice", "LOGNAME=alice", "SHELL=/bin/bash",
                               "QREXEC_AGENT_PID=42", "QREXEC_REMOTE_DOMAIN=work",
                               "QREXEC_SERVICE_FULL_NAME=svc+arg", "QREXEC_SERVICE_PATH=/a:/b",
                               "QREXEC_SERVICE_ARGUMENT=arg", "QREXEC_REQUESTED_TARGET_TYPE="})
    EXPECT_NE(std::find(env.begin(), env.end(), expected), env.end()) << expected;
  const ServiceCommand dom0{"root", "", "svc+", "work", "name", "dom0"};
  const std::vector<std::string> dom0_env = ServiceEnvironment(dom0, account, {"/a"}, 1);
  EXPECT_NE(std::find(dom0_env.begin(), dom0_env.end(), "QREXEC_REQUESTED_TARGET=dom0"),
            dom0_env.end());
  EXPECT_NE(std::find(dom0_env.begin(), dom0_env.end(), "QREXEC_SERVICE_ARGUMENT="),
            dom0_env.end());
}

TEST(ServiceArgvTest, TheArgumentIsArgv1WhenThereIsOne) {
  const FoundService found{"/etc/qubes-rpc/svc", FoundService::Kind::kExecutable};
  EXPECT_EQ(ServiceArgv({"u", "", "svc+x", "w", "", ""}, &found),
            (std::vector<std::string>{"/etc/qubes-rpc/svc", "x"}));
  EXPECT_EQ(ServiceArgv({"u", "", "svc+", "w", "", ""}, &found),
            (std::vector<std::string>{"/etc/qubes-rpc/svc"}));
  EXPECT_EQ(ServiceArgv({"u", "echo hi", "", "", "", ""}, nullptr),
            (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
}

}  // namespace
}  // namespace qmin::qrx
