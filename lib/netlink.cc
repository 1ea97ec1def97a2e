#include "netlink.h"

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "netlink_message.h"

namespace qmin {
namespace {

unsigned char Family(const IpAddress& address) { return address.family == 4 ? AF_INET : AF_INET6; }

NetlinkMessage RouteMessage(std::uint16_t type, std::uint16_t flags, const IpAddress& address,
                            int ifindex) {
  NetlinkMessage message(type, flags);
  rtmsg route{};
  route.rtm_family = Family(address);
  route.rtm_dst_len = static_cast<unsigned char>(address.host_prefix());
  route.rtm_table = RT_TABLE_MAIN;
  route.rtm_protocol = RTPROT_STATIC;
  // Deleting matches any scope; adding makes a link-scope route, as
  // `ip route add ADDR dev VIF` does.
  route.rtm_scope = type == RTM_DELROUTE ? RT_SCOPE_NOWHERE : RT_SCOPE_LINK;
  route.rtm_type = RTN_UNICAST;
  message.Body(route);
  message.Attribute(RTA_DST, address.bytes.data(), address.size());
  const std::uint32_t oif = static_cast<std::uint32_t>(ifindex);
  message.Attribute(RTA_OIF, &oif, sizeof oif);
  return message;
}

NetlinkMessage NeighbourMessage(std::uint16_t type, std::uint16_t flags, const IpAddress& address,
                                int ifindex, bool proxy) {
  NetlinkMessage message(type, flags);
  ndmsg neighbour{};
  neighbour.ndm_family = Family(address);
  neighbour.ndm_ifindex = ifindex;
  neighbour.ndm_state = NUD_PERMANENT;
  neighbour.ndm_flags = proxy ? NTF_PROXY : 0;
  neighbour.ndm_type = RTN_UNICAST;
  message.Body(neighbour);
  message.Attribute(NDA_DST, address.bytes.data(), address.size());
  return message;
}

}  // namespace

Result<Netlink> Netlink::Open(int timeout_ms) {
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return SystemError("open a netlink socket", errno);
  const timeval timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    const int saved = errno;
    close(fd);
    return SystemError("bind a netlink socket", saved);
  }
  return Netlink(fd);
}

Netlink::Netlink(Netlink&& other) noexcept : fd_(other.fd_), sequence_(other.sequence_) {
  other.fd_ = -1;
}

Netlink::~Netlink() {
  if (fd_ >= 0) close(fd_);
}

Status Netlink::Request(std::vector<std::uint8_t>& message, const std::string& action) {
  auto* header = reinterpret_cast<nlmsghdr*>(message.data());
  header->nlmsg_seq = ++sequence_;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd_, message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof kernel) < 0)
    return SystemError(action, errno);
  alignas(nlmsghdr) std::uint8_t buffer[8192];
  for (;;) {
    const ssize_t got = recv(fd_, buffer, sizeof buffer, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return SystemError(action, errno == EAGAIN ? ETIMEDOUT : errno);
    }
    auto length = static_cast<unsigned>(got);
    for (auto* reply = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(reply, length);
         reply = NLMSG_NEXT(reply, length)) {
      if (reply->nlmsg_seq != sequence_ || reply->nlmsg_type != NLMSG_ERROR) continue;
      if (reply->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return SystemError(action, EPROTO);
      const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(reply));
      if (error->error == 0) return {};
      return SystemError(action, -error->error);
    }
  }
}

Status Netlink::SetLinkUp(int ifindex) {
  NetlinkMessage message(RTM_NEWLINK, 0);
  ifinfomsg link{};
  link.ifi_family = AF_UNSPEC;
  link.ifi_index = ifindex;
  link.ifi_flags = IFF_UP;
  link.ifi_change = IFF_UP;
  message.Body(link);
  return Request(message.Finish(), "bring up interface " + std::to_string(ifindex));
}

Status Netlink::ReplaceHostRoute(const IpAddress& address, int ifindex) {
  NetlinkMessage message =
      RouteMessage(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, address, ifindex);
  return Request(message.Finish(), "add a route to " + address.text);
}

Status Netlink::DeleteHostRoute(const IpAddress& address, int ifindex) {
  NetlinkMessage message = RouteMessage(RTM_DELROUTE, 0, address, ifindex);
  return Request(message.Finish(), "delete the route to " + address.text);
}

Status Netlink::ReplaceNeighbour(const IpAddress& address, const std::array<std::uint8_t, 6>& mac,
                                 int ifindex) {
  NetlinkMessage message =
      NeighbourMessage(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, address, ifindex, false);
  message.Attribute(NDA_LLADDR, mac.data(), mac.size());
  return Request(message.Finish(), "add a neighbour entry for " + address.text);
}

Status Netlink::ReplaceProxyNeighbour(const IpAddress& address, int ifindex) {
  NetlinkMessage message =
      NeighbourMessage(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, address, ifindex, true);
  return Request(message.Finish(), "add a proxy neighbour entry for " + address.text);
}

Status Netlink::DeleteNeighbour(const IpAddress& address, int ifindex, bool proxy) {
  NetlinkMessage message = NeighbourMessage(RTM_DELNEIGH, 0, address, ifindex, proxy);
  return Request(message.Finish(), "delete the neighbour entry for " + address.text);
}

int InterfaceIndex(const std::string& name) {
  return static_cast<int>(if_nametoindex(name.c_str()));
}

}  // namespace qmin
