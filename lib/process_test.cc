#include "process.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>

#include <gtest/gtest.h>

#include "test_util.h"
#include "text.h"

namespace qmin {
namespace {

TEST(SpawnTest, AProgramThatDoesNotExistIsAnErrorHereNotAStatusLater) {
  SpawnOptions options;
  options.argv = {"/nonexistent/program"};
  Result<pid_t> pid = Spawn(options);
  ASSERT_FALSE(pid);
  EXPECT_EQ(pid.error().exit, ExitCode::kNotFound);
  EXPECT_EQ(pid.error().Text(), "run /nonexistent/program: No such file or directory");
  options.argv = {"/etc/passwd"};
  EXPECT_EQ(Spawn(options).error().exit, ExitCode::kCannotExec);
}

TEST(SpawnTest, DescriptorsEnvironmentAndStatus) {
  int out[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  SpawnOptions options;
  options.argv = {"/bin/sh", "-c", "echo \"$GREETING\"; exit 7"};
  options.env = std::vector<std::string>{"GREETING=hello"};
  options.fds = {-1, out[1], 2};
  Result<pid_t> pid = Spawn(options);
  ASSERT_TRUE(pid) << pid.error().Text();
  close(out[1]);
  char buffer[64] = {};
  EXPECT_EQ(read(out[0], buffer, sizeof buffer), 6);
  EXPECT_STREQ(buffer, "hello\n");
  close(out[0]);
  int status = 0;
  waitpid(*pid, &status, 0);
  EXPECT_EQ(ExitStatusOf(status), 7);
}

// How `script` ended, run by sh through Spawn.
int StatusOfShell(const char* script) {
  SpawnOptions options;
  options.argv = {"/bin/sh", "-c", script};
  Result<pid_t> pid = Spawn(options);
  if (!pid) return -1;
  int status = 0;
  waitpid(*pid, &status, 0);
  return ExitStatusOf(status);
}

TEST(SpawnTest, AChildStartsWithSignalsUnblocked) {
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigprocmask(SIG_BLOCK, &blocked, nullptr);
  const int status = StatusOfShell("kill -TERM $$; sleep 5");
  sigprocmask(SIG_UNBLOCK, &blocked, nullptr);
  EXPECT_EQ(status, 128 + SIGTERM);
}

// A daemon ignores SIGPIPE; a shell that starts with it ignored could never
// take it back, so the child must start with it at its default.
TEST(SpawnTest, AChildStartsWithIgnoredSignalsAtTheirDefault) {
  struct sigaction ignore = {};
  struct sigaction before = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &before);
  const int status = StatusOfShell("kill -PIPE $$; sleep 5");
  sigaction(SIGPIPE, &before, nullptr);
  EXPECT_EQ(status, 128 + SIGPIPE);
}

TEST(SignalsTest, UnblockSignalsLeavesNothingBlocked) {
  sigset_t blocked, now;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGUSR2);
  sigaddset(&blocked, SIGTERM);
  sigprocmask(SIG_BLOCK, &blocked, nullptr);
  UnblockSignals();
  sigprocmask(SIG_SETMASK, nullptr, &now);
  EXPECT_FALSE(sigismember(&now, SIGUSR2));
  EXPECT_FALSE(sigismember(&now, SIGTERM));
}

TEST(SpawnTest, ANewSessionIsLedByTheChild) {
  int out[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  SpawnOptions options;
  options.argv = {"/bin/sh", "-c", "cut -d ' ' -f 6 /proc/$$/stat"};
  options.fds = {-1, out[1], 2};
  options.new_session = true;
  Result<pid_t> pid = Spawn(options);
  ASSERT_TRUE(pid) << pid.error().Text();
  close(out[1]);
  char buffer[32] = {};
  EXPECT_GT(read(out[0], buffer, sizeof buffer - 1), 0);
  close(out[0]);
  EXPECT_EQ(std::string(buffer), std::to_string(*pid) + "\n");
  waitpid(*pid, nullptr, 0);
}

TEST(AccountTest, ReadFromPasswdAndGroup) {
  testing::ScopedTempDir root;
  mkdir((root / "etc").c_str(), 0755);
  std::ofstream(root / "etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n"
                                        "alice:x:1000:1000::/home/alice:/bin/bash\n";
  std::ofstream(root / "etc/group") << "alice:x:1000:\nwheel:x:10:bob,alice\n";
  Result<Account> alice = LookUpAccount("alice", root.path());
  ASSERT_TRUE(alice);
  EXPECT_EQ(alice->uid, 1000U);
  EXPECT_EQ(alice->home, "/home/alice");
  EXPECT_EQ(alice->shell, "/bin/bash");
  EXPECT_EQ(alice->groups, (std::vector<gid_t>{1000, 10}));
  Result<Account> nobody = LookUpAccount("mallory", root.path());
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.error().exit, ExitCode::kRefused);
  EXPECT_EQ(nobody.error().Text(), "find user \"mallory\": no such user");
}

// Dead, or a zombie that nobody has reaped yet: it runs no more.
bool Ended(const std::string& pid) {
  std::ifstream stat("/proc/" + pid + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const std::size_t paren = line.rfind(')');
  return paren != std::string::npos && line.substr(paren + 2, 1) == "Z";
}

TEST(RunBoundedTest, WhatItPrintedAndHowItEnded) {
  SpawnOptions options;
  options.argv = {"/bin/sh", "-c", "echo hello; echo oops >&2; exit 3"};
  options.fds = {-1, -1, open("/dev/null", O_WRONLY | O_CLOEXEC)};
  Result<Finished> finished = RunBounded(options, std::chrono::seconds(30));
  close(options.fds[2]);
  ASSERT_TRUE(finished);
  EXPECT_EQ(finished->status, 3);
  EXPECT_FALSE(finished->killed);
  EXPECT_EQ(finished->printed, "hello\n");
}

TEST(RunBoundedTest, AtItsLimitTheWholeGroupIsKilled) {
  SpawnOptions options;
  // The child and a grandchild that would outlive it; each says its PID.
  options.argv = {"/bin/sh", "-c", "sleep 60 & echo $!; exec sleep 60"};
  Result<Finished> finished = RunBounded(options, std::chrono::milliseconds(300));
  ASSERT_TRUE(finished);
  EXPECT_TRUE(finished->killed);
  EXPECT_EQ(finished->status, 128 + SIGKILL);
  const std::string grandchild = Trimmed(finished->printed);
  ASSERT_FALSE(grandchild.empty());
  bool ended = false;
  for (int tries = 0; tries < 500 && !(ended = Ended(grandchild)); ++tries) usleep(10000);
  EXPECT_TRUE(ended) << "the grandchild " << grandchild << " still runs";
}

TEST(RunBoundedTest, AProgramThatDoesNotExistIsAnError) {
  SpawnOptions options;
  options.argv = {"/nonexistent/program"};
  EXPECT_EQ(RunBounded(options, std::chrono::seconds(1)).error().exit, ExitCode::kNotFound);
}

}  // namespace
}  // namespace qmin
