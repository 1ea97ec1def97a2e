// The qrexec wire protocol, version 3 (with the version 4 trigger), written
// down once: message types, body layouts, limits, and a decoder that checks
// every length against its type before it touches a body. Everything that
// arrives from a VM is hostile: decoding rejects rather than repairs.
//
// Versions: 2 (Qubes R3.0-R4.0) separate control and data channels and HELLO;
// 3 (R4.1-R4.2) 64 KiB data chunks and TRIGGER_SERVICE3; 4 (R4.3) adds
// TRIGGER_SERVICE4 with a source domain. qrx speaks 3 and accepts the v4 trigger.
//
// What is a framing error and what is content (Qubes' qrexec-daemon draws
// the line the same way): a bad type, length, NUL or request ident breaks
// the link; names that hold characters outside the name rule are content,
// which SanitizeTrigger turns into '_' for the policy to judge.
#ifndef QMIN_LIB_QRX_PROTO_H_
#define QMIN_LIB_QRX_PROTO_H_

#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "error.h"

namespace qmin::qrx {

enum MsgType : std::uint32_t {
  // daemon -> agent
  kExecCmdline = 0x200,
  kJustExec = 0x201,
  kServiceConnect = 0x202,
  kServiceRefused = 0x203,
  // agent -> daemon
  kTriggerService = 0x210,  ///< version 2 only: refused
  kConnectionTerminated = 0x211,
  kTriggerService3 = 0x212,
  kTriggerService4 = 0x213,
  // every link
  kHello = 0x300,
  // data links
  kDataStdin = 0x190,
  kDataStdout = 0x191,
  kDataStderr = 0x192,
  kDataExitCode = 0x193,
};

inline constexpr std::uint32_t kProtocolVersion = 3;
inline constexpr std::uint32_t kMinProtocolVersion = 3;
inline constexpr std::size_t kHeaderSize = 8;
inline constexpr std::size_t kMaxDataChunk = 65536;
inline constexpr std::size_t kMaxServiceName = 65000;
inline constexpr std::size_t kMaxCmdline = 65535;
inline constexpr std::size_t kIdentSize = 32;
inline constexpr std::size_t kDomainNameSize = 64;
inline constexpr std::size_t kExecParamsSize = 8;  ///< connect_domain, connect_port
/// The longest frame any link may carry: EXEC_CMDLINE with the longest command.
inline constexpr std::size_t kMaxFrameSize = kHeaderSize + kExecParamsSize + kMaxCmdline + 1;
inline constexpr std::uint32_t kControlPort = 512;

/// Where qrx-call connects: a VM's agent, and in dom0 the broker.
inline constexpr char kAgentSocket[] = "/var/run/qubes/qrexec-agent";
inline constexpr char kBrokerSocket[] = "/run/qubes/qrx-broker.sock";
inline constexpr std::uint32_t kFirstDataPort = 513;

/// Which end sent the message: decides which types are acceptable.
enum class Link {
  kFromAgent,        ///< control channel, agent -> broker
  kFromBroker,       ///< control channel, broker -> agent
  kFromLocalClient,  ///< qrx-call -> agent's local socket
  kData,             ///< a data channel, either way
};

struct Header {
  std::uint32_t type = 0;
  std::uint32_t len = 0;
};

struct Hello {
  std::uint32_t version = 0;
};
struct ExecParams {  ///< EXEC_CMDLINE, JUST_EXEC, CONNECTION_TERMINATED
  std::uint32_t connect_domain = 0;
  std::uint32_t connect_port = 0;
  std::string cmdline;  ///< "user:QUBESRPC svc+arg source"; empty for CONNECTION_TERMINATED
  std::uint32_t type = kExecCmdline;  ///< which of the three it came as
};
struct ServiceConnect {
  std::uint32_t connect_domain = 0;
  std::uint32_t connect_port = 0;
  std::string ident;
};
struct ServiceRefused {
  std::string ident;
};
struct Trigger {              ///< TRIGGER_SERVICE3 and 4
  std::string source_domain;  ///< v4 only; empty otherwise
  std::string target_domain;
  std::string ident;
  std::string service;  ///< "svc+arg"
};
struct Data {  ///< STDIN/STDOUT/STDERR; empty = end of that stream
  std::uint32_t stream = 0;
  std::span<const std::uint8_t> bytes;  ///< a view of the frame it came in
};
struct ExitStatus {
  std::int32_t code = 0;
};

using Message =
    std::variant<Hello, ExecParams, ServiceConnect, ServiceRefused, Trigger, Data, ExitStatus>;

/// Reads a header from the first kHeaderSize bytes (little-endian).
Header DecodeHeader(std::span<const std::uint8_t> bytes);
/// Writes a header into the first kHeaderSize bytes of `at`, for a sender
/// that reads a body straight into place behind it.
void PutHeader(std::span<std::uint8_t> at, std::uint32_t type, std::uint32_t len);

/// Checks the header alone: a known type for this link, and a length its
/// type allows. Call before reading the body, so that no hostile length
/// makes anyone allocate or wait.
Status CheckHeader(Link link, const Header& header);

/// Decodes a body that CheckHeader accepted; body.size() == header.len.
/// Only framing is checked: names are taken as they came (SanitizeTrigger).
Result<Message> DecodeBody(Link link, const Header& header, std::span<const std::uint8_t> body);

/// One frame as it arrived: a checked header and a view of its body.
struct Frame {
  Header header;
  std::span<const std::uint8_t> body;
};

/// Allocates like std::allocator, but a resize() leaves the new elements
/// unwritten: a buffer about to be read into is not zeroed first. For a
/// 64 KiB chunk that is a pass over memory per chunk saved, and for a fresh
/// buffer a page fault per 4 KiB not yet used (dear in a Xen PV guest).
template <typename T>
struct UninitializedAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <typename U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
  template <typename U>
  void construct(U* at) noexcept {
    ::new (static_cast<void*>(at)) U;
  }
  template <typename U, typename... Args>
  void construct(U* at, Args&&... args) {
    ::new (static_cast<void*>(at)) U(std::forward<Args>(args)...);
  }
};
/// Wire bytes on their way to or from a ring.
using RingBytes = std::vector<std::uint8_t, UninitializedAllocator<std::uint8_t>>;

/// Cuts a byte stream into frames. Each header is checked (CheckHeader) as
/// soon as its 8 bytes are in, so a hostile length is refused before any of
/// its body is taken or waited for. Bytes are written straight into the
/// reader's buffer (Space, then Commit): no copy between the ring and here.
class FrameReader {
 public:
  /// `capacity` bounds what is buffered: at least one whole frame.
  FrameReader(Link link, std::size_t capacity) : link_(link), capacity_(capacity) {}

  /// Room for up to `want` more bytes (less when the buffer is full).
  std::span<std::uint8_t> Space(std::size_t want);
  /// `count` bytes were written into Space(); fails on a bad header.
  Status Commit(std::size_t count);
  /// Feed() = Space() + copy + Commit(), for callers that read elsewhere.
  Status Feed(std::span<const std::uint8_t> bytes);
  /// The next whole frame, valid until the next call on this reader.
  std::optional<Frame> Next();
  /// Bytes the frame being read still needs (at least 1 while none is whole).
  std::size_t Missing() const;
  std::size_t buffered() const { return end_ - start_; }
  bool HasWholeFrame() const;

 private:
  Link link_;
  std::size_t capacity_;
  RingBytes buffer_;
  std::size_t start_ = 0;    ///< where the next frame begins
  std::size_t end_ = 0;      ///< how much of buffer_ holds data
  std::size_t checked_ = 0;  ///< how far headers have been checked
};

/// The answer a local caller (qrx-call) gets when its call is allowed: the
/// domain and port of the data vchan it must serve, 8 bytes (Qubes'
/// exec_params without a command line). A refusal is the socket closing.
std::vector<std::uint8_t> EncodeLocalAnswer(std::uint32_t domain, std::uint32_t port);
/// Exactly 8 bytes, or nothing.
std::optional<ExecParams> DecodeLocalAnswer(std::span<const std::uint8_t> bytes);
inline constexpr std::size_t kLocalAnswerSize = 8;

/// What the broker does with a trigger's names, as Qubes' qrexec-daemon
/// does: every byte outside the name rule becomes '_' ("+" allowed in the
/// service, "@:" in domains) and policy decides. An empty service name or
/// one starting with '+' refuses this request alone (the error says why).
Status SanitizeTrigger(Trigger& trigger);

// Encoders: a whole message, header included.
std::vector<std::uint8_t> EncodeHello(std::uint32_t version);
std::vector<std::uint8_t> EncodeExecParams(MsgType type, const ExecParams& params);
std::vector<std::uint8_t> EncodeServiceConnect(const ServiceConnect& connect);
std::vector<std::uint8_t> EncodeServiceRefused(const std::string& ident);
std::vector<std::uint8_t> EncodeTrigger(MsgType type, const Trigger& trigger);
std::vector<std::uint8_t> EncodeData(MsgType stream, std::span<const std::uint8_t> bytes);
std::vector<std::uint8_t> EncodeExitCode(std::int32_t code);

/// The name rule and '@' ':' for keywords such as @default or @dispvm:x,
/// shorter than the 64 bytes the trigger has for it.
bool IsValidDomainName(std::string_view name);
/// The name rule and '+', not starting with '+', at most kMaxServiceName.
bool IsValidServiceName(std::string_view name);
/// The name rule and ' ', shorter than the 32 bytes it has.
bool IsValidIdent(std::string_view ident);

}  // namespace qmin::qrx

#endif  // QMIN_LIB_QRX_PROTO_H_
