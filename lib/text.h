// Strict text scanners: they reject rather than repair. The one name rule
// of qmin (and of Qubes' qrexec) lives here.
#ifndef QMIN_LIB_TEXT_H_
#define QMIN_LIB_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qmin {

/// A decimal number of at most `max`, digits only: no sign, no spaces, no
/// leading zeros except "0" itself.
std::optional<std::uint64_t> ParseUnsigned(std::string_view text, std::uint64_t max);

/// `text` without the white space (a newline) at its end.
std::string Trimmed(std::string text);

/// Splits on every `separator`; empty fields are kept.
std::vector<std::string_view> Split(std::string_view text, char separator);

/// The words with `separator` between them: Split's other way.
std::string Join(const std::vector<std::string>& words, std::string_view separator);

/// The characters names are made of: [A-Za-z0-9_.-], plus those in `extra`
/// ("+" in service names, "@:" in qrexec targets, " " in request idents).
bool IsNameChar(char c, std::string_view extra = "");

/// Non-empty and made only of IsNameChar characters.
bool IsNameText(std::string_view text, std::string_view extra = "");

/// Qubes' sanitize_name: every byte that IsNameChar refuses becomes '_'.
/// For input that must be kept (and judged by policy), not repaired silently.
std::string SanitizeName(std::string_view text, std::string_view extra);

/// IsNameText, and not "." or "..": safe as one path component.
bool IsSafeName(std::string_view text);

/// Quotes text for a message: printable ASCII kept, the rest as \xHH, cut
/// after `max` bytes, so that hostile input cannot forge log lines. This is
/// the one way text from a VM, from xenstore or from xl reaches a message.
inline constexpr std::size_t kMaxQuoted = 80;
std::string QuoteForMessage(std::string_view text, std::size_t max = kMaxQuoted);

}  // namespace qmin

#endif  // QMIN_LIB_TEXT_H_
