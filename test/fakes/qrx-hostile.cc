// qrx-hostile: misbehaving peers, for tests.
//   qrx-hostile garbage|huge|unterminated|no-hello|old-version|flood|silent|no-read
//     serves the control vchan of its domain ($VCHAN_DOMAIN) like qrx-agent,
//     and once the broker connects does one bad thing, then lingers.
//   qrx-hostile odd-names|v4
//     the same, but sends triggers whose names a Qubes agent may pass on
//     (odd characters, empty, a leading '+'), or one TRIGGER_SERVICE4 on a
//     version-3 link, and prints each answer: "refused IDENT" or "connect IDENT".
//   qrx-hostile local-garbage|local-huge|local-unterminated|local-twice|local-odd SOCKET
//     a bad qrx-call on a local socket; prints "closed" if it gets cut off.
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "qrx_proto.h"
#include "unix_socket.h"
#include "vchan.h"

namespace {

void Put(qmin::Vchan& channel, const std::vector<std::uint8_t>& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    auto wrote = channel.Write(std::span(bytes).subspan(done));
    if (!wrote) return;
    done += *wrote;
    if (*wrote == 0) {
      pollfd p{channel.fd(), POLLIN, 0};
      if (poll(&p, 1, 1000) <= 0) return;  // the broker stopped reading: we are done
      (void)channel.Wait();
    }
  }
}

std::vector<std::uint8_t> RawHeader(std::uint32_t type, std::uint32_t len) {
  std::vector<std::uint8_t> bytes;
  for (std::uint32_t value : {type, len})
    for (int shift = 0; shift < 32; shift += 8)
      bytes.push_back(static_cast<std::uint8_t>(value >> shift));
  return bytes;
}

}  // namespace

// A bad local caller: sends its bytes, then reports whether the other side
// hung up on it (rather than answering).
int LocalAttack(const std::string& attack, const std::string& path) {
  qmin::Result<int> fd = qmin::ConnectUnix(path);
  if (!fd) return 111;
  using namespace qmin::qrx;
  std::vector<std::uint8_t> bytes;
  const Trigger honest{"", "personal", "SOCKET", "test.Cat"};
  if (attack == "local-garbage") {
    bytes = RawHeader(0x999, 4);
    bytes.insert(bytes.end(), {1, 2, 3, 4});
  } else if (attack == "local-huge") {
    bytes = RawHeader(kTriggerService3, 0xffffffff);
  } else if (attack == "local-unterminated") {
    bytes = EncodeTrigger(kTriggerService3, honest);
    bytes.back() = 'x';
  } else if (attack == "local-odd") {
    bytes = EncodeTrigger(kTriggerService3, {"", "a/b c", "SOCKET", "te st"});
  } else if (attack == "local-twice") {
    bytes = EncodeTrigger(kTriggerService3, honest);
    const std::vector<std::uint8_t> again = bytes;
    bytes.insert(bytes.end(), again.begin(), again.end());
  }
  ssize_t ignored = write(*fd, bytes.data(), bytes.size());
  (void)ignored;
  char answer[16];
  const ssize_t got = read(*fd, answer, sizeof answer);
  std::puts(got == 0 ? "closed" : "answered");
  return 0;
}

// Triggers a Qubes agent passes on as its callers wrote them.
std::vector<std::vector<std::uint8_t>> OddTriggers() {
  using namespace qmin::qrx;
  const Trigger odd[] = {
      {"", "a/b", "ODD1", "test.Cat"},      {"", "personal", "ODD2", "te st"},
      {"", "\xc3\xa9", "ODD3", "test.Cat"}, {"", "personal", "ODD4", "$x"},
      {"", "personal", "ODD5", "+x"},       {"", "personal", "ODD6", ""},
  };
  std::vector<std::vector<std::uint8_t>> all;
  for (const Trigger& trigger : odd) all.push_back(EncodeTrigger(kTriggerService3, trigger));
  return all;
}

// Prints each answer the broker sends: "refused IDENT" or "connect IDENT".
void PrintAnswers(qmin::Vchan& vchan, qmin::qrx::FrameReader& reader) {
  std::uint8_t buffer[4096];
  while (vchan.DataReady() > 0) {
    auto got = vchan.Read(buffer);
    if (!got || !reader.Feed(std::span(buffer, *got))) return;
  }
  while (const auto frame = reader.Next()) {
    auto message = qmin::qrx::DecodeBody(qmin::qrx::Link::kFromBroker, frame->header, frame->body);
    if (!message) continue;
    if (const auto* refused = std::get_if<qmin::qrx::ServiceRefused>(&*message))
      std::printf("refused %s\n", refused->ident.c_str());
    if (const auto* connect = std::get_if<qmin::qrx::ServiceConnect>(&*message))
      std::printf("connect %s\n", connect->ident.c_str());
    std::fflush(stdout);
  }
}

int main(int argc, char** argv) {
  if (argc == 3) return LocalAttack(argv[1], argv[2]);
  if (argc != 2) return 100;
  const std::string attack = argv[1];
  auto channel = qmin::ServeVchan(0, qmin::qrx::kControlPort, 4096);
  if (!channel) return 111;
  qmin::Vchan& vchan = **channel;
  while (vchan.state() == qmin::Vchan::State::kWaiting) {
    pollfd p{vchan.fd(), POLLIN, 0};
    poll(&p, 1, -1);
    (void)vchan.Wait();
  }
  using namespace qmin::qrx;
  const Trigger honest{"", "personal", "SOCKET1", "test.Echo"};
  if (attack == "no-hello") {
    Put(vchan, EncodeTrigger(kTriggerService3, honest));
  } else if (attack == "old-version") {
    Put(vchan, EncodeHello(1));
  } else if (attack != "silent") {
    Put(vchan, EncodeHello(3));
  }
  if (attack == "garbage") {
    Put(vchan, RawHeader(0x999, 4));
    Put(vchan, {1, 2, 3, 4});
  } else if (attack == "huge") {
    Put(vchan, RawHeader(kTriggerService3, 0xffffffff));
  } else if (attack == "unterminated") {
    std::vector<std::uint8_t> trigger = EncodeTrigger(kTriggerService3, honest);
    trigger.back() = 'x';  // the service name loses its NUL
    Put(vchan, trigger);
  } else if (attack == "odd-names") {
    for (const auto& trigger : OddTriggers()) Put(vchan, trigger);
  } else if (attack == "v4") {
    // Qubes' agents send the version-4 trigger whatever the link's version.
    Put(vchan, EncodeTrigger(kTriggerService4, {"", "personal", "V4", "test.Cat"}));
  } else if (attack == "flood" || attack == "no-read") {
    // Triggers as fast as the ring takes them; with no-read nothing is read back.
    for (int i = 0; i < 40000; ++i) Put(vchan, EncodeTrigger(kTriggerService3, honest));
  }
  FrameReader answers(Link::kFromBroker, kMaxFrameSize);
  for (;;) {
    if (attack == "odd-names" || attack == "v4") {
      PrintAnswers(vchan, answers);
    } else if (attack != "no-read") {
      std::uint8_t sink[4096];
      while (vchan.DataReady() > 0) (void)vchan.Read(sink);
    }
    pollfd p{vchan.fd(), POLLIN, 0};
    poll(&p, 1, -1);
    (void)vchan.Wait();
    if (vchan.state() == qmin::Vchan::State::kClosed) return 0;
  }
}
