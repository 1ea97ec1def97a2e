// The qrexec wire protocol, version 3 (with the version 4 trigger), written
// down once: message types, body layouts, limits, and a decoder that checks
// every length against its type before it touches a body. Everything that
// arrives from a VM is hostile: decoding rejects rather than repairs.
//
// Versions: 2 (Qubes R3.0-R4.0) separate control and data channels and HELLO;
// 3 (R4.1-R4.2) 64 KiB data chunks and TRIGGER_SERVICE3; 4 (R4.3) adds
// TRIGGER_SERVICE4 with a source domain. qrx speaks 3 and accepts the v4 trigger.
#ifndef QMIN_LIB_QRX_PROTO_H_
#define QMIN_LIB_QRX_PROTO_H_

#include <cstdint>
#include <span>
#include <string>
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
inline constexpr std::uint32_t kControlPort = 512;
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
  std::vector<std::uint8_t> bytes;
};
struct ExitStatus {
  std::int32_t code = 0;
};

using Message =
    std::variant<Hello, ExecParams, ServiceConnect, ServiceRefused, Trigger, Data, ExitStatus>;

/// Reads a header from the first kHeaderSize bytes (little-endian).
Header DecodeHeader(std::span<const std::uint8_t> bytes);

/// Checks the header alone: a known type for this link, and a length its
/// type allows. Call before reading the body, so that no hostile length
/// makes anyone allocate or wait.
Status CheckHeader(Link link, const Header& header);

/// Decodes a body that CheckHeader accepted; body.size() == header.len.
Result<Message> DecodeBody(Link link, const Header& header, std::span<const std::uint8_t> body);

// Encoders: a whole message, header included.
std::vector<std::uint8_t> EncodeHello(std::uint32_t version);
std::vector<std::uint8_t> EncodeExecParams(MsgType type, const ExecParams& params);
std::vector<std::uint8_t> EncodeServiceConnect(const ServiceConnect& connect);
std::vector<std::uint8_t> EncodeServiceRefused(const std::string& ident);
std::vector<std::uint8_t> EncodeTrigger(MsgType type, const Trigger& trigger);
std::vector<std::uint8_t> EncodeData(MsgType stream, std::span<const std::uint8_t> bytes);
std::vector<std::uint8_t> EncodeExitCode(std::int32_t code);

/// [A-Za-z0-9_.-] and, for keywords such as @default or @dispvm:x, '@' and ':'.
bool IsValidDomainName(std::string_view name);
/// [A-Za-z0-9_.-] and '+', not empty, not starting with '+'.
bool IsValidServiceName(std::string_view name);
/// [A-Za-z0-9_.- ], not empty.
bool IsValidIdent(std::string_view ident);

}  // namespace qmin::qrx

#endif  // QMIN_LIB_QRX_PROTO_H_
