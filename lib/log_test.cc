#include "log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <gtest/gtest.h>

#include "files.h"
#include "test_util.h"

namespace qmin {
namespace {

// Runs `body` with stderr sent to a file, and returns what it wrote.
template <typename Body>
std::string CaptureStderr(Body body) {
  testing::ScopedTempDir dir;
  const std::string path = dir / "stderr";
  const int file = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int saved = dup(STDERR_FILENO);
  dup2(file, STDERR_FILENO);
  body();
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(file);
  return *ReadSmallFile(path, 1 << 20);
}

TEST(LogTest, OneMessageShape) {
  const std::string text = CaptureStderr([] {
    Log log("vif-route");
    log.Fatal(SystemError("add route 10.0.0.5 via vif3.0", EEXIST));
    log.Error(InvalidError("reload the policy", "2 errors"));
    log.Warning("something odd");
    log.Warning(InvalidError("parse x", "bad"));
    log.Usage("unknown option --x");
  });
  EXPECT_EQ(text,
            "vif-route: fatal: unable to add route 10.0.0.5 via vif3.0: File exists\n"
            "vif-route: error: unable to reload the policy: 2 errors\n"
            "vif-route: warning: something odd\n"
            "vif-route: warning: unable to parse x: bad\n"
            "vif-route: usage: unknown option --x\n");
}

TEST(LogTest, InfoAndDebugFollowVerbosity) {
  const std::string quiet = CaptureStderr([] {
    Log log("t");
    log.Info("i");
    log.Debug("d");
  });
  EXPECT_EQ(quiet, "");
  const std::string loud = CaptureStderr([] {
    Log log("t", Log::kStderr, 2);
    log.Info("i");
    log.Debug("d");
  });
  EXPECT_EQ(loud, "t: info: i\nt: debug: d\n");
}

TEST(LogTest, KeepsErrno) {
  CaptureStderr([] {
    Log log("t");
    errno = EAGAIN;
    log.Warning("x");
    EXPECT_EQ(errno, EAGAIN);
  });
}

}  // namespace
}  // namespace qmin
