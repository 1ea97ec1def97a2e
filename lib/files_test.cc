#include "files.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "test_util.h"

namespace qmin {
namespace {

TEST(ReadSmallFileTest, ReadsWholeFile) {
  testing::ScopedTempDir dir;
  std::ofstream(dir / "f") << "hello\n";
  EXPECT_EQ(*ReadSmallFile(dir / "f", 100), "hello\n");
}

TEST(ReadSmallFileTest, RefusesFilesAboveTheCap) {
  testing::ScopedTempDir dir;
  std::ofstream(dir / "f") << std::string(101, 'x');
  Result<std::string> text = ReadSmallFile(dir / "f", 100);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().Text(), "read " + (dir / "f") + ": larger than 100 bytes");
  EXPECT_EQ(text.error().exit, ExitCode::kUsage);
}

TEST(ReadSmallFileTest, MissingFileIsASystemErrorWithErrno) {
  Result<std::string> text = ReadSmallFile("/nonexistent-qmin", 100);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().Text(), "read /nonexistent-qmin: No such file or directory");
  EXPECT_EQ(text.error().errnum, ENOENT);
  EXPECT_EQ(text.error().exit, ExitCode::kTemporary);
}

TEST(UnderRootTest, JoinsOnlyWhenRooted) {
  EXPECT_EQ(UnderRoot("/", "/dev"), "/dev");
  EXPECT_EQ(UnderRoot("", "/dev"), "/dev");
  EXPECT_EQ(UnderRoot("/tmp/r", "/dev"), "/tmp/r/dev");
  EXPECT_EQ(UnderRoot("/tmp/r//", "/dev"), "/tmp/r/dev");
}

}  // namespace
}  // namespace qmin

namespace qmin {
namespace {

TEST(WriteFileAtomicTest, ReplacesWholeAndLeavesNoTemporary) {
  testing::ScopedTempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "f", "one\n"));
  ASSERT_TRUE(WriteFileAtomic(dir / "f", "two\n"));
  EXPECT_EQ(*ReadSmallFile(dir / "f", 100), "two\n");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
  EXPECT_EQ(WriteFileAtomic(dir / "no/f", "x").error().Text(),
            "write " + (dir / "no/f") + ": No such file or directory");
}

TEST(FileLockTest, ExcludesAndTimesOut) {
  testing::ScopedTempDir dir;
  Result<FileLock> first = FileLock::Acquire(dir / "lock", 100);
  ASSERT_TRUE(first);
  Result<FileLock> second = FileLock::Acquire(dir / "lock", 100);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().errnum, ETIMEDOUT);
}

TEST(FileLockTest, AnUnlinkedLockIsNotHeldByTheNextComer) {
  testing::ScopedTempDir dir;
  {
    Result<FileLock> first = FileLock::Acquire(dir / "lock", 100);
    ASSERT_TRUE(first);
    first->Unlink();
  }
  EXPECT_TRUE(FileLock::Acquire(dir / "lock", 100));
}

}  // namespace
TEST(DescriptorTest, SocketsAndTheirCopiesAreKnown) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  const int copy = dup(pair[0]);
  const int null = open("/dev/null", O_RDONLY);
  EXPECT_TRUE(IsSocket(pair[0]));
  EXPECT_FALSE(IsSocket(null));
  EXPECT_TRUE(SameOpenFile(pair[0], copy));
  EXPECT_FALSE(SameOpenFile(pair[0], pair[1]));  // two ends, two sockets
  for (int fd : {pair[0], pair[1], copy, null}) close(fd);
  EXPECT_FALSE(IsSocket(copy));
  EXPECT_FALSE(SameOpenFile(pair[0], copy));
}

}  // namespace qmin
