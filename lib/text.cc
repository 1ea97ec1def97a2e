#include "text.h"

#include <cctype>

namespace qmin {

std::string Trimmed(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

std::optional<std::uint64_t> ParseUnsigned(std::string_view text, std::uint64_t max) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (digit > max || value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos) {
      fields.push_back(text.substr(start));
      return fields;
    }
    fields.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

std::string Join(const std::vector<std::string>& words, std::string_view separator) {
  std::string joined;
  for (const std::string& word : words) {
    if (&word != &words.front()) joined += separator;
    joined += word;
  }
  return joined;
}

bool IsNameChar(char c, std::string_view extra) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-' || extra.find(c) != std::string_view::npos;
}

bool IsNameText(std::string_view text, std::string_view extra) {
  if (text.empty()) return false;
  for (char c : text)
    if (!IsNameChar(c, extra)) return false;
  return true;
}

std::string SanitizeName(std::string_view text, std::string_view extra) {
  std::string clean(text);
  for (char& c : clean)
    if (!IsNameChar(c, extra)) c = '_';
  return clean;
}

bool IsSafeName(std::string_view text) { return text != "." && text != ".." && IsNameText(text); }

std::string QuoteForMessage(std::string_view text, std::size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string quoted = "\"";
  for (std::size_t i = 0; i < text.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      quoted.push_back(static_cast<char>(c));
    } else {
      quoted.append("\\x").push_back(kHex[c >> 4]);
      quoted.push_back(kHex[c & 0xf]);
    }
  }
  if (text.size() > max) quoted.append("...");
  quoted.push_back('"');
  return quoted;
}

}  // namespace qmin
