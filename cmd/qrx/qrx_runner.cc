#include "qrx_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <optional>

#include "event_loop.h"
#include "qrx_data.h"
#include "vchan.h"
#include "xenstore_watcher.h"

namespace qmin::qrx {
namespace {

// The caller serves the data vchan once its agent hears from the broker,
// most often before we try, sometimes just after. Then, where the transport
// has a key to watch (Xen), its change wakes us; elsewhere we try again
// soon, then less and less often. Either way the caller has 10 s.
constexpr auto kCallerPatience = std::chrono::seconds(10);
int RetryDelayMs(int attempt) { return attempt < 6 ? 1 << attempt : 50; }
constexpr char kServerToken[] = "server";
int OpenNull() { return open("/dev/null", O_RDONLY | O_CLOEXEC | O_NONBLOCK); }

// What the call will run, decided before anything is connected.
struct Plan {
  std::optional<int> immediate_exit;  ///< no process: this status at once
  std::string message;                ///< for the caller's stderr, with immediate_exit
  std::optional<Account> account;
  std::optional<FoundService> found;
};

Plan Decide(const CallRequest& request, const RunnerConfig& config, Log& log) {
  Plan plan;
  const auto refuse = [&](int status, const std::string& why) {
    log.Warning(why);
    plan.immediate_exit = status;
    plan.message = log.tool() + ": " + why + "\n";
    return plan;
  };
  if (!request.command) return refuse(qrexec_exit::kNotFound, request.command.error().Text());
  const ServiceCommand& command = *request.command;
  if (!command.shell.empty() && !request.allow_shell)
    return refuse(qrexec_exit::kRefused, "a shell command from domain " +
                                             std::to_string(request.domain) + ": only dom0 may");
  Result<Account> account = LookUpAccount(command.user, config.accounts_root);
  if (!account)
    return refuse(qrexec_exit::kRefused,
                  "no user " + command.user + " here to run " +
                      (command.shell.empty() ? command.service : "a command"));
  plan.account = *account;
  if (!command.shell.empty()) return plan;
  plan.found = FindService(config.rpc_dirs, command.service);
  if (!plan.found) return refuse(qrexec_exit::kNotFound, "no such service: " + command.service);
  if (plan.found->kind == FoundService::Kind::kUnusable)
    return refuse(qrexec_exit::kProblem, "cannot run " + plan.found->path);
  return plan;
}

// The life of the call's process, on an event loop of its own.
class Call {
 public:
  Call(EventLoop& loop, const CallRequest& request, const RunnerConfig& config, Log& log)
      : loop_(loop), request_(request), config_(config), log_(log) {}

  int Run() {
    plan_ = Decide(request_, config_, log_);
    if (!loop_.OnSignals({SIGCHLD, SIGUSR1, SIGTERM, SIGINT, SIGHUP},
                         [this](int signo) { OnSignal(signo); }))
      return 1;
    Connect();
    if (!loop_.Run()) return 1;
    if (pid_ > 0) kill(pid_, SIGTERM);  // the caller left: the service goes too
    return status_;
  }

 private:
  void Connect() {
    Result<unsigned> own =
        config_.own_domain ? Result<unsigned>(*config_.own_domain) : OwnVchanDomain();
    if (!own) {
      log_.Warning(own.error());
      return Stop(1);
    }
    own_ = *own;
    patience_ = loop_.AddTimer(kCallerPatience, [this] {
      patience_ = 0;
      log_.Warning("the caller never served the data channel: " + last_failure_);
      Stop(1);
    });
    // Most often the caller serves already: try before setting anything up.
    if (TryConnect()) return;
    if (const auto key = VchanServerKey(request_.domain, own_, request_.port))
      if (WatchServer(*key)) return;
    RetryLater(0);
  }

  // The watch fires once at once, then whenever the caller's server writes.
  bool WatchServer(const std::string& key) {
    Result<XenstoreWatcher> watcher = XenstoreWatcher::Open();
    if (!watcher) return false;
    watcher_ = std::make_unique<XenstoreWatcher>(std::move(*watcher));
    if (!watcher_->Watch(key, kServerToken) ||
        !loop_.Add(watcher_->fd(), EPOLLIN, [this](std::uint32_t) { OnServerChanged(); })) {
      watcher_.reset();
      return false;
    }
    return true;
  }

  void OnServerChanged() {
    Result<XenstoreWatcher::Drained> drained = watcher_->Drain();
    if (!drained) {
      log_.Warning(drained.error());
      return Stop(1);
    }
    if (!drained->refusals.empty()) {
      // xenstored refused the watch (a quota): nothing would wake us.
      StopWatching();
      return RetryLater(0);
    }
    if (drained->events.empty() || !TryConnect()) return;  // the next write wakes us
    StopWatching();
  }

  void StopWatching() {
    loop_.Remove(watcher_->fd());
    watcher_.reset();
  }

  void RetryLater(int attempt) {
    loop_.AddTimer(std::chrono::milliseconds(RetryDelayMs(attempt)), [this, attempt] {
      if (!TryConnect()) RetryLater(attempt + 1);
    });
  }

  bool TryConnect() {
    if (patience_ == 0) return true;  // given up already
    Result<std::unique_ptr<Vchan>> vchan = ConnectVchan(request_.domain, request_.port, own_);
    if (!vchan) {
      last_failure_ = vchan.error().Text();
      return false;
    }
    loop_.CancelTimer(patience_);
    patience_ = 0;
    Begin(std::move(*vchan));
    return true;
  }

  void Begin(std::unique_ptr<Vchan> vchan) {
    std::vector<Outgoing> outgoing;
    std::vector<Incoming> incoming = {{kDataStdin, -1}};
    std::optional<int> exit_now = plan_.immediate_exit;
    if (!exit_now) {
      Result<int> started = StartWork(outgoing, incoming);
      if (!started) {
        log_.Warning(started.error());
        exit_now = started.error().exit == ExitCode::kNotFound ? qrexec_exit::kNotFound
                                                               : qrexec_exit::kProblem;
      } else if (*started >= 0) {
        exit_now = *started;
      }
    }
    if (outgoing.empty()) outgoing = {{OpenNull(), kDataStdout}, {OpenNull(), kDataStderr}};
    link_ = std::make_unique<DataLink>(loop_, std::move(vchan), DataLink::Side::kService,
                                       std::move(outgoing), std::move(incoming),
                                       [this](Result<int> status) {
                                         if (!status)
                                           log_.Info("call ended early: " + status.error().reason);
                                         Stop(status ? 0 : 1);
                                       });
    if (!plan_.message.empty())
      link_->Prepend(kDataStderr,
                     std::vector<std::uint8_t>(plan_.message.begin(), plan_.message.end()));
    if (socket_service_) {
      DataLink* link = link_.get();
      link->OnOutputsEnded([link] { link->SetExitCode(0); });
    }
    if (Status started = link_->Start(); !started) {
      log_.Warning(started.error());
      return Stop(1);
    }
    if (exit_now) link_->SetExitCode(*exit_now);
  }

  // Starts what the call runs; the streams it gives the link. A status >= 0
  // means "nothing runs on: answer this at once" (JUST_EXEC's 0).
  Result<int> StartWork(std::vector<Outgoing>& outgoing, std::vector<Incoming>& incoming) {
    const ServiceCommand& command = *request_.command;
    if (plan_.found && plan_.found->kind == FoundService::Kind::kSocket) {
      Result<int> socket = ConnectSocketService(*plan_.found, command);
      if (!socket) return socket.error();
      // Socket services have no stderr: it ends at once.
      outgoing = {{fcntl(*socket, F_DUPFD_CLOEXEC, 3), kDataStdout}, {OpenNull(), kDataStderr}};
      incoming = {{kDataStdin, *socket}};
      socket_service_ = true;
      if (Status became = BecomeAccount(*plan_.account); !became) log_.Warning(became.error());
      return -1;
    }
    // From here on this process handles the peer's data as the call's user.
    if (Status became = BecomeAccount(*plan_.account); !became) return became.error();
    const std::vector<std::string> argv =
        ServiceArgv(command, plan_.found ? &*plan_.found : nullptr);
    const std::vector<std::string> env =
        ServiceEnvironment(command, *plan_.account, config_.rpc_dirs, getpid());
    if (request_.just_exec) {
      SpawnOptions options;
      options.argv = argv;
      options.env = env;
      options.new_session = true;
      Result<pid_t> pid = Spawn(options);
      if (!pid) return pid.error();
      log_.Info("started " + argv[0] + " detached, pid " + std::to_string(*pid));
      return 0;
    }
    Result<ServiceProcess> service = StartService(argv, env);
    if (!service) return service.error();
    pid_ = service->pid;
    outgoing = {{service->stdout_fd, kDataStdout}, {service->stderr_fd, kDataStderr}};
    incoming = {{kDataStdin, service->stdin_fd}};
    log_.Info("running " + (command.shell.empty() ? command.service : "a command") + " for " +
              command.source + " as " + command.user);
    return -1;
  }

  void OnSignal(int signo) {
    if (signo == SIGUSR1) {
      // Once only; the service signals this process, never the daemon.
      if (link_) link_->UseInputSocketForOutput(kDataStdout, kDataStdin);
      return;
    }
    if (signo != SIGCHLD) return Stop(1);
    int status = 0;
    pid_t pid = 0;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != pid_) continue;  // a detached JUST_EXEC child that went
      pid_ = -1;
      if (link_) link_->SetExitCode(ExitStatusOf(status));
    }
  }

  void Stop(int status) {
    status_ = status;
    loop_.Stop();
  }

  EventLoop& loop_;
  const CallRequest& request_;
  const RunnerConfig& config_;
  Log& log_;
  Plan plan_;
  unsigned own_ = 0;
  std::unique_ptr<XenstoreWatcher> watcher_;
  EventLoop::TimerId patience_ = 0;
  std::string last_failure_ = "nothing tried";
  std::unique_ptr<DataLink> link_;
  pid_t pid_ = -1;
  bool socket_service_ = false;
  int status_ = 0;
};

[[noreturn]] void CallMain(const CallRequest& request, const RunnerConfig& config, Log& log) {
  // Nothing of the daemon's may stay open here: its sockets and channels are
  // its own, and a peer must see them close when the daemon closes them.
  log.AfterFork();
  CloseDescriptorsFrom(3);
  // Only the mask: a sigaction per signal would be a trip through Xen each
  // on a PV guest, and this process ignores SIGPIPE as the daemon does.
  UnblockSignals();
  Result<EventLoop> loop = EventLoop::Create();
  if (!loop) _exit(1);
  Call call(*loop, request, config, log);
  _exit(call.Run());
}

}  // namespace

void LearnOwnDomain(RunnerConfig& config) {
  if (Result<unsigned> own = OwnVchanDomain()) config.own_domain = *own;
}

Result<pid_t> StartCall(const CallRequest& request, const RunnerConfig& config, Log& log) {
  const pid_t pid = fork();
  if (pid < 0) return SystemError("start a call's process", errno);
  if (pid == 0) CallMain(request, config, log);
  return pid;
}

}  // namespace qmin::qrx
