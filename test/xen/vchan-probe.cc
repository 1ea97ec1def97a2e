// vchan-probe: a small static libxenvchan test program for the real-Xen tier,
// until qrx carries vchan itself. One line each way:
//   vchan-probe server PEER_DOMID XS_PATH MESSAGE   send MESSAGE, print the reply
//   vchan-probe client PEER_DOMID XS_PATH           print the message, reply "echo:MESSAGE"
#include <unistd.h>

#include <cstdio>
#include <string>

extern "C" {
#include <libxenvchan.h>
}

#include "text.h"

namespace {

constexpr int kConnectSeconds = 60;

bool SendLine(libxenvchan* channel, const std::string& line) {
  const std::string data = line + "\n";
  return libxenvchan_send(channel, data.data(), data.size()) == static_cast<int>(data.size());
}

// Reads up to a newline, one byte at a time: lines here are a few bytes.
bool ReceiveLine(libxenvchan* channel, std::string& line) {
  char c = 0;
  while (line.size() < 4096) {
    if (libxenvchan_recv(channel, &c, 1) != 1) return false;
    if (c == '\n') return true;
    line.push_back(c);
  }
  return false;
}

// The server may not be there yet: a client retries until it is.
libxenvchan* ConnectClient(int peer, const std::string& path) {
  for (int tries = 0; tries < kConnectSeconds * 10; ++tries) {
    if (libxenvchan* channel = libxenvchan_client_init(nullptr, peer, path.c_str())) return channel;
    usleep(100000);
  }
  return nullptr;
}

int Usage() {
  std::fputs("usage: vchan-probe server PEER XS_PATH MESSAGE | client PEER XS_PATH\n", stderr);
  return 100;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return Usage();
  const std::string mode = argv[1];
  const auto peer = qmin::ParseUnsigned(argv[2], 0x7fef);
  if (!peer || (mode == "server" && argc != 5) || (mode == "client" && argc != 4)) return Usage();
  const int domid = static_cast<int>(*peer);
  libxenvchan* channel = mode == "server" ? libxenvchan_server_init(nullptr, domid, argv[3], 0, 0)
                                          : ConnectClient(domid, argv[3]);
  if (channel == nullptr) {
    std::perror("vchan-probe: unable to open the vchan");
    return 111;
  }
  channel->blocking = 1;  // libxenvchan leaves it to the caller
  std::string line;
  bool ok = false;
  if (mode == "server") {
    ok = SendLine(channel, argv[4]) && ReceiveLine(channel, line);
  } else {
    ok = ReceiveLine(channel, line) && SendLine(channel, "echo:" + line);
  }
  if (ok) std::printf("%s\n", line.c_str());
  libxenvchan_close(channel);
  return ok ? 0 : 111;
}
