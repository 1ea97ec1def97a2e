#include "device_nodes.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "misc_devices.h"
#include "text.h"

namespace qmin {
namespace {

std::string Numbers(unsigned major, unsigned minor) {
  return std::to_string(major) + ":" + std::to_string(minor);
}

const char* KindInTheWay(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "something that is not a device node";
}

std::string TemporaryPath(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return dir + ".mkxendev." + base + "." + std::to_string(getpid());
}

}  // namespace

Result<NodeStep> PlanNode(const NodeSpec& spec) {
  struct stat st {};
  if (lstat(spec.path.c_str(), &st) != 0) {
    if (errno == ENOENT) return NodeStep{spec, NodeAction::kCreate, ""};
    return SystemError("inspect " + spec.path, errno);
  }
  if (S_ISCHR(st.st_mode) && major(st.st_rdev) == spec.major && minor(st.st_rdev) == spec.minor)
    return NodeStep{spec, NodeAction::kKeep, ""};
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    const char type = S_ISCHR(st.st_mode) ? 'c' : 'b';
    return NodeStep{spec, NodeAction::kReplace,
                    std::string(1, type) + " " + Numbers(major(st.st_rdev), minor(st.st_rdev))};
  }
  return InvalidError("create " + spec.path,
                      std::string(KindInTheWay(st.st_mode)) + " is in the way");
}

Status ApplyNode(const NodeStep& step) {
  if (step.action == NodeAction::kKeep) return {};
  const NodeSpec& spec = step.spec;
  const std::string temporary = TemporaryPath(spec.path);
  unlink(temporary.c_str());  // a leftover of an earlier run killed at this point
  if (mknod(temporary.c_str(), S_IFCHR | spec.mode, makedev(spec.major, spec.minor)) != 0)
    return SystemError("create " + spec.path, errno);
  // mknod() honours the umask; the mode we promise must not depend on it.
  if (chmod(temporary.c_str(), spec.mode) != 0 ||
      rename(temporary.c_str(), spec.path.c_str()) != 0) {
    const int saved = errno;
    unlink(temporary.c_str());
    return SystemError("create " + spec.path, saved);
  }
  return {};
}

Result<NodeSpec> ParseDevNumbers(std::string_view text, std::string_view source) {
  const std::string_view original = text;
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  const std::size_t colon = text.find(':');
  if (colon != std::string_view::npos) {
    const auto major_number = ParseUnsigned(text.substr(0, colon), (1U << 12) - 1);
    const auto minor_number = ParseUnsigned(text.substr(colon + 1), kMaxMinor);
    if (major_number && minor_number) {
      NodeSpec spec;
      spec.major = static_cast<unsigned>(*major_number);
      spec.minor = static_cast<unsigned>(*minor_number);
      return spec;
    }
  }
  return InvalidError("parse " + std::string(source),
                      "expected \"MAJOR:MINOR\", got " + QuoteForMessage(original));
}

std::string DescribeNodeStep(const NodeStep& step) {
  const NodeSpec& spec = step.spec;
  const std::string numbers = "c " + std::to_string(spec.major) + " " + std::to_string(spec.minor);
  switch (step.action) {
    case NodeAction::kKeep:
      return "keep " + spec.path + " " + numbers;
    case NodeAction::kCreate:
      return "mknod " + spec.path + " " + numbers;
    case NodeAction::kReplace:
      return "replace " + spec.path + " " + numbers + " (was " + step.was + ")";
  }
  return "";
}

}  // namespace qmin
