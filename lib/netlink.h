// The few rtnetlink requests qmin needs, on a plain NETLINK_ROUTE socket:
// link up, host routes and neighbour entries. Every request is acknowledged,
// so each call returns the kernel's own errno. Why not libmnl: Debian 12
// ships no static libmnl.a, and these requests are a few structs each.
#ifndef QMIN_LIB_NETLINK_H_
#define QMIN_LIB_NETLINK_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "error.h"
#include "ipaddr.h"

namespace qmin {

class Netlink {
 public:
  /// Opens the socket; replies that take longer than `timeout_ms` are an error,
  /// so that a hotplug script stays inside libxl's 40 s.
  static Result<Netlink> Open(int timeout_ms = 5000);
  Netlink(Netlink&& other) noexcept;
  Netlink& operator=(Netlink&&) = delete;
  Netlink(const Netlink&) = delete;
  ~Netlink();

  Status SetLinkUp(int ifindex);
  /// ADDRESS/32 or /128 via the link, scope link: created or replaced.
  Status ReplaceHostRoute(const IpAddress& address, int ifindex);
  Status DeleteHostRoute(const IpAddress& address, int ifindex);
  /// A permanent neighbour entry ADDRESS -> MAC on the link.
  Status ReplaceNeighbour(const IpAddress& address, const std::array<std::uint8_t, 6>& mac,
                          int ifindex);
  /// A proxy neighbour entry (IPv6 proxy NDP) for ADDRESS on the link.
  Status ReplaceProxyNeighbour(const IpAddress& address, int ifindex);
  Status DeleteNeighbour(const IpAddress& address, int ifindex, bool proxy);

 private:
  explicit Netlink(int fd) : fd_(fd) {}
  /// Sends one request with NLM_F_ACK and returns the kernel's answer.
  Status Request(std::vector<std::uint8_t>& message, const std::string& action);

  int fd_;
  std::uint32_t sequence_ = 0;
};

/// The interface index, or 0 when no such interface exists.
int InterfaceIndex(const std::string& name);

}  // namespace qmin

#endif  // QMIN_LIB_NETLINK_H_
