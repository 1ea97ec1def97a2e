// Xen's domain IDs, the one home of their limit: real domains are numbered
// 0 to 0x7fef; from DOMID_FIRST_RESERVED (0x7ff0) up, the IDs name special
// domains (DOMID_SELF, DOMID_IO, ...) that no xenstore path or vchan peer
// may ever be.
#ifndef QMIN_LIB_DOMID_H_
#define QMIN_LIB_DOMID_H_

#include <optional>
#include <string_view>

#include "text.h"

namespace qmin {

inline constexpr unsigned kMaxDomainId = 0x7fef;

/// A domain ID in decimal, or nullopt for anything else (a sign, a space,
/// a reserved ID).
inline std::optional<unsigned> ParseDomainId(std::string_view text) {
  const auto id = ParseUnsigned(text, kMaxDomainId);
  if (!id) return std::nullopt;
  return static_cast<unsigned>(*id);
}

}  // namespace qmin

#endif  // QMIN_LIB_DOMID_H_
