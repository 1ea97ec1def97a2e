#include "qrx_proto.h"

#include <algorithm>
#include <cstring>

namespace qmin::qrx {
namespace {

constexpr std::size_t kExecParamsSize = 8;

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

bool CharsIn(std::string_view text, const char* extra) {
  return std::all_of(text.begin(), text.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-' || (c != '\0' && std::strchr(extra, c) != nullptr);
  });
}

Result<Message> DecodeTrigger(const Header& header, std::span<const std::uint8_t> body) {
  Trigger trigger;
  std::size_t at = 0;
  if (header.type == kTriggerService4) {
    if (!ReadFixed(body.subspan(0, kDomainNameSize), trigger.source_domain))
      return Protocol("source domain not a NUL-padded string");
    if (!trigger.source_domain.empty() && !IsValidDomainName(trigger.source_domain))
      return Protocol("invalid source domain");
    at = kDomainNameSize;
  }
  if (!ReadFixed(body.subspan(at, kDomainNameSize), trigger.target_domain))
    return Protocol("target domain not a NUL-padded string");
  if (!IsValidDomainName(trigger.target_domain)) return Protocol("invalid target domain");
  if (!ReadFixed(body.subspan(at + kDomainNameSize, kIdentSize), trigger.ident) ||
      !IsValidIdent(trigger.ident))
    return Protocol("invalid request ident");
  if (!ReadTail(body.subspan(at + kDomainNameSize + kIdentSize), trigger.service))
    return Protocol("service name not a terminated string");
  if (!IsValidServiceName(trigger.service)) return Protocol("invalid service name");
  return Message{std::move(trigger)};
}

}  // namespace

bool IsValidDomainName(std::string_view name) {
  return !name.empty() && name.size() < kDomainNameSize && CharsIn(name, "@:");
}

bool IsValidServiceName(std::string_view name) {
  return !name.empty() && name[0] != '+' && name.size() <= kMaxServiceName && CharsIn(name, "+");
}

bool IsValidIdent(std::string_view ident) {
  return !ident.empty() && ident.size() < kIdentSize && CharsIn(ident, " ");
}

Header DecodeHeader(std::span<const std::uint8_t> bytes) {
  return Header{Load32(bytes.data()), Load32(bytes.data() + 4)};
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
      ExecParams params{Load32(body.data()), Load32(body.data() + 4), ""};
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
      return DecodeTrigger(header, body);
    default:
      return Message{Data{header.type, std::vector<std::uint8_t>(body.begin(), body.end())}};
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
