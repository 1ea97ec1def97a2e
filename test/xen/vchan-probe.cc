// vchan-probe: raw vchan between domains over qmin's vchan (lib/vchan.h;
// libxenvchan in build/bin), for the real-Xen tier: a line each way, and the
// bare copy loop that qrx's throughput is measured against.
//   vchan-probe server PEER PORT MESSAGE   send MESSAGE, print the reply
//   vchan-probe client PEER PORT           print the message, reply "echo:MESSAGE"
//   vchan-probe send PEER PORT BYTES [RING]  serve a RING-byte ring (65536), send BYTES
//                                          zero bytes, wait for the peer to close;
//                                          print "BYTES bytes in S s"
//   vchan-probe receive PEER PORT BYTES    connect, read BYTES bytes, close
// Waits with poll() and Wait(), as qrx must: never spinning.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "domid.h"
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

// The bare copy loop: as fast as the ring allows, in 64 KiB writes as qrx's are.
bool SendBytes(qmin::Vchan& channel, std::uint64_t total, Clock::time_point deadline) {
  static const std::uint8_t zeros[65536] = {};
  while (channel.state() == qmin::Vchan::State::kWaiting)
    if (!AwaitEvent(channel, deadline)) return false;
  const auto started = Clock::now();
  std::uint64_t sent = 0;
  while (sent < total) {
    auto wrote =
        channel.Write(std::span(zeros, std::min<std::uint64_t>(sizeof zeros, total - sent)));
    if (!wrote || channel.state() == qmin::Vchan::State::kClosed) return false;
    sent += *wrote;
    if (*wrote == 0 && !AwaitEvent(channel, deadline)) return false;
  }
  while (channel.state() != qmin::Vchan::State::kClosed)
    if (!AwaitEvent(channel, deadline)) return false;
  const std::chrono::duration<double> took = Clock::now() - started;
  std::printf("%llu bytes in %.3f s\n", static_cast<unsigned long long>(total), took.count());
  return true;
}

bool ReceiveBytes(qmin::Vchan& channel, std::uint64_t total, Clock::time_point deadline) {
  std::uint8_t buffer[65536];
  std::uint64_t got = 0;
  while (got < total) {
    const std::size_t ready = channel.DataReady();
    if (ready == 0) {
      if (channel.state() == qmin::Vchan::State::kClosed || !AwaitEvent(channel, deadline))
        return false;
      continue;
    }
    auto read = channel.Read(std::span(buffer, std::min(sizeof buffer, ready)));
    if (!read) return false;
    got += *read;
  }
  return true;
}

int Usage() {
  std::fputs(
      "usage: vchan-probe server PEER PORT MESSAGE | client PEER PORT |"
      " send PEER PORT BYTES [RING] | receive PEER PORT BYTES\n",
      stderr);
  return 100;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return Usage();
  const std::string mode = argv[1];
  const auto peer = qmin::ParseDomainId(argv[2]);
  const auto port = qmin::ParseUnsigned(argv[3], 65535);
  const bool bulk = mode == "send" || mode == "receive";
  const std::uint64_t bytes =
      bulk && argc >= 5 ? qmin::ParseUnsigned(argv[4], 1ULL << 40).value_or(0) : 0;
  const std::uint64_t ring =
      mode == "send" && argc == 6 ? qmin::ParseUnsigned(argv[5], 1 << 24).value_or(0) : 65536;
  if (!peer || !port || (mode == "server" && argc != 5) || (mode == "client" && argc != 4) ||
      (bulk && bytes == 0) || argc > (mode == "send" ? 6 : 5) || ring < 1024)
    return Usage();
  const auto deadline = Clock::now() + kPatience;
  qmin::Result<std::unique_ptr<qmin::Vchan>> channel = qmin::InvalidError("open", "not yet");
  if (mode == "server" || mode == "send") {
    channel = qmin::ServeVchan(static_cast<unsigned>(*peer), static_cast<unsigned>(*port),
                               mode == "send" ? ring : 4096);
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
  if (mode == "send") return SendBytes(**channel, bytes, deadline) ? 0 : 111;
  if (mode == "receive") return ReceiveBytes(**channel, bytes, deadline) ? 0 : 111;
  std::string line;
  const bool ok =
      mode == "server"
          ? SendLine(**channel, argv[4], deadline) && ReceiveLine(**channel, line, deadline)
          : ReceiveLine(**channel, line, deadline) && SendLine(**channel, "echo:" + line, deadline);
  if (ok) std::printf("%s\n", line.c_str());
  return ok ? 0 : 111;
}
