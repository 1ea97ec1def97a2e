#include "qrx_proto.h"

#include <gtest/gtest.h>

namespace qmin::qrx {
namespace {

// Decodes a whole message as a receiver on `link` would.
Result<Message> Decode(Link link, const std::vector<std::uint8_t>& bytes) {
  if (bytes.size() < kHeaderSize) return InvalidError("test", "short");
  const Header header = DecodeHeader(bytes);
  if (Status status = CheckHeader(link, header); !status) return status.error();
  return DecodeBody(link, header, std::span(bytes).subspan(kHeaderSize));
}

std::string Why(const Result<Message>& result) { return result ? "ok" : result.error().reason; }

TEST(QrxProtoTest, HelloRoundTripsLittleEndian) {
  const std::vector<std::uint8_t> bytes = EncodeHello(3);
  EXPECT_EQ(bytes, (std::vector<std::uint8_t>{0x00, 0x03, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0}));
  EXPECT_EQ(std::get<Hello>(*Decode(Link::kFromAgent, bytes)).version, 3U);
}

TEST(QrxProtoTest, TriggerRoundTrips) {
  const Trigger trigger{"", "work", "SOCKET7", "qubes.Filecopy+x"};
  const auto decoded =
      std::get<Trigger>(*Decode(Link::kFromAgent, EncodeTrigger(kTriggerService3, trigger)));
  EXPECT_EQ(decoded.target_domain, "work");
  EXPECT_EQ(decoded.ident, "SOCKET7");
  EXPECT_EQ(decoded.service, "qubes.Filecopy+x");
  const Trigger v4{"personal", "@default", "SOCKET", "svc"};
  EXPECT_EQ(std::get<Trigger>(*Decode(Link::kFromLocalClient, EncodeTrigger(kTriggerService4, v4)))
                .source_domain,
            "personal");
}

TEST(QrxProtoTest, ExecAndConnectRoundTrip) {
  const ExecParams exec{5, 513, "user:QUBESRPC svc+arg work"};
  const auto decoded =
      std::get<ExecParams>(*Decode(Link::kFromBroker, EncodeExecParams(kExecCmdline, exec)));
  EXPECT_EQ(decoded.connect_domain, 5U);
  EXPECT_EQ(decoded.connect_port, 513U);
  EXPECT_EQ(decoded.cmdline, exec.cmdline);
  const auto connect = std::get<ServiceConnect>(
      *Decode(Link::kFromBroker, EncodeServiceConnect({7, 514, "SOCKET9"})));
  EXPECT_EQ(connect.ident, "SOCKET9");
  EXPECT_EQ(
      std::get<ServiceRefused>(*Decode(Link::kFromBroker, EncodeServiceRefused("SOCKET9"))).ident,
      "SOCKET9");
  EXPECT_EQ(std::get<ExecParams>(
                *Decode(Link::kFromAgent, EncodeExecParams(kConnectionTerminated, {5, 513, ""})))
                .connect_port,
            513U);
}

TEST(QrxProtoTest, DataAndExitCode) {
  const std::vector<std::uint8_t> payload(65536, 'x');
  EXPECT_EQ(std::get<Data>(*Decode(Link::kData, EncodeData(kDataStdout, payload))).bytes.size(),
            65536U);
  EXPECT_TRUE(std::get<Data>(*Decode(Link::kData, EncodeData(kDataStdin, {}))).bytes.empty());
  EXPECT_EQ(std::get<ExitStatus>(*Decode(Link::kData, EncodeExitCode(-1))).code, -1);
}

TEST(QrxProtoTest, TypesAreCheckedPerLink) {
  EXPECT_EQ(Why(Decode(Link::kFromAgent, EncodeServiceRefused("x"))),
            "unexpected message type 515");
  EXPECT_EQ(Why(Decode(Link::kFromBroker, EncodeTrigger(kTriggerService3, {"", "a", "b", "c"}))),
            "unexpected message type 530");
  EXPECT_EQ(Why(Decode(Link::kFromLocalClient, EncodeHello(3))), "unexpected message type 768");
  std::vector<std::uint8_t> unknown = EncodeHello(3);
  unknown[0] = 0x99;
  EXPECT_EQ(Why(Decode(Link::kData, unknown)), "unexpected message type 921");
  std::vector<std::uint8_t> v2 = EncodeHello(3);
  v2[0] = 0x10;
  v2[1] = 0x02;
  EXPECT_EQ(Why(Decode(Link::kFromAgent, v2)), "unexpected message type 528");
}

TEST(QrxProtoTest, LengthsAreCheckedBeforeTheBody) {
  const auto header = [](std::uint32_t type, std::uint32_t len) { return Header{type, len}; };
  EXPECT_FALSE(CheckHeader(Link::kFromAgent, header(kHello, 8)));
  EXPECT_FALSE(CheckHeader(Link::kData, header(kDataStdout, 65537)));
  EXPECT_FALSE(CheckHeader(Link::kData, header(kDataStdout, 0xffffffff)));
  EXPECT_FALSE(CheckHeader(Link::kData, header(kDataExitCode, 0)));
  EXPECT_FALSE(CheckHeader(Link::kFromAgent, header(kTriggerService3, 96)));
  EXPECT_FALSE(CheckHeader(Link::kFromAgent, header(kTriggerService3, 96 + 65001 + 1)));
  EXPECT_FALSE(CheckHeader(Link::kFromBroker, header(kExecCmdline, 8)));
  EXPECT_FALSE(CheckHeader(Link::kFromBroker, header(kServiceConnect, 41)));
  EXPECT_FALSE(CheckHeader(Link::kFromAgent, header(kConnectionTerminated, 9)));
  EXPECT_TRUE(CheckHeader(Link::kFromAgent, header(kTriggerService3, 97)));
  EXPECT_EQ(CheckHeader(Link::kData, header(kDataStdout, 65537)).error().reason,
            "bad length 65537 for message type 401");
}

TEST(QrxProtoTest, FramingErrorsAreRefused) {
  auto trigger = EncodeTrigger(kTriggerService3, {"", "work", "SOCKET1", "svc"});
  auto mutate = [&](std::size_t at, std::uint8_t value) {
    auto copy = trigger;
    copy[kHeaderSize + at] = value;
    return Why(Decode(Link::kFromAgent, copy));
  };
  EXPECT_EQ(mutate(63, 'x'), "target domain not a NUL-padded string") << "junk after the NUL";
  EXPECT_EQ(mutate(5, 'x'), "target domain not a NUL-padded string");
  EXPECT_EQ(mutate(64, '$'), "invalid request ident");
  EXPECT_EQ(mutate(64 + 31, 'x'), "invalid request ident") << "junk after the ident";
  EXPECT_EQ(mutate(96, 0), "service name not a terminated string") << "inner NUL";
  EXPECT_EQ(mutate(96 + 3, 'x'), "service name not a terminated string") << "unterminated";
  auto exec = EncodeExecParams(kExecCmdline, {1, 513, "user:cmd"});
  exec[kHeaderSize + 9] = 0;
  EXPECT_EQ(Why(Decode(Link::kFromBroker, exec)), "command line not a terminated string");
}

// Names are content, as in Qubes' daemon: decoded as they came, then
// sanitised for the policy; only an empty or '+'-led service is refused.
TEST(QrxProtoTest, NamesAreContentNotFraming) {
  auto trigger = EncodeTrigger(kTriggerService3, {"", "work", "SOCKET1", "svc"});
  trigger[kHeaderSize] = '/';
  ASSERT_EQ(Why(Decode(Link::kFromAgent, trigger)), "ok");
  Trigger decoded = std::get<Trigger>(*Decode(Link::kFromAgent, trigger));
  EXPECT_EQ(decoded.target_domain, "/ork");
  EXPECT_TRUE(SanitizeTrigger(decoded));
  EXPECT_EQ(decoded.target_domain, "_ork");
  const std::pair<Trigger, std::string> cases[] = {
      {{"", "a/b", "SOCKET1", "svc"}, "a_b svc"},
      {{"", "work", "SOCKET1", "a b+\xc3\xa9$"}, "work a_b+___"},
      {{"", "@dispvm:x", "SOCKET1", "svc+arg"}, "@dispvm:x svc+arg"},
      {{"", "", "SOCKET1", "svc"}, " svc"},
  };
  for (auto [trigger_case, expected] : cases) {
    ASSERT_TRUE(SanitizeTrigger(trigger_case)) << expected;
    EXPECT_EQ(trigger_case.target_domain + " " + trigger_case.service, expected);
  }
  Trigger empty{"", "work", "SOCKET1", ""};
  EXPECT_EQ(SanitizeTrigger(empty).error().Text(), "call a service: no name");
  EXPECT_EQ(SanitizeTrigger(empty).error().exit, ExitCode::kRefused);
  Trigger plus{"", "work", "SOCKET1", "+arg"};
  EXPECT_EQ(SanitizeTrigger(plus).error().Text(), "call +arg: the name starts with +");
}

TEST(QrxProtoTest, LocalAnswerIsEightBytesOrNothing) {
  const std::vector<std::uint8_t> answer = EncodeLocalAnswer(7, 513);
  EXPECT_EQ(answer, (std::vector<std::uint8_t>{7, 0, 0, 0, 0x01, 0x02, 0, 0}));
  const std::optional<ExecParams> decoded = DecodeLocalAnswer(answer);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->connect_domain, 7U);
  EXPECT_EQ(decoded->connect_port, 513U);
  EXPECT_FALSE(DecodeLocalAnswer(std::span(answer).first(7)));
}

TEST(FrameReaderTest, FramesComeWholeFromAnyChunking) {
  std::vector<std::uint8_t> stream = EncodeHello(3);
  const std::vector<std::uint8_t> data =
      EncodeData(kDataStdout, std::vector<std::uint8_t>(5000, 'x'));
  stream.insert(stream.end(), data.begin(), data.end());
  for (std::size_t chunk : {1U, 7U, 4096U, 100000U}) {
    FrameReader reader(Link::kData, 2 * kMaxFrameSize);
    std::vector<std::size_t> sizes;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
      const auto part = std::span(stream).subspan(at, std::min(chunk, stream.size() - at));
      ASSERT_TRUE(reader.Feed(part));
      while (const std::optional<Frame> frame = reader.Next()) sizes.push_back(frame->body.size());
    }
    EXPECT_EQ(sizes, (std::vector<std::size_t>{4, 5000})) << "chunks of " << chunk;
    EXPECT_EQ(reader.buffered(), 0U);
  }
}

TEST(FrameReaderTest, AHostileHeaderIsRefusedBeforeItsBody) {
  FrameReader reader(Link::kData, 2 * kMaxFrameSize);
  std::vector<std::uint8_t> header(kHeaderSize);
  PutHeader(header, kDataStdout, 0xffffffff);
  EXPECT_EQ(reader.Feed(header).error().reason, "bad length 4294967295 for message type 401");
  FrameReader second(Link::kFromAgent, kMaxFrameSize);
  const std::vector<std::uint8_t> hello = EncodeHello(3);
  ASSERT_TRUE(second.Feed(hello));
  PutHeader(header, kServiceRefused, 32);
  EXPECT_EQ(second.Feed(header).error().reason, "unexpected message type 515")
      << "the second header of one read is checked too";
}

TEST(FrameReaderTest, MissingSaysHowMuchTheFrameStillNeeds) {
  FrameReader reader(Link::kData, 2 * kMaxFrameSize);
  EXPECT_EQ(reader.Missing(), kHeaderSize);
  const std::vector<std::uint8_t> data =
      EncodeData(kDataStdin, std::vector<std::uint8_t>(100, 'y'));
  ASSERT_TRUE(reader.Feed(std::span(data).first(10)));
  EXPECT_EQ(reader.Missing(), 98U);
  EXPECT_FALSE(reader.HasWholeFrame());
}

TEST(QrxProtoTest, NamesAndIdents) {
  EXPECT_TRUE(IsValidDomainName("sys-net"));
  EXPECT_TRUE(IsValidDomainName("@dispvm:work-dvm"));
  EXPECT_FALSE(IsValidDomainName("a b"));
  EXPECT_FALSE(IsValidDomainName(std::string(64, 'a')));
  EXPECT_TRUE(IsValidServiceName("qubes.Filecopy+arg"));
  EXPECT_FALSE(IsValidServiceName("+arg"));
  EXPECT_FALSE(IsValidServiceName("a/b"));
  EXPECT_TRUE(IsValidIdent("SOCKET 12"));
  EXPECT_FALSE(IsValidIdent(""));
}

}  // namespace
}  // namespace qmin::qrx
