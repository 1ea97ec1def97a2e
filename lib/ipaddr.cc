#include "ipaddr.h"

#include <arpa/inet.h>

#include <algorithm>

#include "text.h"

namespace qmin {
namespace {

Error Bad(std::string_view text, const std::string& why) {
  return InvalidError("use address " + QuoteForMessage(text), why);
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Dotted quad, exactly: four decimal numbers 0-255 without leading zeros
// (inet_pton alone would take "010" as ten, and inet_aton as eight).
bool ParseIpv4(std::string_view text, std::array<std::uint8_t, 16>& bytes) {
  const std::vector<std::string_view> parts = Split(text, '.');
  if (parts.size() != 4) return false;
  for (std::size_t i = 0; i < 4; ++i) {
    const auto value = ParseUnsigned(parts[i], 255);
    if (!value) return false;
    bytes[i] = static_cast<std::uint8_t>(*value);
  }
  return true;
}

std::string Why(const IpAddress& a) {
  const auto& b = a.bytes;
  if (a.family == 4) {
    if (b[0] == 0) return "not a host address (0.0.0.0/8)";
    if (b[0] == 127) return "a loopback address";
    if (b[0] >= 224 && b[0] <= 239) return "a multicast address";
    if (b[0] >= 240)
      return b == std::array<std::uint8_t, 16>{255, 255, 255, 255}
                 ? "the broadcast address"
                 : "a reserved address (240.0.0.0/4)";
    return "";
  }
  const bool zero_prefix =
      std::all_of(b.begin(), b.begin() + 15, [](std::uint8_t x) { return x == 0; });
  if (zero_prefix && b[15] == 0) return "the unspecified address";
  if (zero_prefix && b[15] == 1) return "a loopback address";
  if (b[0] == 0xff) return "a multicast address";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "a link-local address";
  const bool mapped =
      std::all_of(b.begin(), b.begin() + 10, [](std::uint8_t x) { return x == 0; }) &&
      b[10] == 0xff && b[11] == 0xff;
  if (mapped) return "an IPv4-mapped address";
  return "";
}

}  // namespace

Result<IpAddress> ParseHostAddress(std::string_view text) {
  if (text.empty() || text.size() > 64) return Bad(text, "not an IPv4 or IPv6 address");
  std::string_view address = text;
  std::string_view prefix;
  if (const std::size_t slash = text.find('/'); slash != std::string_view::npos) {
    address = text.substr(0, slash);
    prefix = text.substr(slash + 1);
  }
  IpAddress result;
  char canonical[INET6_ADDRSTRLEN] = {};
  if (ParseIpv4(address, result.bytes)) {
    result.family = 4;
  } else {
    const std::string copy(address);
    const bool plausible = !copy.empty() && std::all_of(copy.begin(), copy.end(), [](char c) {
      return IsHexDigit(c) || c == ':' || c == '.';
    });
    if (!plausible || inet_pton(AF_INET6, copy.c_str(), result.bytes.data()) != 1)
      return Bad(text, "not an IPv4 or IPv6 address");
    result.family = 6;
  }
  if (!prefix.empty() || text.back() == '/') {
    if (!ParseUnsigned(prefix, result.host_prefix())) return Bad(text, "bad prefix length");
  }
  if (std::string why = Why(result); !why.empty()) return Bad(text, why);
  inet_ntop(result.family == 4 ? AF_INET : AF_INET6, result.bytes.data(), canonical,
            sizeof canonical);
  result.text = canonical;
  return result;
}

Result<std::vector<IpAddress>> ParseAddressList(std::string_view text) {
  std::vector<IpAddress> addresses;
  for (std::string_view word : Split(text, ' ')) {
    if (word.empty()) continue;  // several spaces between addresses are harmless
    Result<IpAddress> address = ParseHostAddress(word);
    if (!address) return address.error();
    if (std::find(addresses.begin(), addresses.end(), *address) != addresses.end())
      return Bad(word, "listed twice");
    addresses.push_back(std::move(*address));
  }
  return addresses;
}

Result<std::array<std::uint8_t, 6>> ParseMac(std::string_view text) {
  std::array<std::uint8_t, 6> mac{};
  const std::vector<std::string_view> parts = Split(text, ':');
  bool ok = parts.size() == 6;
  for (std::size_t i = 0; ok && i < 6; ++i) {
    ok = parts[i].size() == 2 && IsHexDigit(parts[i][0]) && IsHexDigit(parts[i][1]);
    if (ok) mac[i] = static_cast<std::uint8_t>(std::stoi(std::string(parts[i]), nullptr, 16));
  }
  if (!ok)
    return InvalidError("use MAC address " + QuoteForMessage(text), "expected six hex pairs");
  if ((mac[0] & 1) != 0)
    return InvalidError("use MAC address " + QuoteForMessage(text), "a multicast address");
  if (std::all_of(mac.begin(), mac.end(), [](std::uint8_t b) { return b == 0; }))
    return InvalidError("use MAC address " + QuoteForMessage(text), "all zero");
  return mac;
}

std::string FormatMac(const std::array<std::uint8_t, 6>& mac) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (std::size_t i = 0; i < mac.size(); ++i) {
    if (i != 0) text.push_back(':');
    text.push_back(kHex[mac[i] >> 4]);
    text.push_back(kHex[mac[i] & 0xf]);
  }
  return text;
}

}  // namespace qmin
