// Mounting file systems where they are missing, judged from a mounts table in
// the format of /proc/mounts (a fixture file in tests).
#ifndef QMIN_LIB_MOUNTS_H_
#define QMIN_LIB_MOUNTS_H_

#include <string>
#include <string_view>

#include "error.h"

namespace qmin {

struct MountSpec {
  std::string fstype;       ///< "xenfs"
  std::string source;       ///< "xenfs"
  std::string target;       ///< "/proc/xen"
  std::string options;      ///< passed as mount(2) data; may be empty
  unsigned long flags = 0;  ///< MS_NOSUID and the like
};

/// True when `mounts` (the text of /proc/mounts) has `fstype` on `target`.
/// Octal escapes of the kernel (\040 for a space) are understood.
bool IsMounted(std::string_view mounts, const MountSpec& spec);

/// Creates the target directory when it is missing (mode 0755), then mounts.
Status MountFileSystem(const MountSpec& spec);

/// "mount xenfs on /proc/xen", for -n and -v.
std::string DescribeMount(const MountSpec& spec);

}  // namespace qmin

#endif  // QMIN_LIB_MOUNTS_H_
