#include "qrx_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace qmin::qrx {
namespace {

// The caller serves the data vchan only once its agent hears from the broker,
// often just after us: try again at once, then less and less often, for 10 s.
constexpr int kConnectAttempts = 210;
int RetryDelayMs(int attempt) { return attempt < 6 ? 1 << attempt : 50; }
int OpenNull() { return open("/dev/null", O_RDONLY | O_CLOEXEC | O_NONBLOCK); }

}  // namespace

ServiceRunner::ServiceRunner(EventLoop& loop, std::vector<std::string> rpc_dirs, Log& log,
                             Finished finished)
    : loop_(loop), rpc_dirs_(std::move(rpc_dirs)), log_(log), finished_(std::move(finished)) {}

void ServiceRunner::Start(std::uint32_t domain, std::uint32_t port, Result<ServiceCall> call) {
  const std::uint64_t id = next_++;
  calls_[id].domain = domain;
  calls_[id].port = port;
  Connect(id, std::move(call), 0);
}

void ServiceRunner::Connect(std::uint64_t id, Result<ServiceCall> call, int attempt) {
  if (calls_.count(id) == 0) return;
  Result<std::unique_ptr<Vchan>> vchan = ConnectVchan(calls_[id].domain, calls_[id].port);
  if (vchan) return Run(id, std::move(*vchan), call);
  if (attempt >= kConnectAttempts) {
    log_.Warning("the caller never served the data channel: " + vchan.error().Text());
    return End(id);
  }
  loop_.AddTimer(std::chrono::milliseconds(RetryDelayMs(attempt)),
                 [this, id, call = std::move(call), attempt]() mutable {
                   Connect(id, std::move(call), attempt + 1);
                 });
}

void ServiceRunner::Run(std::uint64_t id, std::unique_ptr<Vchan> vchan,
                        const Result<ServiceCall>& call) {
  Call& entry = calls_[id];
  std::vector<Outgoing> outgoing = {{OpenNull(), kDataStdout}, {OpenNull(), kDataStderr}};
  std::vector<Incoming> incoming = {{kDataStdin, -1}};
  std::optional<int> immediate_exit;
  bool socket_service = false;
  std::optional<FoundService> found;
  if (call) found = FindService(rpc_dirs_, call->service);
  if (!call || !found) {
    log_.Warning(call ? "no such service: " + call->service : call.error().Text());
    immediate_exit = 127;  // stdout and stderr end at once, then 127, as Qubes does
  } else if (found->is_socket) {
    if (Result<int> socket = ConnectSocketService(*found, *call)) {
      close(outgoing[0].fd);
      outgoing[0].fd = dup(*socket);  // socket services have no stderr: it ends at once
      incoming = {{kDataStdin, *socket}};
      socket_service = true;
    } else {
      log_.Warning(socket.error());
      immediate_exit = 126;
    }
  } else if (Result<Spawned> spawned = SpawnService(*found, *call)) {
    for (Outgoing& stream : outgoing) close(stream.fd);
    entry.pid = spawned->pid;
    outgoing = {{spawned->stdout_fd, kDataStdout}, {spawned->stderr_fd, kDataStderr}};
    incoming = {{kDataStdin, spawned->stdin_fd}};
  } else {
    log_.Warning(spawned.error());
    immediate_exit = 126;
  }
  if (call) log_.Info("running " + call->service + " for " + call->source);
  entry.link = std::make_unique<DataLink>(
      loop_, std::move(vchan), DataLink::Side::kService, std::move(outgoing), std::move(incoming),
      [this, id](Result<int> status) {
        if (!status) log_.Info("call ended early: " + status.error().reason);
        End(id);
      });
  if (socket_service) {
    DataLink* link = entry.link.get();
    link->OnOutputsEnded([link] { link->SetExitCode(0); });
  }
  if (Status started = entry.link->Start(); !started) {
    log_.Warning(started.error());
    return End(id);
  }
  if (immediate_exit) entry.link->SetExitCode(*immediate_exit);
}

bool ServiceRunner::Reaped(pid_t pid, int status) {
  for (auto& [id, call] : calls_) {
    if (call.pid != pid) continue;
    call.pid = -1;
    if (call.link)
      call.link->SetExitCode(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
    return true;
  }
  return false;
}

void ServiceRunner::End(std::uint64_t id) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  if (it->second.pid > 0) kill(it->second.pid, SIGTERM);  // the caller left: the service goes too
  const std::uint32_t domain = it->second.domain;
  const std::uint32_t port = it->second.port;
  // The link may be the one calling us: let it unwind before it goes.
  loop_.AddTimer(std::chrono::milliseconds(0),
                 [call = std::make_shared<Call>(std::move(it->second))] {});
  calls_.erase(it);
  finished_(domain, port);
}

}  // namespace qmin::qrx
