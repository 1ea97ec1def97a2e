// qrx-dom0: dom0's side of a call as Qubes' qrexec-daemon and qrexec-client
// play it, for tests of qrx-agent without a broker: connects to the agent's
// control channel (as domain $VCHAN_DOMAIN, normally 0), sends one
// EXEC_CMDLINE or JUST_EXEC carrying COMMAND, serves the data channel, and
// relays it to stdin/stdout/stderr; exits with the remote status.
//   qrx-dom0 [--just] [--as DOMID] [--port PORT] AGENT-DOMID USER:COMMAND
// --as claims the call comes from DOMID (as a VM's calls do).
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "domid.h"
#include "event_loop.h"
#include "qrx_data.h"
#include "qrx_proto.h"
#include "text.h"
#include "vchan.h"

namespace {

using namespace qmin::qrx;

// The control handshake, by hand and blocking: a test tool, not a daemon.
bool Greet(qmin::Vchan& control) {
  const std::vector<std::uint8_t> hello = EncodeHello(kProtocolVersion);
  std::size_t got = 0;
  std::uint8_t in[12];
  for (int tries = 0; got < sizeof in && tries < 1000; ++tries) {
    pollfd ready{control.fd(), POLLIN, 0};
    poll(&ready, 1, 10);
    (void)control.Wait();
    auto read = control.Read(std::span(in).subspan(got));
    if (read) got += *read;
  }
  return got == sizeof in && control.Write(hello).ok();
}

int Usage() {
  std::fputs("usage: qrx-dom0 [--just] [--as DOMID] [--port PORT] AGENT-DOMID USER:COMMAND\n",
             stderr);
  return 100;
}

}  // namespace

int main(int argc, char** argv) {
  bool just = false;
  unsigned as = 0, port = 600;
  int at = 1;
  for (; at + 1 < argc && argv[at][0] == '-'; ++at) {
    const std::string option = argv[at];
    if (option == "--just") {
      just = true;
    } else if (option == "--as" || option == "--port") {
      const auto value = qmin::ParseUnsigned(argv[++at], 0xffff);
      if (!value) return Usage();
      (option == "--as" ? as : port) = static_cast<unsigned>(*value);
    } else {
      return Usage();
    }
  }
  if (argc - at != 2) return Usage();
  const auto agent = qmin::ParseDomainId(argv[at]);
  if (!agent) return Usage();
  auto control = qmin::ConnectVchan(static_cast<unsigned>(*agent), kControlPort);
  if (!control || !Greet(**control)) return 111;
  // The caller serves the data channel: with --as, that caller is domain `as`.
  if (as != 0) setenv("VCHAN_DOMAIN", std::to_string(as).c_str(), 1);
  auto data = qmin::ServeVchan(static_cast<unsigned>(*agent), port, 65536);
  if (!data) return 111;
  const ExecParams exec{as, port, argv[at + 1], just ? kJustExec : kExecCmdline};
  if (!(*control)->Write(EncodeExecParams(static_cast<MsgType>(exec.type), exec))) return 111;
  auto loop = qmin::EventLoop::Create();
  if (!loop) return 111;
  for (int fd : {0, 1, 2}) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  int status = 125;
  DataLink link(*loop, std::move(*data), DataLink::Side::kCaller, {{dup(0), kDataStdin}},
                {{kDataStdout, dup(1)}, {kDataStderr, dup(2)}}, [&](qmin::Result<int> result) {
                  status = result ? *result : 125;
                  loop->Stop();
                });
  if (!link.Start() || !loop->Run()) return 111;
  return status;
}
