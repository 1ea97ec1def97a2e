// vchan-probe: one line each way over qmin's vchan (lib/vchan.h; libxenvchan
// in build/bin), for the real-Xen tier until qrx carries vchan itself.
//   vchan-probe server PEER PORT MESSAGE   send MESSAGE, print the reply
//   vchan-probe client PEER PORT           print the message, reply "echo:MESSAGE"
// Waits with poll() and Wait(), as qrx must: never spinning.
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "text.h"
#include "vchan.h"

namespace {

constexpr auto kPatience = std::chrono::seconds(60);
using Clock = std::chrono::steady_clock;

// Sleeps until the channel's fd fires, then consumes the event.
bool AwaitEvent(qmin::Vchan& channel, Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return false;
  pollfd p{channel.fd(), POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(left)) < 0) return false;
  return static_cast<bool>(channel.Wait());
}

bool SendLine(qmin::Vchan& channel, const std::string& text, Clock::time_point deadline) {
  const std::string line = text + "\n";
  std::size_t sent = 0;
  while (sent < line.size()) {
    auto wrote = channel.Write(
        std::span(reinterpret_cast<const std::uint8_t*>(line.data()) + sent, line.size() - sent));
    if (!wrote) return false;
    sent += *wrote;
    if (sent < line.size() && !AwaitEvent(channel, deadline)) return false;
  }
  return true;
}

bool ReceiveLine(qmin::Vchan& channel, std::string& line, Clock::time_point deadline) {
  for (;;) {
    std::uint8_t c = 0;
    while (channel.DataReady() > 0) {
      if (!channel.Read(std::span(&c, 1))) return false;
      if (c == '\n') return true;
      line.push_back(static_cast<char>(c));
    }
    if (channel.state() == qmin::Vchan::State::kClosed || !AwaitEvent(channel, deadline))
      return false;
  }
}

int Usage() {
  std::fputs("usage: vchan-probe server PEER PORT MESSAGE | client PEER PORT\n", stderr);
  return 100;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return Usage();
  const std::string mode = argv[1];
  const auto peer = qmin::ParseUnsigned(argv[2], 0x7fef);
  const auto port = qmin::ParseUnsigned(argv[3], 65535);
  if (!peer || !port || (mode == "server" && argc != 5) || (mode == "client" && argc != 4))
    return Usage();
  const auto deadline = Clock::now() + kPatience;
  qmin::Result<std::unique_ptr<qmin::Vchan>> channel = qmin::InvalidError("open", "not yet");
  if (mode == "server") {
    channel = qmin::ServeVchan(static_cast<unsigned>(*peer), static_cast<unsigned>(*port), 4096);
  } else {
    // The server may not be there yet: try again until it is.
    while (!(channel =
                 qmin::ConnectVchan(static_cast<unsigned>(*peer), static_cast<unsigned>(*port))) &&
           Clock::now() < deadline)
      usleep(100000);
  }
  if (!channel) {
    std::fprintf(stderr, "vchan-probe: unable to %s\n", channel.error().Text().c_str());
    return 111;
  }
  std::string line;
  const bool ok =
      mode == "server"
          ? SendLine(**channel, argv[4], deadline) && ReceiveLine(**channel, line, deadline)
          : ReceiveLine(**channel, line, deadline) && SendLine(**channel, "echo:" + line, deadline);
  if (ok) std::printf("%s\n", line.c_str());
  return ok ? 0 : 111;
}
