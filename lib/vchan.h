// The vchan transport is chosen at link time (DESIGN.md §4): build/bin links
// vchan_xen.cc (libxenvchan), build/sim/bin links vchan_socket.cc (UNIX
// sockets under $VCHAN_SOCKET_DIR). Nothing else in lib/ knows which one it
// got, and no test code reaches a production binary.
#ifndef QMIN_LIB_VCHAN_H_
#define QMIN_LIB_VCHAN_H_

#include <string_view>

namespace qmin {

/// "xen" or "socket": printed by --version so a test can tell the builds apart.
std::string_view VchanTransportName();

}  // namespace qmin

#endif  // QMIN_LIB_VCHAN_H_
