#include "files.h"

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
