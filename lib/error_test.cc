#include "error.h"

#include <cerrno>

#include <gtest/gtest.h>

namespace qmin {
namespace {

TEST(ErrorTest, SystemErrorCarriesErrnoAndItsText) {
  const Error error = SystemError("read /proc/misc", ENOENT);
  EXPECT_EQ(error.Text(), "read /proc/misc: No such file or directory");
  EXPECT_EQ(error.errnum, ENOENT);
  EXPECT_EQ(error.exit, ExitCode::kTemporary);
}

TEST(ErrorTest, InvalidErrorIsAUsageError) {
  const Error error = InvalidError("parse x", "bad");
  EXPECT_EQ(error.Text(), "parse x: bad");
  EXPECT_EQ(error.errnum, 0);
  EXPECT_EQ(ToInt(error.exit), 100);
}

TEST(ResultTest, HoldsAValueOrAnError) {
  Result<int> good = 5;
  ASSERT_TRUE(good);
  EXPECT_EQ(*good, 5);
  Result<int> bad = InvalidError("a", "b");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().Text(), "a: b");
}

TEST(StatusTest, DefaultIsSuccess) {
  EXPECT_TRUE(Status());
  EXPECT_FALSE(Status(SystemError("x", EIO)));
}

TEST(ExitCodeTest, TheTableOfDesignMd) {
  EXPECT_EQ(ToInt(ExitCode::kSuccess), 0);
  EXPECT_EQ(ToInt(ExitCode::kRefused), 1);
  EXPECT_EQ(ToInt(ExitCode::kUsage), 100);
  EXPECT_EQ(ToInt(ExitCode::kTemporary), 111);
  EXPECT_EQ(ToInt(ExitCode::kCannotExec), 126);
  EXPECT_EQ(ToInt(ExitCode::kNotFound), 127);
}

}  // namespace
}  // namespace qmin
