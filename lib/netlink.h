// The few rtnetlink requests qmin needs, on a plain NETLINK_ROUTE socket:
// links up and down, host routes and neighbour entries (vif-route), and an
// interface's addresses and routes, read and moved (nic-handoff). Every
// request is acknowledged, so each call returns the kernel's own errno. Why
// not libmnl: Debian 12 ships no static libmnl.a, and these requests are a
// few structs each.
#ifndef QMIN_LIB_NETLINK_H_
#define QMIN_LIB_NETLINK_H_

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"
#include "ipaddr.h"

struct nlmsghdr;

namespace qmin {

/// An address on an interface, with its prefix length.
struct InterfaceAddress {
  IpAddress address;
  unsigned prefix = 0;
  bool operator==(const InterfaceAddress&) const = default;
};

/// A route in the main table through one interface. A default route has
/// prefix 0; `gateway` is empty (family 0) for a route without one.
struct InterfaceRoute {
  IpAddress destination;
  unsigned prefix = 0;
  IpAddress gateway;
  bool onlink = false;  ///< the gateway is reachable on the link, whatever its address
  bool operator==(const InterfaceRoute&) const = default;
};

/// "10.0.2.15/24", and back; "default via 10.0.2.2 [onlink]" and
/// "10.1.0.0/16 via 10.0.2.1", and back.
std::string FormatAddress(const InterfaceAddress& address);
Result<InterfaceAddress> ParseInterfaceAddress(std::string_view text);
std::string FormatRoute(const InterfaceRoute& route);
Result<InterfaceRoute> ParseRoute(std::string_view text);

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
  Status SetLinkDown(int ifindex);

  /// The interface's addresses, IPv6 link-local ones aside (the kernel
  /// makes those itself).
  Result<std::vector<InterfaceAddress>> Addresses(int ifindex);
  /// The interface's routes in the main table that someone added (not the
  /// kernel's own prefix routes, which come back with their address).
  Result<std::vector<InterfaceRoute>> Routes(int ifindex);
  Status AddAddress(const InterfaceAddress& address, int ifindex);
  Status DeleteAddress(const InterfaceAddress& address, int ifindex);
  Status AddRoute(const InterfaceRoute& route, int ifindex);
  Status DeleteRoute(const InterfaceRoute& route, int ifindex);
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
  /// Sends a dump request and hands each reply of the dump to `take`.
  Status Dump(std::vector<std::uint8_t>& message, const std::string& action,
              const std::function<void(const ::nlmsghdr&)>& take);

  int fd_;
  std::uint32_t sequence_ = 0;
};

/// The interface index, or 0 when no such interface exists.
int InterfaceIndex(const std::string& name);

}  // namespace qmin

#endif  // QMIN_LIB_NETLINK_H_
