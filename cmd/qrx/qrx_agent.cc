#include "qrx_agent.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "process.h"

namespace qmin::qrx {
namespace {

constexpr unsigned kBrokerDomain = 0;
constexpr std::size_t kControlRing = 4096;
constexpr char kIdentPrefix[] = "SOCKET";
constexpr auto kCallerPatience = std::chrono::seconds(10);

}  // namespace

Agent::Agent(EventLoop& loop, AgentOptions options, Log& log)
    : loop_(loop), options_(std::move(options)), log_(log) {}

Agent::~Agent() {
  for (auto& [fd, client] : clients_) close(fd);
}

Status Agent::Start() {
  // A service that exits early must not take us with it: OnSignals ignores SIGPIPE.
  if (Status status = loop_.OnSignals({SIGCHLD, SIGTERM, SIGINT, SIGHUP},
                                      [this](int signo) { OnSignal(signo); });
      !status)
    return status;
  Result<UnixListener> listener = UnixListener::Open(options_.socket_path, 0666);
  if (!listener) return listener.error();
  listener_.emplace(std::move(*listener));
  if (Status status =
          loop_.Add(listener_->fd(), EPOLLIN, [this](std::uint32_t) { OnClientConnect(); });
      !status)
    return status;
  LearnOwnDomain(options_.runner);
  ServeControl();
  return control_ ? Status() : SystemError("serve the control channel", EIO);
}

// The control channel is served anew whenever the broker goes, so that a
// restarted broker finds it.
void Agent::ServeControl() {
  control_.reset();
  Result<std::unique_ptr<Vchan>> vchan = ServeVchan(kBrokerDomain, kControlPort, kControlRing);
  if (!vchan) {
    log_.Error(vchan.error());
    loop_.AddTimer(std::chrono::seconds(1), [this] { ServeControl(); });
    return;
  }
  control_ = std::make_unique<ControlChannel>(
      loop_, std::move(*vchan), Link::kFromBroker,
      [this](const Message& message) { OnControlMessage(message); },
      [this](const Error& why) {
        log_.Info("broker connection ended: " + why.reason);
        ServeControl();
      });
  if (Status status = control_->Start(true); !status) log_.Error(status.error());
}

void Agent::OnControlMessage(const Message& message) {
  if (const auto* exec = std::get_if<ExecParams>(&message)) {
    CallRequest request;
    request.just_exec = exec->type == kJustExec;
    request.domain = exec->connect_domain;
    request.port = exec->connect_port;
    request.command = ParseServiceCommand(exec->cmdline);
    request.allow_shell = exec->connect_domain == kBrokerDomain;
    Result<pid_t> pid = StartCall(request, options_.runner, log_);
    if (!pid) return log_.Error(pid.error());
    calls_[*pid] = Running{exec->connect_domain, exec->connect_port};
    return;
  }
  if (const auto* connect = std::get_if<ServiceConnect>(&message))
    return OnAnswer(connect->ident, *connect);
  if (const auto* refused = std::get_if<ServiceRefused>(&message))
    return OnAnswer(refused->ident, std::nullopt);
}

// The broker's answer goes to the caller whose ident it names; idents are
// never reused, so a late answer for a caller that left finds nobody.
void Agent::OnAnswer(const std::string& ident, const std::optional<ServiceConnect>& connect) {
  auto client = std::find_if(clients_.begin(), clients_.end(),
                             [&](const auto& entry) { return entry.second.ident == ident; });
  if (ident.empty() || client == clients_.end()) return;  // stale or spoofed: ignore
  if (connect) {
    // qrexec-client-vm's contract: the raw exec_params, then the socket closes.
    const std::vector<std::uint8_t> answer =
        EncodeLocalAnswer(connect->connect_domain, connect->connect_port);
    ssize_t ignored = write(client->first, answer.data(), answer.size());
    (void)ignored;
  }
  DropClient(client->first);  // a refusal is the socket closing without an answer
}

void Agent::OnClientConnect() {
  for (;;) {
    const int fd = accept4(listener_->fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (clients_.size() >= options_.max_pending) {
      log_.Warning("too many calls waiting for the broker; refusing one");
      close(fd);
      continue;
    }
    clients_.emplace(fd, Client{});
    if (!loop_.Add(fd, EPOLLIN, [this, fd](std::uint32_t) { OnClientData(fd); })) {
      clients_.erase(fd);
      close(fd);
      continue;
    }
    // A caller that does not say what it wants in time is let go.
    clients_[fd].timeout = loop_.AddTimer(kCallerPatience, [this, fd] {
      auto client = clients_.find(fd);
      if (client != clients_.end() && client->second.ident.empty()) {
        client->second.timeout = 0;
        DropClient(fd);
      }
    });
  }
}

void Agent::OnClientData(int fd) {
  Client& client = clients_[fd];
  std::uint8_t buffer[4096];
  const ssize_t got = read(fd, buffer, sizeof buffer);
  if (got < 0 && errno == EAGAIN) return;
  // Gone, or talking out of turn once its one request is in.
  if (got <= 0 || !client.ident.empty()) return DropClient(fd);
  if (Status fed = client.reader.Feed(std::span(buffer, static_cast<std::size_t>(got))); !fed) {
    log_.Warning(fed.error());
    return DropClient(fd);
  }
  const std::size_t buffered = client.reader.buffered();
  const std::optional<Frame> frame = client.reader.Next();
  if (!frame) return;
  if (buffered != kHeaderSize + frame->body.size()) return DropClient(fd);  // a second request
  Result<Message> message = DecodeBody(Link::kFromLocalClient, frame->header, frame->body);
  if (!message) {
    log_.Warning(message.error());
    return DropClient(fd);
  }
  if (!control_ || !control_->ready()) {
    log_.Warning("a call while the broker is not connected; refused");
    return DropClient(fd);
  }
  Forward(fd, client, std::get<Trigger>(*message));
}

// Passes the call on as it came: its names are the broker's to judge.
void Agent::Forward(int fd, Client& client, Trigger trigger) {
  (void)fd;
  client.ident = kIdentPrefix + std::to_string(next_ident_++);
  trigger.ident = client.ident;
  trigger.source_domain.clear();
  control_->Send(EncodeTrigger(kTriggerService3, trigger));
}

void Agent::DropClient(int fd) {
  if (auto client = clients_.find(fd); client != clients_.end() && client->second.timeout != 0)
    loop_.CancelTimer(client->second.timeout);
  loop_.Remove(fd);
  close(fd);
  clients_.erase(fd);
}

void Agent::OnSignal(int signo) {
  if (signo == SIGTERM || signo == SIGINT) {
    log_.Info("stopping on signal " + std::to_string(signo));
    return loop_.Stop();
  }
  if (signo == SIGHUP) return log_.Notice("SIGHUP: nothing to reload; carrying on");
  Reap();
}

// Each call's process that ends frees its data port at the broker.
void Agent::Reap() {
  int status = 0;
  pid_t pid = 0;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    const auto call = calls_.find(pid);
    if (call == calls_.end()) continue;
    if (control_ && control_->open())
      control_->Send(
          EncodeExecParams(kConnectionTerminated, {call->second.domain, call->second.port, ""}));
    calls_.erase(call);
  }
}

}  // namespace qmin::qrx
