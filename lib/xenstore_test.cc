// lib/xenstore against the xenstored test double, through the real
// libxenstore: the same path our tools take.
#include "xenstore.h"
#include "xenstore_watcher.h"

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <gtest/gtest.h>

#include "test_util.h"
#include "xen_host.h"

namespace qmin {
namespace {

using Access = XenstorePerm::Access;

class XenstoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("QMIN_TEST_BIN");
    if (bin == nullptr) GTEST_SKIP() << "QMIN_TEST_BIN is not set: no xenstored-fake to talk to";
    socket_ = dir_ / "xenstored.sock";
    const std::string fake = std::string(bin) + "/xenstored-fake";
    pid_ = fork();
    if (pid_ == 0) {
      execl(fake.c_str(), fake.c_str(), socket_.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    struct stat st {};
    for (int tries = 0; tries < 200 && stat(socket_.c_str(), &st) != 0; ++tries) usleep(10000);
    ASSERT_EQ(stat(socket_.c_str(), &st), 0) << "xenstored-fake did not start";
    setenv("XENSTORED_PATH", socket_.c_str(), 1);
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }

  Xenstore Connect(const std::string& socket) {
    setenv("XENSTORED_PATH", socket.c_str(), 1);
    Result<Xenstore> xs = Xenstore::Open();
    setenv("XENSTORED_PATH", socket_.c_str(), 1);
    EXPECT_TRUE(xs) << xs.error().Text();
    return std::move(xs).value();
  }

  testing::ScopedTempDir dir_;
  std::string socket_;
  pid_t pid_ = -1;
};

TEST_F(XenstoreTest, WriteReadDirectoryRemove) {
  Xenstore xs = Connect(socket_);
  ASSERT_TRUE(xs.Write("/local/domain/5/name", "net-vm"));
  ASSERT_TRUE(xs.Write("/local/domain/5/ip", "10.0.0.5 fd00::5"));
  EXPECT_EQ(*xs.Read("/local/domain/5/name"), "net-vm");
  EXPECT_EQ(*xs.Directory("/local/domain/5"), (std::vector<std::string>{"ip", "name"}));
  ASSERT_TRUE(xs.Mkdir("/local/domain/5/data"));
  EXPECT_EQ(*xs.Read("/local/domain/5/data"), "");
  ASSERT_TRUE(xs.Remove("/local/domain/5"));
  Result<std::string> gone = xs.Read("/local/domain/5/name");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().Text(), "read xenstore /local/domain/5/name: No such file or directory");
  EXPECT_EQ(gone.error().errnum, ENOENT);
  EXPECT_TRUE(xs.Remove("/local/domain/5/never")) << "removing what is gone counts as done";
}

TEST_F(XenstoreTest, ValuesAreBytesNotStrings) {
  Xenstore xs = Connect(socket_);
  const std::string value("a\0b\nc", 5);
  ASSERT_TRUE(xs.Write("/v", value));
  EXPECT_EQ(*xs.Read("/v"), value);
}

TEST_F(XenstoreTest, RelativePathsLiveUnderTheCallersDomain) {
  Xenstore xs = Connect(socket_);
  ASSERT_TRUE(xs.Write("backend/vif/5/0/ip", "10.0.0.5"));
  EXPECT_EQ(*xs.Read("/local/domain/0/backend/vif/5/0/ip"), "10.0.0.5");
  EXPECT_EQ(*xs.DomainPath(7), "/local/domain/7");
}

TEST_F(XenstoreTest, PermissionsRoundTrip) {
  Xenstore xs = Connect(socket_);
  ASSERT_TRUE(xs.Write("/local/domain/5/data", ""));
  const std::vector<XenstorePerm> perms = {{5, Access::kBoth}, {0, Access::kRead}};
  ASSERT_TRUE(xs.SetPermissions("/local/domain/5/data", perms));
  EXPECT_EQ(*xs.GetPermissions("/local/domain/5/data"), perms);
}

TEST_F(XenstoreTest, AGuestIsHeldToPermissions) {
  Xenstore dom0 = Connect(socket_);
  ASSERT_TRUE(dom0.Write("/local/domain/5/data", ""));
  ASSERT_TRUE(dom0.SetPermissions("/local/domain/5", {{0, Access::kNone}, {5, Access::kRead}}));
  ASSERT_TRUE(dom0.SetPermissions("/local/domain/5/data", {{5, Access::kBoth}}));
  ASSERT_TRUE(dom0.Write("/local/domain/0/secret", "s"));
  ASSERT_TRUE(dom0.IntroduceDomain(5, 0, 0));

  Xenstore guest = Connect(socket_ + ".d5");
  EXPECT_TRUE(guest.Write("data/ready", "1"));
  EXPECT_EQ(*dom0.Read("/local/domain/5/data/ready"), "1");
  Status denied = guest.Write("/local/domain/0/secret", "pwned");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().errnum, EACCES);
  EXPECT_EQ(guest.Read("/local/domain/0/secret").error().errnum, EACCES);
  EXPECT_EQ(guest.Write("name", "x").error().errnum, EACCES);
  EXPECT_EQ(*dom0.Read("/local/domain/0/secret"), "s");
}

// Events from a XenstoreWatcher, waiting up to a second for each batch.
std::vector<WatchEvent> NextEvents(XenstoreWatcher& watcher, std::size_t count) {
  std::vector<WatchEvent> events;
  while (events.size() < count) {
    pollfd readable{watcher.fd(), POLLIN, 0};
    if (poll(&readable, 1, 1000) != 1) break;
    Result<XenstoreWatcher::Drained> drained = watcher.Drain();
    if (!drained) break;
    events.insert(events.end(), drained->events.begin(), drained->events.end());
  }
  return events;
}

TEST_F(XenstoreTest, WatchFiresFirstAtOnceThenOnChangesBelow) {
  Result<XenstoreWatcher> watcher = XenstoreWatcher::Open();
  ASSERT_TRUE(watcher);
  ASSERT_TRUE(watcher->Watch("/local/domain/5", "tok"));
  std::vector<WatchEvent> initial = NextEvents(*watcher, 1);
  ASSERT_EQ(initial.size(), 1u);
  EXPECT_EQ(initial[0].path, "/local/domain/5");
  EXPECT_EQ(initial[0].token, "tok");
  Xenstore writer = Connect(socket_);
  ASSERT_TRUE(writer.Write("/local/domain/5/x", "1"));
  EXPECT_EQ(NextEvents(*watcher, 1).at(0).path, "/local/domain/5/x");
  ASSERT_TRUE(writer.Write("/local/domain/5", "v"));
  EXPECT_EQ(NextEvents(*watcher, 1).at(0).path, "/local/domain/5");
  ASSERT_TRUE(writer.Remove("/local/domain/5"));
  EXPECT_EQ(NextEvents(*watcher, 1).at(0).path, "/local/domain/5");
}

TEST_F(XenstoreTest, IntroduceAndReleaseFireSpecialWatches) {
  Result<XenstoreWatcher> watcher = XenstoreWatcher::Open();
  ASSERT_TRUE(watcher);
  Xenstore toolstack = Connect(socket_);
  ASSERT_TRUE(watcher->Watch("@introduceDomain", "in"));
  ASSERT_TRUE(watcher->Watch("@releaseDomain", "out"));
  std::vector<WatchEvent> initial = NextEvents(*watcher, 2);
  ASSERT_EQ(initial.size(), 2u);
  EXPECT_EQ(initial[0].token, "in");
  EXPECT_EQ(initial[1].token, "out");
  ASSERT_TRUE(toolstack.IntroduceDomain(9, 0, 0));
  std::vector<WatchEvent> born = NextEvents(*watcher, 1);
  ASSERT_EQ(born.size(), 1u);
  EXPECT_EQ(born[0].path, "@introduceDomain");
  EXPECT_EQ(born[0].token, "in");
  ASSERT_TRUE(toolstack.ReleaseDomain(9));
  EXPECT_EQ(NextEvents(*watcher, 1).at(0).path, "@releaseDomain");
  ASSERT_TRUE(watcher->Unwatch("@releaseDomain", "out"));
}

TEST_F(XenstoreTest, WatcherTakesNewWatchesWhileEventsArrive) {
  Result<XenstoreWatcher> watcher = XenstoreWatcher::Open();
  ASSERT_TRUE(watcher) << watcher.error().Text();
  Xenstore writer = Connect(socket_);
  ASSERT_TRUE(watcher->Watch("@introduceDomain", "domains"));
  ASSERT_TRUE(writer.IntroduceDomain(9, 0, 0));  // an event on its way while we add more
  ASSERT_TRUE(watcher->Watch("/local/domain/9/data/vchan/0/512/event-channel", "agent:9"));
  std::vector<WatchEvent> events = NextEvents(*watcher, 3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].token, "domains");
  EXPECT_EQ(events[1].path, "@introduceDomain");
  EXPECT_EQ(events[2].token, "agent:9");
  ASSERT_TRUE(writer.Write("/local/domain/9/data/vchan/0/512/event-channel", "7"));
  events = NextEvents(*watcher, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].path, "/local/domain/9/data/vchan/0/512/event-channel");
  ASSERT_TRUE(watcher->Unwatch("/local/domain/9/data/vchan/0/512/event-channel", "agent:9"));
  ASSERT_TRUE(writer.Write("/local/domain/9/data/vchan/0/512/event-channel", "8"));
  ASSERT_TRUE(writer.IntroduceDomain(10, 0, 0));
  events = NextEvents(*watcher, 1);
  ASSERT_EQ(events.size(), 1u) << "only the domains watch is left";
  EXPECT_EQ(events[0].token, "domains");
}

TEST_F(XenstoreTest, WatcherFailsWhenXenstoredGoes) {
  Result<XenstoreWatcher> watcher = XenstoreWatcher::Open();
  ASSERT_TRUE(watcher);
  kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  pollfd readable{watcher->fd(), POLLIN, 0};
  ASSERT_EQ(poll(&readable, 1, 1000), 1);
  EXPECT_FALSE(watcher->Drain());
}

TEST_F(XenstoreTest, TransactionsCommitAbortAndConflict) {
  Xenstore xs = Connect(socket_);
  {
    Result<Transaction> tx = xs.Begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE(xs.Write("/t/a", "1", &*tx));
    EXPECT_FALSE(xs.Read("/t/a")) << "not visible before commit";
    ASSERT_TRUE(xs.Commit(*tx));
  }
  EXPECT_EQ(*xs.Read("/t/a"), "1");
  {
    Result<Transaction> tx = xs.Begin();
    ASSERT_TRUE(xs.Write("/t/b", "2", &*tx));
  }  // destroyed without commit: aborted
  EXPECT_FALSE(xs.Read("/t/b"));

  Xenstore other = Connect(socket_);
  Result<Transaction> tx = xs.Begin();
  ASSERT_TRUE(xs.Write("/t/c", "3", &*tx));
  ASSERT_TRUE(other.Write("/t/a", "changed"));
  Status conflict = xs.Commit(*tx);
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().errnum, EAGAIN);
}

TEST_F(XenstoreTest, InTransactionRetriesOnConflict) {
  Xenstore xs = Connect(socket_);
  Xenstore other = Connect(socket_);
  int runs = 0;
  Status status = xs.InTransaction([&](const Transaction& tx) -> Status {
    ++runs;
    if (runs == 1) (void)other.Write("/race", "x");  // makes the first commit conflict
    return xs.Write("/counter", std::to_string(runs), &tx);
  });
  ASSERT_TRUE(status) << status.error().Text();
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(*xs.Read("/counter"), "2");
}

// xen_host's reading of a vif, the one both xvm-start and nic-handoff use.
TEST_F(XenstoreTest, AVifIsConnectedOnlyWhenNetbackAndHotplugBothSaySo) {
  Xenstore xs = Connect(socket_);
  const std::string vif = VifBackendPath(0, 7, 0);
  using State = VifStatus::State;
  EXPECT_EQ(ReadVifStatus(xs, vif).state, State::kWaiting);
  ASSERT_TRUE(xs.Write(vif + "/hotplug-status", "connected"));
  EXPECT_EQ(ReadVifStatus(xs, vif).state, State::kWaiting) << "netback is not connected yet";
  ASSERT_TRUE(xs.Write(vif + "/state", "4"));
  EXPECT_EQ(ReadVifStatus(xs, vif).state, State::kConnected);
  ASSERT_TRUE(xs.Write(vif + "/hotplug-error", "ip= is missing"));
  const VifStatus failed = ReadVifStatus(xs, vif);
  EXPECT_EQ(failed.state, State::kFailed);
  EXPECT_EQ(failed.error, "ip= is missing");
}

TEST(XenstoreOpenTest, NoDaemonIsASystemError) {
  testing::ScopedTempDir dir;
  setenv("XENSTORED_PATH", (dir / "absent.sock").c_str(), 1);
  Result<Xenstore> xs = Xenstore::Open();
  // Without a socket libxenstore falls back to /dev/xen/xenbus, absent here.
  if (xs) GTEST_SKIP() << "this host has a xenstore device";
  EXPECT_EQ(xs.error().exit, ExitCode::kTemporary);
  EXPECT_EQ(xs.error().action, "connect to xenstore (is xenstored running?)");
}

}  // namespace
}  // namespace qmin
