#include "qrx_agent.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "qrx_service.h"
#include "text.h"
#include "unix_socket.h"

namespace qmin::qrx {
namespace {

constexpr unsigned kBrokerDomain = 0;
constexpr std::size_t kControlRing = 4096;
constexpr char kIdentPrefix[] = "SOCKET";

}  // namespace

Agent::Agent(EventLoop& loop, AgentOptions options, Log& log)
    : loop_(loop),
      options_(std::move(options)),
      log_(log),
      runner_(loop, options_.rpc_dirs, log, [this](std::uint32_t domain, std::uint32_t port) {
        // Tells the broker the port is free again.
        if (control_ && control_->open())
          control_->Send(EncodeExecParams(kConnectionTerminated, {domain, port, ""}));
      }) {}

Agent::~Agent() {
  for (auto& [fd, client] : clients_) close(fd);
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    unlink(options_.socket_path.c_str());
  }
}

Status Agent::Start() {
  // A service that exits early must not take us with it: OnSignals ignores SIGPIPE.
  if (Status status =
          loop_.OnSignals({SIGCHLD, SIGTERM, SIGINT}, [this](int signo) { OnSignal(signo); });
      !status)
    return status;
  Result<int> listening = ListenUnix(options_.socket_path, 0666);
  if (!listening) return listening.error();
  listen_fd_ = *listening;
  if (Status status = loop_.Add(listen_fd_, EPOLLIN, [this](std::uint32_t) { OnClientConnect(); });
      !status)
    return status;
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
  if (const auto* exec = std::get_if<ExecParams>(&message))
    return runner_.Start(exec->connect_domain, exec->connect_port,
                         ParseServiceCommand(exec->cmdline));
  const std::string* ident = nullptr;
  if (const auto* connect = std::get_if<ServiceConnect>(&message)) ident = &connect->ident;
  if (const auto* refused = std::get_if<ServiceRefused>(&message)) ident = &refused->ident;
  if (ident == nullptr || ident->rfind(kIdentPrefix, 0) != 0) return;
  const auto fd = ParseUnsigned(std::string_view(*ident).substr(sizeof kIdentPrefix - 1), 1 << 20);
  auto client = fd ? clients_.find(static_cast<int>(*fd)) : clients_.end();
  if (client == clients_.end() || !client->second.forwarded) return;  // stale or spoofed: ignore
  if (const auto* connect = std::get_if<ServiceConnect>(&message)) {
    // qrexec-client-vm's contract: the raw exec_params, then the socket closes.
    std::uint8_t params[8];
    for (int i = 0; i < 4; ++i) {
      params[i] = static_cast<std::uint8_t>(connect->connect_domain >> (8 * i));
      params[4 + i] = static_cast<std::uint8_t>(connect->connect_port >> (8 * i));
    }
    ssize_t ignored = write(client->first, params, sizeof params);
    (void)ignored;
  }
  DropClient(client->first);  // a refusal is the socket closing without an answer
}

void Agent::OnClientConnect() {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (clients_.size() >= options_.max_pending) {
      log_.Warning("too many calls waiting for the broker; refusing one");
      close(fd);
      continue;
    }
    clients_[fd] = Client{};
    if (!loop_.Add(fd, EPOLLIN, [this, fd](std::uint32_t) { OnClientData(fd); })) {
      clients_.erase(fd);
      close(fd);
      continue;
    }
    // A caller that does not say what it wants in time is let go.
    clients_[fd].timeout = loop_.AddTimer(std::chrono::seconds(10), [this, fd] {
      auto client = clients_.find(fd);
      if (client != clients_.end() && !client->second.forwarded) {
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
  if (got <= 0 || client.forwarded) return DropClient(fd);  // gone, or talking out of turn
  client.in.insert(client.in.end(), buffer, buffer + got);
  if (client.in.size() < kHeaderSize) return;
  const Header header = DecodeHeader(client.in);
  if (Status checked = CheckHeader(Link::kFromLocalClient, header); !checked) {
    log_.Warning(checked.error());
    return DropClient(fd);
  }
  if (client.in.size() < kHeaderSize + header.len) return;
  if (client.in.size() > kHeaderSize + header.len) return DropClient(fd);
  Result<Message> message =
      DecodeBody(Link::kFromLocalClient, header, std::span(client.in).subspan(kHeaderSize));
  if (!message) {
    log_.Warning(message.error());
    return DropClient(fd);
  }
  if (!control_ || !control_->open() || control_->version() == 0) {
    log_.Warning("a call while the broker is not connected; refused");
    return DropClient(fd);
  }
  Trigger trigger = std::get<Trigger>(*message);
  // The ident routes the broker's answer back to this socket.
  trigger.ident = kIdentPrefix + std::to_string(fd);
  trigger.source_domain.clear();
  control_->Send(EncodeTrigger(kTriggerService3, trigger));
  client.forwarded = true;
  client.in.clear();
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
  // SIGCHLD: reap every child that is done.
  int status = 0;
  pid_t pid = 0;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) runner_.Reaped(pid, status);
}

}  // namespace qmin::qrx
