#include "misc_devices.h"

#include <set>

#include "text.h"

namespace qmin {
namespace {

Error LineError(std::string_view source, std::size_t line_number, std::string reason) {
  return InvalidError("parse " + std::string(source) + " line " + std::to_string(line_number),
                      std::move(reason));
}

}  // namespace

Result<std::vector<MiscDevice>> ParseMiscDevices(std::string_view text, std::string_view source) {
  std::vector<MiscDevice> devices;
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.empty()) return devices;
  std::size_t line_number = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++line_number;
    // The kernel pads the minor to three columns with leading spaces.
    const std::size_t start = line.find_first_not_of(' ');
    const std::size_t space = line.find(' ', start == std::string_view::npos ? 0 : start);
    if (start == std::string_view::npos || space == std::string_view::npos)
      return LineError(source, line_number,
                       "expected \"MINOR NAME\", got " + QuoteForMessage(line));
    const auto minor = ParseUnsigned(line.substr(start, space - start), kMaxMinor);
    if (!minor)
      return LineError(source, line_number, "bad minor number in " + QuoteForMessage(line));
    const std::string_view name = line.substr(space + 1);
    if (name.empty() || name.find_first_of(" \t\r\v\f") != std::string_view::npos ||
        name.find('\0') != std::string_view::npos)
      return LineError(source, line_number, "bad device name in " + QuoteForMessage(line));
    devices.push_back(MiscDevice{static_cast<unsigned>(*minor), std::string(name)});
  }
  return devices;
}

Result<std::vector<MiscDevice>> XenMiscDevices(const std::vector<MiscDevice>& all,
                                               std::string_view source) {
  static constexpr std::string_view kPrefix = "xen/";
  std::vector<MiscDevice> xen;
  std::set<std::string> seen;
  for (const MiscDevice& device : all) {
    if (device.name.rfind(kPrefix, 0) != 0) continue;
    const std::string name = device.name.substr(kPrefix.size());
    if (!IsSafeName(name))
      return InvalidError("parse " + std::string(source),
                          "unsafe device name " + QuoteForMessage(device.name));
    if (!seen.insert(name).second)
      return InvalidError("parse " + std::string(source),
                          "device " + QuoteForMessage(device.name) + " listed twice");
    xen.push_back(MiscDevice{device.minor, name});
  }
  return xen;
}

}  // namespace qmin
