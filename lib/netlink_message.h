// A netlink request under construction, for netlink.cc and
// netlink_config.cc: header, family struct, attributes, each aligned.
#ifndef QMIN_LIB_NETLINK_MESSAGE_H_
#define QMIN_LIB_NETLINK_MESSAGE_H_

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstdint>
#include <vector>

namespace qmin {

// A netlink message under construction: header, family struct, attributes.
class NetlinkMessage {
 public:
  NetlinkMessage(std::uint16_t type, std::uint16_t flags) {
    nlmsghdr header{};
    header.nlmsg_type = type;
    header.nlmsg_flags = static_cast<std::uint16_t>(flags | NLM_F_REQUEST | NLM_F_ACK);
    Append(&header, sizeof header);
  }

  template <typename T>
  void Body(const T& body) {
    Append(&body, sizeof body);
  }

  void Attribute(std::uint16_t type, const void* data, std::size_t size) {
    rtattr attribute{};
    attribute.rta_type = type;
    attribute.rta_len = static_cast<std::uint16_t>(RTA_LENGTH(size));
    Append(&attribute, sizeof attribute);
    Append(data, size);
  }

  std::vector<std::uint8_t>& Finish() {
    auto* header = reinterpret_cast<nlmsghdr*>(bytes_.data());
    header->nlmsg_len = static_cast<std::uint32_t>(bytes_.size());
    return bytes_;
  }

 private:
  void Append(const void* data, std::size_t size) {
    const auto* from = static_cast<const std::uint8_t*>(data);
    bytes_.insert(bytes_.end(), from, from + size);
    bytes_.resize(NLMSG_ALIGN(bytes_.size()), 0);
  }

  std::vector<std::uint8_t> bytes_;
};

}  // namespace qmin

#endif  // QMIN_LIB_NETLINK_MESSAGE_H_
