// /proc/misc: one "%3i %s\n" line per misc device (minor, name). Minors of the
// Xen devices are dynamic and differ between domains and boots, so callers
// read this file every time rather than remember numbers.
#ifndef QMIN_LIB_MISC_DEVICES_H_
#define QMIN_LIB_MISC_DEVICES_H_

#include <string>
#include <string_view>
#include <vector>

#include "error.h"

namespace qmin {

inline constexpr unsigned kMiscMajor = 10;
/// Linux minors have 20 bits (MINORBITS).
inline constexpr unsigned kMaxMinor = (1U << 20) - 1;

struct MiscDevice {
  unsigned minor = 0;
  std::string name;  ///< as the kernel names it, e.g. "xen/evtchn"
  bool operator==(const MiscDevice&) const = default;
};

/// Parses the whole text or nothing: a malformed line is an error (exit 100)
/// naming `source` and the line number.
Result<std::vector<MiscDevice>> ParseMiscDevices(std::string_view text, std::string_view source);

/// The entries named "xen/NAME", with the prefix removed. A NAME that is not a
/// safe file name, or appears twice, is an error: it would become a path.
Result<std::vector<MiscDevice>> XenMiscDevices(const std::vector<MiscDevice>& all,
                                               std::string_view source);

}  // namespace qmin

#endif  // QMIN_LIB_MISC_DEVICES_H_
