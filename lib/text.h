// Strict text scanners: they reject rather than repair.
#ifndef QMIN_LIB_TEXT_H_
#define QMIN_LIB_TEXT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qmin {

/// A decimal number of at most `max`, digits only: no sign, no spaces, no
/// leading zeros except "0" itself.
std::optional<std::uint64_t> ParseUnsigned(std::string_view text, std::uint64_t max);

/// Splits on every `separator`; empty fields are kept.
std::vector<std::string_view> Split(std::string_view text, char separator);

/// True when `text` is non-empty and only has [A-Za-z0-9_.-], and is not "."
/// or "..": safe as one path component.
bool IsSafeName(std::string_view text);

}  // namespace qmin

#endif  // QMIN_LIB_TEXT_H_
