// Host addresses from a vif's "ip" key: strictly parsed, and only unicast
// addresses a host route can carry.
#ifndef QMIN_LIB_IPADDR_H_
#define QMIN_LIB_IPADDR_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"

namespace qmin {

struct IpAddress {
  int family = 0;                        ///< 4 or 6
  std::array<std::uint8_t, 16> bytes{};  ///< network order; IPv4 uses the first 4
  std::string text;                      ///< canonical form, without a prefix

  std::size_t size() const { return family == 4 ? 4 : 16; }
  unsigned host_prefix() const { return family == 4 ? 32 : 128; }
  bool operator==(const IpAddress& other) const {
    return family == other.family && bytes == other.bytes;
  }
};

/// One address, optionally with a /prefix (accepted, then ignored: host
/// routes are used). Rejects anything that is not a unicast host address:
/// unspecified, loopback, multicast, broadcast, IPv6 link-local and
/// IPv4-mapped, and any trailing junk.
Result<IpAddress> ParseHostAddress(std::string_view text);

/// The space-separated list of a vif's "ip" key; duplicates are an error.
Result<std::vector<IpAddress>> ParseAddressList(std::string_view text);

/// "00:16:3e:5e:6c:01": six hex pairs, unicast and not all zero.
Result<std::array<std::uint8_t, 6>> ParseMac(std::string_view text);

std::string FormatMac(const std::array<std::uint8_t, 6>& mac);

}  // namespace qmin

#endif  // QMIN_LIB_IPADDR_H_
