#include "mounts.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>

#include "text.h"

namespace qmin {
namespace {

// /proc/mounts writes space, tab, newline and backslash as \ooo.
std::string UnescapeMountField(std::string_view field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string_view digits = field.substr(i + 1, 3);
      bool octal = digits.size() == 3;
      for (char c : digits) octal = octal && c >= '0' && c <= '7';
      if (octal) {
        out.push_back(static_cast<char>(((digits[0] - '0') << 6) | ((digits[1] - '0') << 3) |
                                        (digits[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

}  // namespace

bool IsMounted(std::string_view mounts, const MountSpec& spec) {
  for (std::string_view line : Split(mounts, '\n')) {
    const std::vector<std::string_view> fields = Split(line, ' ');
    if (fields.size() < 3) continue;
    if (fields[2] == spec.fstype && UnescapeMountField(fields[1]) == spec.target) return true;
  }
  return false;
}

Status MountFileSystem(const MountSpec& spec) {
  if (mkdir(spec.target.c_str(), 0755) != 0 && errno != EEXIST)
    return SystemError("create " + spec.target, errno);
  const char* data = spec.options.empty() ? nullptr : spec.options.c_str();
  if (mount(spec.source.c_str(), spec.target.c_str(), spec.fstype.c_str(), spec.flags, data) != 0)
    return SystemError("mount " + spec.fstype + " on " + spec.target, errno);
  return {};
}

std::string DescribeMount(const MountSpec& spec) {
  return "mount " + spec.fstype + " on " + spec.target;
}

}  // namespace qmin
