// Simulation vchan transport: UNIX sockets named
// $VCHAN_SOCKET_DIR/vchan.<server>.<client>.<port>.sock. Linked only into
// build/sim/bin. The channel itself arrives with the qrx tools.
#include "vchan.h"

namespace qmin {

std::string_view VchanTransportName() { return "socket"; }

}  // namespace qmin
