#include "qrx_proto.h"

#include <algorithm>
#include <cstring>

#include "text.h"

namespace qmin::qrx {
namespace {

Error Protocol(const std::string& why) { return InvalidError("accept a qrexec message", why); }

std::uint32_t Load32(const std::uint8_t* at) {
  return static_cast<std::uint32_t>(at[0]) | static_cast<std::uint32_t>(at[1]) << 8 |
         static_cast<std::uint32_t>(at[2]) << 16 | static_cast<std::uint32_t>(at[3]) << 24;
}

void Store32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  for (int shift = 0; shift < 32; shift += 8)
    out.push_back(static_cast<std::uint8_t>(value >> shift));
}

std::vector<std::uint8_t> Begin(std::uint32_t type, std::size_t len) {
  std::vector<std::uint8_t> out;
  out.reserve(kHeaderSize + len);
  Store32(out, type);
  Store32(out, static_cast<std::uint32_t>(len));
  return out;
}

// A fixed-size field holding a NUL-terminated string padded with NULs.
bool ReadFixed(std::span<const std::uint8_t> field, std::string& out) {
  const auto nul = std::find(field.begin(), field.end(), 0);
  if (nul == field.end()) return false;  // unterminated
  if (std::any_of(nul, field.end(), [](std::uint8_t b) { return b != 0; }))
    return false;  // junk after it
  out.assign(field.begin(), nul);
  return true;
}

void WriteFixed(std::vector<std::uint8_t>& out, const std::string& text, std::size_t size) {
  const std::size_t used = std::min(text.size(), size - 1);
  out.insert(out.end(), text.begin(), text.begin() + static_cast<std::ptrdiff_t>(used));
  out.insert(out.end(), size - used, 0);
}

// A variable-length tail: NUL-terminated exactly at its end, no NUL inside.
bool ReadTail(std::span<const std::uint8_t> tail, std::string& out) {
  if (tail.empty() || tail.back() != 0) return false;
  if (std::find(tail.begin(), tail.end() - 1, 0) != tail.end() - 1) return false;
  out.assign(tail.begin(), tail.end() - 1);
  return true;
}

bool Allowed(Link link, std::uint32_t type) {
  switch (link) {
    case Link::kFromAgent:
      return type == kHello || type == kTriggerService3 || type == kTriggerService4 ||
             type == kConnectionTerminated;
    case Link::kFromBroker:
      return type == kHello || type == kExecCmdline || type == kJustExec ||
             type == kServiceConnect || type == kServiceRefused;
    case Link::kFromLocalClient:
      return type == kTriggerService3 || type == kTriggerService4;
    case Link::kData:
      return type == kHello || type == kDataStdin || type == kDataStdout || type == kDataStderr ||
             type == kDataExitCode;
  }
  return false;
}

// The lengths each type allows, before the body is read.
bool LengthFits(std::uint32_t type, std::uint32_t len) {
  switch (type) {
    case kHello:
    case kDataExitCode:
      return len == 4;
    case kExecCmdline:
    case kJustExec:
      return len > kExecParamsSize && len <= kExecParamsSize + kMaxCmdline + 1;
    case kConnectionTerminated:
      return len == kExecParamsSize;
    case kServiceConnect:
      return len == kExecParamsSize + kIdentSize;
    case kServiceRefused:
      return len == kIdentSize;
    case kTriggerService3:
      return len > kDomainNameSize + kIdentSize &&
             len <= kDomainNameSize + kIdentSize + kMaxServiceName + 1;
    case kTriggerService4:
      return len > 2 * kDomainNameSize + kIdentSize &&
             len <= 2 * kDomainNameSize + kIdentSize + kMaxServiceName + 1;
    case kDataStdin:
    case kDataStdout:
    case kDataStderr:
      return len <= kMaxDataChunk;
    default:
      return false;
  }
}

// Framing only: fixed fields NUL-padded, a valid ident, a service name
// NUL-terminated at the end with no NUL inside. What the names hold is
// content, judged by SanitizeTrigger and the policy.
Result<Message> DecodeTrigger(const Header& header, std::span<const std::uint8_t> body) {
  Trigger trigger;
  std::size_t at = 0;
  if (header.type == kTriggerService4) {
    if (!ReadFixed(body.subspan(0, kDomainNameSize), trigger.source_domain))
      return Protocol("source domain not a NUL-padded string");
    at = kDomainNameSize;
  }
  if (!ReadFixed(body.subspan(at, kDomainNameSize), trigger.target_domain))
    return Protocol("target domain not a NUL-padded string");
  if (!ReadFixed(body.subspan(at + kDomainNameSize, kIdentSize), trigger.ident) ||
      !IsValidIdent(trigger.ident))
    return Protocol("invalid request ident");
  if (!ReadTail(body.subspan(at + kDomainNameSize + kIdentSize), trigger.service))
    return Protocol("service name not a terminated string");
  return Message{std::move(trigger)};
}

}  // namespace

bool IsValidDomainName(std::string_view name) {
  return name.size() < kDomainNameSize && IsNameText(name, "@:");
}

bool IsValidServiceName(std::string_view name) {
  return name.size() <= kMaxServiceName && name[0] != '+' && IsNameText(name, "+");
}

bool IsValidIdent(std::string_view ident) {
  return ident.size() < kIdentSize && IsNameText(ident, " ");
}

Status SanitizeTrigger(Trigger& trigger) {
  trigger.source_domain = SanitizeName(trigger.source_domain, "@:");
  trigger.target_domain = SanitizeName(trigger.target_domain, "@:");
  trigger.service = SanitizeName(trigger.service, "+");
  if (trigger.service.empty()) return Error{ExitCode::kRefused, "call a service", "no name", 0};
  if (trigger.service[0] == '+')
    return Error{ExitCode::kRefused, "call " + trigger.service, "the name starts with +", 0};
  return {};
}

std::span<std::uint8_t> FrameReader::Space(std::size_t want) {
  if (buffer_.size() < capacity_) buffer_.resize(std::max(capacity_, kHeaderSize));
  if (start_ > 0 && end_ + want > buffer_.size()) {
    // Move what is left to the front: at most one frame and a part of the next.
    std::copy(buffer_.begin() + static_cast<std::ptrdiff_t>(start_),
              buffer_.begin() + static_cast<std::ptrdiff_t>(end_), buffer_.begin());
    end_ -= start_;
    checked_ -= start_;
    start_ = 0;
  }
  return std::span(buffer_).subspan(end_, std::min(want, buffer_.size() - end_));
}

Status FrameReader::Commit(std::size_t count) {
  end_ += count;
  while (checked_ + kHeaderSize <= end_) {
    const Header header = DecodeHeader(std::span(buffer_).subspan(checked_));
    if (Status status = CheckHeader(link_, header); !status) return status;
    checked_ += kHeaderSize + header.len;
  }
  return {};
}

Status FrameReader::Feed(std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    const std::span<std::uint8_t> room = Space(bytes.size());
    if (room.empty()) return Protocol("more than " + std::to_string(capacity_) + " bytes at once");
    std::copy_n(bytes.begin(), room.size(), room.begin());
    if (Status status = Commit(room.size()); !status) return status;
    bytes = bytes.subspan(room.size());
  }
  return {};
}

bool FrameReader::HasWholeFrame() const {
  return end_ - start_ >= kHeaderSize &&
         end_ - start_ >= kHeaderSize + DecodeHeader(std::span(buffer_).subspan(start_)).len;
}

std::size_t FrameReader::Missing() const {
  const std::size_t have = end_ - start_;
  if (have < kHeaderSize) return kHeaderSize - have;
  const std::size_t whole = kHeaderSize + DecodeHeader(std::span(buffer_).subspan(start_)).len;
  return whole > have ? whole - have : 0;
}

std::optional<Frame> FrameReader::Next() {
  if (!HasWholeFrame()) {
    if (start_ == end_) start_ = end_ = checked_ = 0;
    return std::nullopt;
  }
  const Header header = DecodeHeader(std::span(buffer_).subspan(start_));
  const Frame frame{header, std::span(buffer_).subspan(start_ + kHeaderSize, header.len)};
  start_ += kHeaderSize + header.len;
  return frame;
}

std::vector<std::uint8_t> EncodeLocalAnswer(std::uint32_t domain, std::uint32_t port) {
  std::vector<std::uint8_t> out;
  Store32(out, domain);
  Store32(out, port);
  return out;
}

std::optional<ExecParams> DecodeLocalAnswer(std::span<const std::uint8_t> bytes) {
  if (bytes.size() != kLocalAnswerSize) return std::nullopt;
  return ExecParams{Load32(bytes.data()), Load32(bytes.data() + 4), ""};
}

Header DecodeHeader(std::span<const std::uint8_t> bytes) {
  return Header{Load32(bytes.data()), Load32(bytes.data() + 4)};
}

void PutHeader(std::span<std::uint8_t> at, std::uint32_t type, std::uint32_t len) {
  for (int shift = 0; shift < 32; shift += 8) {
    at[static_cast<std::size_t>(shift / 8)] = static_cast<std::uint8_t>(type >> shift);
    at[4 + static_cast<std::size_t>(shift / 8)] = static_cast<std::uint8_t>(len >> shift);
  }
}

Status CheckHeader(Link link, const Header& header) {
  if (!Allowed(link, header.type))
    return Protocol("unexpected message type " + std::to_string(header.type));
  if (!LengthFits(header.type, header.len))
    return Protocol("bad length " + std::to_string(header.len) + " for message type " +
                    std::to_string(header.type));
  return {};
}

Result<Message> DecodeBody(Link link, const Header& header, std::span<const std::uint8_t> body) {
  if (Status status = CheckHeader(link, header); !status) return status.error();
  if (body.size() != header.len) return Protocol("body shorter than its header says");
  switch (header.type) {
    case kHello:
      return Message{Hello{Load32(body.data())}};
    case kDataExitCode:
      return Message{ExitStatus{static_cast<std::int32_t>(Load32(body.data()))}};
    case kExecCmdline:
    case kJustExec:
    case kConnectionTerminated: {
      ExecParams params{Load32(body.data()), Load32(body.data() + 4), "", header.type};
      if (header.type != kConnectionTerminated &&
          !ReadTail(body.subspan(kExecParamsSize), params.cmdline))
        return Protocol("command line not a terminated string");
      return Message{std::move(params)};
    }
    case kServiceConnect: {
      ServiceConnect connect{Load32(body.data()), Load32(body.data() + 4), ""};
      if (!ReadFixed(body.subspan(kExecParamsSize), connect.ident) || !IsValidIdent(connect.ident))
        return Protocol("invalid request ident");
      return Message{std::move(connect)};
    }
    case kServiceRefused: {
      ServiceRefused refused;
      if (!ReadFixed(body, refused.ident) || !IsValidIdent(refused.ident))
        return Protocol("invalid request ident");
      return Message{std::move(refused)};
    }
    case kTriggerService3:
    case kTriggerService4:
      // Accepted on a link negotiated at version 3 too: Qubes' agents send
      // the version-4 trigger whatever the link's version.
      return DecodeTrigger(header, body);
    default:
      return Message{Data{header.type, body}};
  }
}

std::vector<std::uint8_t> EncodeHello(std::uint32_t version) {
  std::vector<std::uint8_t> out = Begin(kHello, 4);
  Store32(out, version);
  return out;
}

std::vector<std::uint8_t> EncodeExecParams(MsgType type, const ExecParams& params) {
  const bool has_cmdline = type != kConnectionTerminated;
  std::vector<std::uint8_t> out =
      Begin(type, kExecParamsSize + (has_cmdline ? params.cmdline.size() + 1 : 0));
  Store32(out, params.connect_domain);
  Store32(out, params.connect_port);
  if (has_cmdline) {
    out.insert(out.end(), params.cmdline.begin(), params.cmdline.end());
    out.push_back(0);
  }
  return out;
}

std::vector<std::uint8_t> EncodeServiceConnect(const ServiceConnect& connect) {
  std::vector<std::uint8_t> out = Begin(kServiceConnect, kExecParamsSize + kIdentSize);
  Store32(out, connect.connect_domain);
  Store32(out, connect.connect_port);
  WriteFixed(out, connect.ident, kIdentSize);
  return out;
}

std::vector<std::uint8_t> EncodeServiceRefused(const std::string& ident) {
  std::vector<std::uint8_t> out = Begin(kServiceRefused, kIdentSize);
  WriteFixed(out, ident, kIdentSize);
  return out;
}

std::vector<std::uint8_t> EncodeTrigger(MsgType type, const Trigger& trigger) {
  const std::size_t fixed = (type == kTriggerService4 ? 2 : 1) * kDomainNameSize + kIdentSize;
  std::vector<std::uint8_t> out = Begin(type, fixed + trigger.service.size() + 1);
  if (type == kTriggerService4) WriteFixed(out, trigger.source_domain, kDomainNameSize);
  WriteFixed(out, trigger.target_domain, kDomainNameSize);
  WriteFixed(out, trigger.ident, kIdentSize);
  out.insert(out.end(), trigger.service.begin(), trigger.service.end());
  out.push_back(0);
  return out;
}

std::vector<std::uint8_t> EncodeData(MsgType stream, std::span<const std::uint8_t> bytes) {
  std::vector<std::uint8_t> out = Begin(stream, bytes.size());
  out.insert(out.end(), bytes.begin(), bytes.end());
  return out;
}

std::vector<std::uint8_t> EncodeExitCode(std::int32_t code) {
  std::vector<std::uint8_t> out = Begin(kDataExitCode, 4);
  Store32(out, static_cast<std::uint32_t>(code));
  return out;
}

}  // namespace qmin::qrx
