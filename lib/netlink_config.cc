// An interface's addresses and routes over rtnetlink: what nic-handoff
// records, takes away and gives back. The message builder is netlink.cc's.
#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "netlink.h"
#include "netlink_message.h"
#include "text.h"

namespace qmin {
namespace {

unsigned char FamilyOf(int family) { return family == 4 ? AF_INET : AF_INET6; }

IpAddress FromBytes(unsigned char family, const void* data) {
  IpAddress address;
  address.family = family == AF_INET ? 4 : 6;
  std::memcpy(address.bytes.data(), data, address.size());
  char text[64] = {};
  inet_ntop(family, address.bytes.data(), text, sizeof text);
  address.text = text;
  return address;
}

bool IsLinkLocal6(const IpAddress& address) {
  return address.family == 6 && address.bytes[0] == 0xfe && (address.bytes[1] & 0xc0) == 0x80;
}

NetlinkMessage AddressMessage(std::uint16_t type, std::uint16_t flags,
                              const InterfaceAddress& address, int ifindex) {
  NetlinkMessage message(type, flags);
  ifaddrmsg body{};
  body.ifa_family = FamilyOf(address.address.family);
  body.ifa_prefixlen = static_cast<unsigned char>(address.prefix);
  body.ifa_index = static_cast<unsigned>(ifindex);
  message.Body(body);
  message.Attribute(IFA_LOCAL, address.address.bytes.data(), address.address.size());
  message.Attribute(IFA_ADDRESS, address.address.bytes.data(), address.address.size());
  return message;
}

NetlinkMessage GatewayRouteMessage(std::uint16_t type, std::uint16_t flags,
                                   const InterfaceRoute& route, int ifindex) {
  NetlinkMessage message(type, flags);
  rtmsg body{};
  body.rtm_family = FamilyOf(route.destination.family);
  body.rtm_dst_len = static_cast<unsigned char>(route.prefix);
  body.rtm_table = RT_TABLE_MAIN;
  body.rtm_protocol = RTPROT_STATIC;
  body.rtm_scope = type == RTM_DELROUTE        ? RT_SCOPE_NOWHERE
                   : route.gateway.family != 0 ? RT_SCOPE_UNIVERSE
                                               : RT_SCOPE_LINK;
  body.rtm_type = RTN_UNICAST;
  body.rtm_flags = route.onlink ? RTNH_F_ONLINK : 0;
  message.Body(body);
  if (route.prefix > 0)
    message.Attribute(RTA_DST, route.destination.bytes.data(), route.destination.size());
  if (route.gateway.family != 0)
    message.Attribute(RTA_GATEWAY, route.gateway.bytes.data(), route.gateway.size());
  const std::uint32_t oif = static_cast<std::uint32_t>(ifindex);
  message.Attribute(RTA_OIF, &oif, sizeof oif);
  return message;
}

// The attributes of one reply, by type.
template <typename Body, typename Visit>
void Attributes(const nlmsghdr& reply, int body_length, Visit visit) {
  const auto* body = static_cast<const Body*>(NLMSG_DATA(&reply));
  int length = static_cast<int>(reply.nlmsg_len) - NLMSG_LENGTH(body_length);
  for (const auto* attribute = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(body) +
                                                               NLMSG_ALIGN(body_length));
       RTA_OK(attribute, length); attribute = RTA_NEXT(attribute, length))
    visit(*attribute);
}

}  // namespace

std::string FormatAddress(const InterfaceAddress& address) {
  return address.address.text + "/" + std::to_string(address.prefix);
}

Result<InterfaceAddress> ParseInterfaceAddress(std::string_view text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return InvalidError("read an address", "no /prefix");
  Result<IpAddress> address = ParseHostAddress(text.substr(0, slash));
  if (!address) return address.error();
  const auto prefix = ParseUnsigned(text.substr(slash + 1), address->host_prefix());
  if (!prefix) return InvalidError("read an address", "bad prefix in " + std::string(text));
  return InterfaceAddress{*address, static_cast<unsigned>(*prefix)};
}

std::string FormatRoute(const InterfaceRoute& route) {
  std::string text = route.prefix == 0
                         ? std::string("default")
                         : route.destination.text + "/" + std::to_string(route.prefix);
  if (route.gateway.family != 0) text += " via " + route.gateway.text;
  if (route.onlink) text += " onlink";
  return text;
}

Result<InterfaceRoute> ParseRoute(std::string_view text) {
  const std::vector<std::string_view> words = Split(text, ' ');
  InterfaceRoute route;
  if (words.empty()) return InvalidError("read a route", "empty");
  if (words[0] == "default") {
    route.prefix = 0;
  } else {
    Result<InterfaceAddress> destination = ParseInterfaceAddress(words[0]);
    if (!destination) return destination.error();
    route.destination = destination->address;
    route.prefix = destination->prefix;
  }
  std::size_t at = 1;
  if (at < words.size() && words[at] == "via") {
    if (at + 1 >= words.size()) return InvalidError("read a route", "via what?");
    Result<IpAddress> gateway = ParseHostAddress(words[at + 1]);
    if (!gateway) return gateway.error();
    route.gateway = *gateway;
    at += 2;
  }
  if (at < words.size() && words[at] == "onlink") {
    route.onlink = true;
    ++at;
  }
  if (at != words.size()) return InvalidError("read a route", "junk in " + std::string(text));
  if (route.prefix == 0)
    route.destination.family = route.gateway.family != 0 ? route.gateway.family : 4;
  return route;
}

Status Netlink::SetLinkDown(int ifindex) {
  NetlinkMessage message(RTM_NEWLINK, 0);
  ifinfomsg link{};
  link.ifi_family = AF_UNSPEC;
  link.ifi_index = ifindex;
  link.ifi_flags = 0;
  link.ifi_change = IFF_UP;
  message.Body(link);
  return Request(message.Finish(), "take down interface " + std::to_string(ifindex));
}

Result<std::vector<InterfaceAddress>> Netlink::Addresses(int ifindex) {
  NetlinkMessage message(RTM_GETADDR, NLM_F_DUMP);
  ifaddrmsg body{};
  message.Body(body);
  std::vector<InterfaceAddress> addresses;
  const Status dumped = Dump(message.Finish(), "list addresses", [&](const nlmsghdr& reply) {
    if (reply.nlmsg_type != RTM_NEWADDR) return;
    const auto* info = static_cast<const ifaddrmsg*>(NLMSG_DATA(&reply));
    if (static_cast<int>(info->ifa_index) != ifindex) return;
    InterfaceAddress address;
    Attributes<ifaddrmsg>(reply, sizeof(ifaddrmsg), [&](const rtattr& attribute) {
      if (attribute.rta_type == IFA_LOCAL ||
          (attribute.rta_type == IFA_ADDRESS && address.address.family == 0))
        address.address = FromBytes(info->ifa_family, RTA_DATA(&attribute));
    });
    address.prefix = info->ifa_prefixlen;
    // The kernel's own (link-local) and what autoconfiguration gave (not
    // permanent) come back by themselves: only what was set by hand counts.
    const bool autoconfigured =
        info->ifa_family == AF_INET6 && !(info->ifa_flags & IFA_F_PERMANENT);
    if (address.address.family != 0 && !IsLinkLocal6(address.address) && !autoconfigured)
      addresses.push_back(address);
  });
  if (!dumped) return dumped.error();
  return addresses;
}

Result<std::vector<InterfaceRoute>> Netlink::Routes(int ifindex) {
  NetlinkMessage message(RTM_GETROUTE, NLM_F_DUMP);
  rtmsg body{};
  message.Body(body);
  std::vector<InterfaceRoute> routes;
  const Status dumped = Dump(message.Finish(), "list routes", [&](const nlmsghdr& reply) {
    if (reply.nlmsg_type != RTM_NEWROUTE) return;
    const auto* info = static_cast<const rtmsg*>(NLMSG_DATA(&reply));
    // Routes the kernel made for an address, or learnt from router
    // advertisements, come back by themselves.
    if (info->rtm_table != RT_TABLE_MAIN || info->rtm_type != RTN_UNICAST ||
        info->rtm_protocol == RTPROT_KERNEL || info->rtm_protocol == RTPROT_RA)
      return;
    InterfaceRoute route;
    route.prefix = info->rtm_dst_len;
    route.onlink = (info->rtm_flags & RTNH_F_ONLINK) != 0;
    route.destination.family = info->rtm_family == AF_INET ? 4 : 6;
    int oif = 0;
    Attributes<rtmsg>(reply, sizeof(rtmsg), [&](const rtattr& attribute) {
      if (attribute.rta_type == RTA_DST)
        route.destination = FromBytes(info->rtm_family, RTA_DATA(&attribute));
      if (attribute.rta_type == RTA_GATEWAY)
        route.gateway = FromBytes(info->rtm_family, RTA_DATA(&attribute));
      if (attribute.rta_type == RTA_OIF) std::memcpy(&oif, RTA_DATA(&attribute), sizeof oif);
    });
    if (oif == ifindex) routes.push_back(route);
  });
  if (!dumped) return dumped.error();
  return routes;
}

Status Netlink::AddAddress(const InterfaceAddress& address, int ifindex) {
  NetlinkMessage message =
      AddressMessage(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, address, ifindex);
  return Request(message.Finish(), "add address " + FormatAddress(address));
}

Status Netlink::DeleteAddress(const InterfaceAddress& address, int ifindex) {
  NetlinkMessage message = AddressMessage(RTM_DELADDR, 0, address, ifindex);
  return Request(message.Finish(), "delete address " + FormatAddress(address));
}

Status Netlink::AddRoute(const InterfaceRoute& route, int ifindex) {
  NetlinkMessage message =
      GatewayRouteMessage(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, route, ifindex);
  return Request(message.Finish(), "add route " + FormatRoute(route));
}

Status Netlink::DeleteRoute(const InterfaceRoute& route, int ifindex) {
  NetlinkMessage message = GatewayRouteMessage(RTM_DELROUTE, 0, route, ifindex);
  return Request(message.Finish(), "delete route " + FormatRoute(route));
}

Status Netlink::Dump(std::vector<std::uint8_t>& message, const std::string& action,
                     const std::function<void(const nlmsghdr&)>& take) {
  auto* header = reinterpret_cast<nlmsghdr*>(message.data());
  header->nlmsg_flags &= static_cast<std::uint16_t>(~NLM_F_ACK);
  header->nlmsg_seq = ++sequence_;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd_, message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof kernel) < 0)
    return SystemError(action, errno);
  alignas(nlmsghdr) std::uint8_t buffer[32768];
  for (;;) {
    const ssize_t got = recv(fd_, buffer, sizeof buffer, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return SystemError(action, errno == EAGAIN ? ETIMEDOUT : errno);
    }
    auto length = static_cast<unsigned>(got);
    for (auto* reply = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(reply, length);
         reply = NLMSG_NEXT(reply, length)) {
      if (reply->nlmsg_seq != sequence_) continue;
      if (reply->nlmsg_type == NLMSG_DONE) return {};
      if (reply->nlmsg_type == NLMSG_ERROR) {
        const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(reply));
        return SystemError(action, error->error != 0 ? -error->error : EPROTO);
      }
      take(*reply);
    }
  }
}

}  // namespace qmin
