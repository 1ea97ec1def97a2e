#include "qrx_call.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "event_loop.h"
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

// The answer: 8 bytes of exec_params, or the socket closing (refused).
std::optional<ExecParams> AwaitAnswer(int fd) {
  std::uint8_t bytes[8];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = read(fd, bytes + got, sizeof bytes - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    got += static_cast<std::size_t>(n);
  }
  const auto load = [&](int at) {
    return static_cast<std::uint32_t>(bytes[at]) | static_cast<std::uint32_t>(bytes[at + 1]) << 8 |
           static_cast<std::uint32_t>(bytes[at + 2]) << 16 |
           static_cast<std::uint32_t>(bytes[at + 3]) << 24;
  };
  return ExecParams{load(0), load(4), ""};
}

struct Restore {  // the terminal's flags, put back however the call ends
  int fd;
  int flags;
  ~Restore() { fcntl(fd, F_SETFL, flags); }
};

int Dup(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 3); }

}  // namespace

Result<CallOutcome> RunCall(const CallOptions& options) {
  std::string target = options.target;
  std::replace(target.begin(), target.end(), '$',
               '@');  // the legacy spelling, as qrexec-client-vm does
  if (target.empty()) target = "@default";
  if (!IsValidDomainName(target))
    return InvalidError("call " + options.target, "not a VM name or keyword");
  if (!IsValidServiceName(options.service))
    return InvalidError("call " + options.service, "not a service name");
  signal(SIGPIPE, SIG_IGN);

  Result<int> socket = ConnectUnix(options.socket);
  if (!socket) return socket.error();
  const bool sent =
      WriteAll(*socket, EncodeTrigger(kTriggerService3, {"", target, "SOCKET", options.service}));
  const std::optional<ExecParams> answer = sent ? AwaitAnswer(*socket) : std::nullopt;
  close(*socket);
  if (!answer) return CallOutcome{kExitRefused, true};

  Result<std::unique_ptr<Vchan>> vchan =
      ServeVchan(answer->connect_domain, answer->connect_port, options.buffer_size);
  if (!vchan) return vchan.error();
  Result<EventLoop> loop = EventLoop::Create();
  if (!loop) return loop.error();

  // The local ends: the terminal (duplicated, so closing them leaves ours) or
  // a local program's pipes.
  std::vector<Restore> restore;
  int input = -1, output = -1;
  pid_t program = -1;
  if (options.local_program.empty()) {
    input = Dup(0);
    output = Dup(1);
  } else {
    int to_program[2], from_program[2];
    if (pipe2(to_program, O_CLOEXEC) != 0 || pipe2(from_program, O_CLOEXEC) != 0)
      return SystemError("start " + options.local_program[0], errno);
    program = fork();
    if (program == 0) {
      signal(SIGPIPE, SIG_DFL);
      dup2(to_program[0], 0);
      dup2(from_program[1], 1);
      std::vector<char*> argv;
      for (const std::string& word : options.local_program)
        argv.push_back(const_cast<char*>(word.c_str()));
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      _exit(errno == ENOENT ? 127 : 126);
    }
    close(to_program[0]);
    close(from_program[1]);
    input = from_program[0];
    output = to_program[1];
  }
  const int error_out = Dup(2);
  for (int fd : {input, output, error_out}) {
    restore.push_back(Restore{fd, fcntl(fd, F_GETFL)});
    fcntl(fd, F_SETFL, restore.back().flags | O_NONBLOCK);
  }
  const bool filter_out = options.filter_stdout < 0 ? isatty(1) : options.filter_stdout > 0;
  const bool filter_err = options.filter_stderr < 0 ? isatty(2) : options.filter_stderr > 0;

  Result<int> remote = 0;
  DataLink link(
      *loop, std::move(*vchan), DataLink::Side::kCaller, {{input, kDataStdin}},
      {{kDataStdout, output, filter_out && program < 0}, {kDataStderr, error_out, filter_err}},
      [&](Result<int> status) {
        remote = status;
        loop->Stop();
      });
  if (!options.prefix_data.empty())
    link.Prepend(kDataStdin,
                 std::vector<std::uint8_t>(options.prefix_data.begin(), options.prefix_data.end()));
  if (Status started = link.Start(); !started) return started.error();
  if (Status ran = loop->Run(); !ran) return ran.error();
  if (!remote) return remote.error();
  if (program < 0) return CallOutcome{*remote, false};
  int status = 0;
  waitpid(program, &status, 0);
  const int local = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  return CallOutcome{*remote != 0 ? *remote : local,
                     false};  // Qubes' rule: the remote status first
}

}  // namespace qmin::qrx
