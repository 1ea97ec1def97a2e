#include "sysfs.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <memory>

#include "files.h"

namespace qmin {
namespace {

constexpr std::size_t kMaxSysfsFile = 64 * 1024;

}  // namespace

Result<std::string> RealSysfs::Read(const std::string& path) {
  return ReadSmallFile(root_ + "/" + path, kMaxSysfsFile);
}

Status RealSysfs::Write(const std::string& path, const std::string& value) {
  return WriteExisting(root_ + "/" + path, value);
}

Result<std::string> RealSysfs::Resolve(const std::string& path) {
  const std::string full = root_ + "/" + path;
  std::unique_ptr<char, decltype(&std::free)> real(realpath(full.c_str(), nullptr), &std::free);
  if (!real) return SystemError("resolve " + full, errno);
  std::unique_ptr<char, decltype(&std::free)> root(realpath(root_.c_str(), nullptr), &std::free);
  std::string resolved = real.get();
  // Below a fixture root, answer as the kernel's /sys would.
  if (root && resolved.rfind(std::string(root.get()) + "/", 0) == 0)
    resolved = "/sys" + resolved.substr(std::string(root.get()).size());
  return resolved;
}

bool RealSysfs::Exists(const std::string& path) {
  struct stat st {};
  return stat((root_ + "/" + path).c_str(), &st) == 0;
}

}  // namespace qmin
