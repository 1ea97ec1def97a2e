#include "qrx_call.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "event_loop.h"
#include "process.h"
#include "qrx_data.h"
#include "qrx_proto.h"
#include "unix_socket.h"
#include "vchan.h"

namespace qmin::qrx {
namespace {

bool WriteAll(int fd, const std::vector<std::uint8_t>& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t wrote = write(fd, bytes.data() + done, bytes.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) return false;
    done += static_cast<std::size_t>(wrote);
  }
  return true;
}

int Dup(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 3); }

// The ask: the trigger to the agent (or broker), then its answer, or the
// socket closing without one (refused).
Result<std::optional<ExecParams>> Ask(const CallOptions& options) {
  Result<int> socket = ConnectUnix(options.socket);
  if (!socket) {
    // Nobody listens there: name the daemon that should.
    Error error = socket.error();
    if (error.errnum == ENOENT || error.errnum == ECONNREFUSED)
      error.action += options.socket == kBrokerSocket ? " (is qrx-broker running?)"
                                                      : " (is qrx-agent running?)";
    return error;
  }
  std::optional<ExecParams> answer;
  if (WriteAll(*socket,
               EncodeTrigger(kTriggerService3, {"", options.target, "SOCKET", options.service}))) {
    std::uint8_t bytes[kLocalAnswerSize];
    std::size_t got = 0;
    while (got < sizeof bytes) {
      const ssize_t n = read(*socket, bytes + got, sizeof bytes - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    answer = DecodeLocalAnswer(std::span(bytes, got));
  }
  close(*socket);
  return answer;
}

// What the call's data runs between on our side.
struct LocalEnds {
  std::vector<Outgoing> outgoing;
  std::vector<Incoming> incoming;
  pid_t program = -1;
  /// Our own 0-2 whose flags the dups share: put back through these, which
  /// outlive the dups the link closes.
  std::array<int, 3> shared = {-1, -1, -1};
};

Result<LocalEnds> StartLocalProgram(const CallOptions& options) {
  int to_program[2], from_program[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, to_program) != 0)
    return SystemError("start " + options.local_program[0], errno);
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, from_program) != 0) {
    const int saved = errno;
    close(to_program[0]);
    close(to_program[1]);
    return SystemError("start " + options.local_program[0], saved);
  }
  // Qubes' contract: the program finds our stdin and stdout as SAVED_FD_0/1,
  // and QREXEC_AGENT_PID names us, for its SIGUSR1.
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) env.emplace_back(*entry);
  const int saved_in = fcntl(0, F_DUPFD, 3), saved_out = fcntl(1, F_DUPFD, 3);
  env.push_back("SAVED_FD_0=" + std::to_string(saved_in));
  env.push_back("SAVED_FD_1=" + std::to_string(saved_out));
  env.push_back("QREXEC_AGENT_PID=" + std::to_string(getpid()));
  SpawnOptions spawn;
  spawn.argv = options.local_program;
  spawn.env = env;
  spawn.fds = {to_program[0], from_program[1], 2};
  spawn.search_path = true;
  Result<pid_t> pid = Spawn(spawn);
  for (int fd : {to_program[0], from_program[1], saved_in, saved_out}) close(fd);
  if (!pid) {
    close(to_program[1]);
    close(from_program[0]);
    return pid.error();
  }
  for (int fd : {to_program[1], from_program[0]}) fcntl(fd, F_SETFL, O_NONBLOCK);
  LocalEnds ends;
  ends.program = *pid;
  ends.outgoing = {{from_program[0], kDataStdin}};
  ends.incoming = {{kDataStdout, to_program[1], false}};
  return ends;
}

Result<LocalEnds> LocalEndsFor(const CallOptions& options) {
  LocalEnds ends;
  if (!options.local_program.empty()) {
    Result<LocalEnds> program = StartLocalProgram(options);
    if (!program) return program.error();
    ends = std::move(*program);
  } else {
    // Duplicates: closing them at a stream's end leaves our own 0 and 1.
    const bool filter = options.filter_stdout < 0 ? isatty(1) : options.filter_stdout > 0;
    const int input = Dup(0);
    const int output = options.use_stdin_socket ? Dup(0) : Dup(1);
    ends.outgoing = {{input, kDataStdin}};
    ends.incoming = {{kDataStdout, output, filter, true}};
    ends.shared = {0, options.use_stdin_socket ? -1 : 1, -1};
  }
  const int error_out = Dup(2);
  const bool filter_err = options.filter_stderr < 0 ? isatty(2) : options.filter_stderr > 0;
  ends.incoming.push_back({kDataStderr, error_out, filter_err, true});
  ends.shared[2] = 2;
  return ends;
}

// The data ring, served for the service's side: the size asked for, or by
// default a roomy one, and Qubes' size when the grant budget is spent.
Result<std::unique_ptr<Vchan>> ServeDataRing(const CallOptions& options, const ExecParams& answer) {
  if (options.buffer_size)
    return ServeVchan(answer.connect_domain, answer.connect_port, *options.buffer_size);
  Result<std::unique_ptr<Vchan>> roomy =
      ServeVchan(answer.connect_domain, answer.connect_port, kRoomyRing);
  if (roomy) return roomy;
  return ServeVchan(answer.connect_domain, answer.connect_port, kQubesRing);
}

// A pipe into qrx-call holds 1 MiB instead of 64 KiB: its writer and
// qrx-call then take turns a sixteenth as often, and in a Xen PV guest each
// turn is a switch of address space through the hypervisor. The same on
// stdout bought nothing measurable; anything that is not a pipe is left be.
void DeepenInputPipe(int fd) {
  constexpr int kDeepPipe = 1 << 20;
  if (fd >= 0) fcntl(fd, F_SETPIPE_SZ, kDeepPipe);
}

// The data phase, on a loop of its own; SIGUSR1 from the local program
// switches its output to the socket it reads from, as in Qubes.
Result<int> RunDataPhase(const CallOptions& options, const ExecParams& answer, LocalEnds ends) {
  Result<std::unique_ptr<Vchan>> vchan = ServeDataRing(options, answer);
  if (!vchan) return vchan.error();
  Result<EventLoop> loop = EventLoop::Create();
  if (!loop) return loop.error();
  const NonBlockingFds nonblocking(ends.shared);
  DeepenInputPipe(ends.shared[0]);
  Result<int> remote = 0;
  DataLink link(*loop, std::move(*vchan), DataLink::Side::kCaller, std::move(ends.outgoing),
                std::move(ends.incoming), [&](Result<int> status) {
                  remote = status;
                  loop->Stop();
                });
  if (ends.program > 0) {
    if (Status status = loop->OnSignals(
            {SIGUSR1}, [&](int) { link.UseInputSocketForOutput(kDataStdin, kDataStdout); });
        !status)
      return status.error();
  }
  if (!options.prefix_data.empty())
    link.Prepend(kDataStdin,
                 std::vector<std::uint8_t>(options.prefix_data.begin(), options.prefix_data.end()));
  if (Status started = link.Start(); !started) return started.error();
  if (Status ran = loop->Run(); !ran) return ran.error();
  return remote;
}

}  // namespace

NonBlockingFds::NonBlockingFds(std::array<int, 3> fds) : fds_(fds), flags_{-1, -1, -1} {
  for (std::size_t i = 0; i < fds_.size(); ++i) {
    if (fds_[i] < 0) continue;
    flags_[i] = fcntl(fds_[i], F_GETFL);
    if (flags_[i] >= 0) fcntl(fds_[i], F_SETFL, flags_[i] | O_NONBLOCK);
  }
}

NonBlockingFds::~NonBlockingFds() {
  for (std::size_t i = 0; i < fds_.size(); ++i)
    if (fds_[i] >= 0 && flags_[i] >= 0) fcntl(fds_[i], F_SETFL, flags_[i]);
}

Status CheckCallNames(CallOptions& options) {
  std::replace(options.target.begin(), options.target.end(), '$', '@');  // the legacy spelling
  if (options.target.empty()) options.target = "@default";
  if (!IsValidDomainName(options.target))
    return UsageError("not a VM name or keyword: " + options.target);
  if (!IsValidServiceName(options.service))
    return UsageError("not a service name: " + options.service);
  if (options.use_stdin_socket && !options.local_program.empty())
    return UsageError("--use-stdin-socket cannot go with a local program");
  if (options.use_stdin_socket) {
    int type = 0;
    socklen_t size = sizeof type;
    if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &size) != 0 || type != SOCK_STREAM)
      return UsageError("--use-stdin-socket needs a stream socket on standard input");
  }
  return {};
}

Result<CallOutcome> RunCall(const CallOptions& options) {
  signal(SIGPIPE, SIG_IGN);
  Result<std::optional<ExecParams>> answer = Ask(options);
  if (!answer) return answer.error();
  if (!*answer) return CallOutcome{qrexec_exit::kRefused, true};
  Result<LocalEnds> ends = LocalEndsFor(options);
  if (!ends) return ends.error();
  const pid_t program = ends->program;
  Result<int> remote = RunDataPhase(options, **answer, std::move(*ends));
  if (!remote) return remote.error();
  if (program < 0) return CallOutcome{*remote, false};
  int status = 0;
  waitpid(program, &status, 0);
  // Qubes' rule: the remote status first, then the local program's.
  return CallOutcome{*remote != 0 ? *remote : ExitStatusOf(status), false};
}

std::string DefaultCallSocket() {
  return access(kBrokerSocket, F_OK) == 0 ? kBrokerSocket : kAgentSocket;
}

}  // namespace qmin::qrx
