// xenstored-fake: the xenstored test double (see xenstore_wire.h).
//   xenstored-fake SOCKET
// Serves until SIGTERM or SIGINT; removes its sockets on the way out.
#include <signal.h>

#include <cerrno>
#include <cstring>

#include "cli.h"
#include "xenstore_wire.h"

namespace {

volatile sig_atomic_t g_stop = 0;  // a signal handler's only way out

void RequestStop(int) { g_stop = 1; }

const qmin::ToolSpec kTool = {
    "xenstored-fake",
    "[-hv] SOCKET",
    "A xenstored test double on a UNIX socket; INTRODUCE of domain N adds SOCKET.dN.",
    {},
    1,
    1};

qmin::Result<int> Run(const qmin::Args& args, qmin::Log& /*log*/) {
  struct sigaction action {};
  action.sa_handler = RequestStop;  // no SA_RESTART: poll() must wake up
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
  qmin::fake::Server server(args.positionals()[0]);
  if (!server.Listen()) return qmin::SystemError("listen on " + args.positionals()[0], errno);
  if (!server.Run(g_stop)) return qmin::SystemError("serve", errno);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return qmin::RunTool(kTool, argc, argv, Run); }
