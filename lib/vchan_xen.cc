// Production vchan transport: libxenvchan. The channel itself arrives with the
// qrx tools; for now this file only names the transport.
#include "vchan.h"

namespace qmin {

std::string_view VchanTransportName() { return "xen"; }

}  // namespace qmin
