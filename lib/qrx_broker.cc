#include "qrx_broker.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "broker_policy.h"
#include "text.h"
#include "unix_socket.h"
#include "vm_facts.h"

namespace qmin::qrx {
namespace {

constexpr int kMaxBackoffMs = 2000;

constexpr char kDomainsToken[] = "domains";
constexpr char kAgentToken[] = "agent:";

std::vector<std::uint8_t> RawExecParams(std::uint32_t domain, std::uint32_t port) {
  std::vector<std::uint8_t> bytes;
  for (std::uint32_t value : {domain, port})
    for (int shift = 0; shift < 32; shift += 8)
      bytes.push_back(static_cast<std::uint8_t>(value >> shift));
  return bytes;
}

// Qubes sends "svc+" for a call without an argument.
std::string WithPlus(const std::string& service) {
  return service.find('+') == std::string::npos ? service + "+" : service;
}

}  // namespace

Broker::Broker(EventLoop& loop, BrokerOptions options, Log& log)
    : loop_(loop),
      options_(std::move(options)),
      log_(log),
      runner_(loop, options_.rpc_dirs, log,
              [this](std::uint32_t, std::uint32_t port) { FreePort(port); }) {}

Broker::~Broker() {
  for (auto& [fd, bytes] : local_clients_) close(fd);
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    unlink(options_.socket_path.c_str());
  }
}

Status Broker::Start() {
  if (Status status = loop_.OnSignals({SIGCHLD, SIGHUP, SIGTERM, SIGINT},
                                      [this](int signo) { OnSignal(signo); });
      !status)
    return status;

  Result<PolicyWatch> watch = PolicyWatch::Open(options_.sources, LoadReport{});
  if (!watch) return watch.error();
  policy_watch_ = std::make_unique<PolicyWatch>(std::move(*watch));
  ReloadPolicy();
  if (Status status = loop_.Add(policy_watch_->fd(), EPOLLIN,
                                [this](std::uint32_t) {
                                  if (policy_watch_->Drain()) ReloadPolicy();
                                });
      !status)
    return status;

  Result<Xenstore> xs = Xenstore::Open();
  if (!xs) return xs.error();
  xs_ = std::make_unique<Xenstore>(std::move(*xs));
  Result<XenstoreWatcher> watcher = XenstoreWatcher::Open();
  if (!watcher) return watcher.error();
  watcher_ = std::make_unique<XenstoreWatcher>(std::move(*watcher));
  for (const char* path : {"@introduceDomain", "@releaseDomain"})
    if (Status watched = watcher_->Watch(path, kDomainsToken); !watched) return watched;
  if (Status status =
          loop_.Add(watcher_->fd(), EPOLLIN, [this](std::uint32_t) { OnWatchEvents(); });
      !status)
    return status;

  Result<int> listening = ListenUnix(options_.socket_path, 0600);
  if (!listening) return listening.error();
  listen_fd_ = *listening;
  if (Status status = loop_.Add(listen_fd_, EPOLLIN, [this](std::uint32_t) { OnLocalConnect(); });
      !status)
    return status;
  Rescan();
  return {};
}

// Domains come and go, and agents start serving: both arrive as watch events.
void Broker::OnWatchEvents() {
  Result<XenstoreWatcher::Drained> drained = watcher_->Drain();
  if (!drained) {
    // Without watches the broker would route by a stale view: stop, fail closed.
    log_.Error(drained.error());
    return loop_.Stop();
  }
  for (const std::string& refusal : drained->refusals)
    log_.Warning("xenstore refused a watch: " + refusal);
  bool rescan = false;
  for (const WatchEvent& event : drained->events) {
    if (event.token == kDomainsToken) {
      rescan = true;
    } else if (event.token.rfind(kAgentToken, 0) == 0) {
      const auto id =
          ParseUnsigned(std::string_view(event.token).substr(sizeof kAgentToken - 1), 0x7fef);
      auto it = id ? domains_.find(static_cast<unsigned>(*id)) : domains_.end();
      if (it != domains_.end() && !it->second.control && it->second.retry == 0) TryConnect(*id);
    }
  }
  if (rescan) Rescan();
}

void Broker::ReloadPolicy() {
  const LoadReport report = LoadPolicySources(options_.sources, policy_);
  if (policy_watch_) policy_watch_->Rewatch(options_.sources, report);
  LogPolicyLoad(log_, report, loaded_once_ ? "reload" : "load");
  loaded_once_ = true;
}

// Which domains exist now: a domain is followed from the moment xenstore
// has its name, and forgotten when its directory is gone.
void Broker::Rescan() {
  Result<std::vector<std::string>> ids = xs_->Directory("/local/domain");
  if (!ids) return log_.Warning(ids.error());
  std::set<unsigned> present;
  for (const std::string& text : *ids) {
    const auto id = ParseUnsigned(text, 0x7fef);
    if (!id || *id == 0) continue;
    Result<std::string> name = xs_->Read("/local/domain/" + text + "/name");
    if (!name || !IsValidVmName(*name) || *name == kAdminVmName) continue;
    present.insert(static_cast<unsigned>(*id));
    AddDomain(static_cast<unsigned>(*id), *name);
  }
  std::vector<unsigned> gone;
  for (const auto& [id, domain] : domains_)
    if (present.count(id) == 0) gone.push_back(id);
  for (unsigned id : gone) DropDomain(id);
}

void Broker::AddDomain(unsigned id, const std::string& name) {
  auto [it, added] = domains_.try_emplace(id);
  if (!added) {
    if (it->second.name != name) log_.Info("domain " + std::to_string(id) + " is now " + name);
    it->second.name = name;
    return;
  }
  it->second.id = id;
  it->second.name = name;
  log_.Info("domain " + std::to_string(id) + " (" + name + ") appeared");
  TryConnect(id);
}

void Broker::DropDomain(unsigned id) {
  auto it = domains_.find(id);
  if (it == domains_.end()) return;
  log_.Info("domain " + std::to_string(id) + " (" + it->second.name + ") is gone");
  if (it->second.retry != 0) loop_.CancelTimer(it->second.retry);
  StopAwaitingAgent(it->second);
  for (auto port = ports_.begin(); port != ports_.end();)
    port = port->second.first == id || port->second.second == id ? ports_.erase(port)
                                                                 : std::next(port);
  std::erase_if(pending_, [&](const Pending& pending) {
    if (pending.source != id) return false;
    loop_.CancelTimer(pending.timeout);
    return true;
  });
  domains_.erase(it);
}

// The agent may not serve yet (it starts after the domain appears, or
// restarts). On Xen the broker watches the key the agent's vchan server
// writes last, so it wakes when the agent serves and never polls; while that
// key exists but connecting fails (a stale key, a restart half done), or where
// the transport has no key, it tries again with a growing pause, never faster
// than 50 ms.
void Broker::TryConnect(unsigned id) {
  auto it = domains_.find(id);
  if (it == domains_.end()) return;
  Domain& domain = it->second;
  domain.retry = 0;
  Result<std::unique_ptr<Vchan>> vchan = ConnectVchan(id, kControlPort);
  if (!vchan) {
    AwaitAgent(domain);
    if (!domain.agent_key.empty() && !xs_->Read(domain.agent_key)) return;  // the watch wakes us
    domain.retry = loop_.AddTimer(std::chrono::milliseconds(domain.backoff_ms),
                                  [this, id] { TryConnect(id); });
    domain.backoff_ms = std::min(domain.backoff_ms * 2, kMaxBackoffMs);
    return;
  }
  StopAwaitingAgent(domain);
  domain.control = std::make_unique<ControlChannel>(
      loop_, std::move(*vchan), Link::kFromAgent,
      [this, id](const Message& message) { OnAgentMessage(id, message); },
      [this, id](const Error& why) {
        auto gone = domains_.find(id);
        if (gone == domains_.end()) return;
        log_.Warning("domain " + gone->second.name + " cut off: " + why.reason);
        gone->second.control.reset();
        gone->second.backoff_ms = 50;
        gone->second.retry =
            loop_.AddTimer(std::chrono::milliseconds(200), [this, id] { TryConnect(id); });
      });
  domain.control->OnReady([this, id] {
    auto ready = domains_.find(id);
    if (ready == domains_.end()) return;
    ready->second.backoff_ms = 50;
    log_.Info("agent of " + ready->second.name + " connected");
    OnAgentReady(ready->second);
  });
  if (Status started = domain.control->Start(false); !started) log_.Warning(started.error());
}

void Broker::AwaitAgent(Domain& domain) {
  if (!domain.agent_key.empty()) return;
  const std::optional<std::string> key = VchanServerKey(domain.id, 0, kControlPort);
  if (!key) return;
  // It fires once at once, which covers an agent that served in between.
  if (Status watched = watcher_->Watch(*key, kAgentToken + std::to_string(domain.id)); !watched)
    return log_.Warning(watched.error());
  domain.agent_key = *key;
}

void Broker::StopAwaitingAgent(Domain& domain) {
  if (domain.agent_key.empty()) return;
  if (Status unwatched =
          watcher_->Unwatch(domain.agent_key, kAgentToken + std::to_string(domain.id));
      !unwatched)
    log_.Warning(unwatched.error());
  domain.agent_key.clear();
}

void Broker::OnAgentMessage(unsigned id, const Message& message) {
  auto it = domains_.find(id);
  if (it == domains_.end()) return;
  if (const auto* trigger = std::get_if<Trigger>(&message)) return OnTrigger(it->second, *trigger);
  if (const auto* ended = std::get_if<ExecParams>(&message)) {
    auto port = ports_.find(ended->connect_port);
    // Only a domain that takes part in the call may free its port.
    if (port != ports_.end() && (port->second.first == id || port->second.second == id))
      ports_.erase(port);
  }
}

void Broker::OnTrigger(Domain& source, const Trigger& trigger) {
  PolicyRequest request = SplitServiceArgument(trigger.service);
  request.source = source.name;
  request.target = trigger.target_domain == "@default" ? "" : trigger.target_domain;
  const auto running = [this](const std::string& name) {
    const Domain* domain = ByName(name);
    return domain != nullptr && domain->control && domain->control->ready();
  };
  const Decision decision = policy_.Evaluate(request, running);
  log_.Notice("call " + source.name + " -> " + trigger.target_domain + " " + trigger.service +
              ": " + FormatDecision(decision) +
              (decision.reason.empty() ? "" : " (" + decision.reason + ")"));
  if (decision.verdict == Decision::Verdict::kAsk)
    return Refuse(source, trigger.ident, "ask needs an operator; qrx-broker runs headless");
  if (decision.verdict != Decision::Verdict::kAllow)
    return Refuse(source, trigger.ident, decision.reason);
  const std::string service = WithPlus(trigger.service);
  if (decision.target == kAdminVmName) return RunInDom0(source, trigger.ident, service);
  Domain* target = ByName(decision.target);
  if (target != nullptr && target->control && target->control->ready())
    return Route(source.id, trigger.ident, *target, decision.user, service, -1);
  const std::size_t per_source = std::count_if(
      pending_.begin(), pending_.end(), [&](const Pending& p) { return p.source == source.id; });
  if (per_source >= options_.max_pending_per_domain ||
      pending_.size() >= options_.max_pending_total) {
    log_.Notice("call " + source.name + " -> " + decision.target +
                " refused: too many calls waiting for their targets");
    return Refuse(source, trigger.ident, "too many calls waiting");
  }
  // One start per target, however many calls wait for it.
  const bool starting = std::any_of(pending_.begin(), pending_.end(),
                                    [&](const Pending& p) { return p.target == decision.target; });
  Pending pending{source.id, trigger.ident, decision.target, decision.user, service, 0, -1};
  pending.timeout =
      loop_.AddTimer(options_.autostart_timeout, [this, ident = trigger.ident, id = source.id] {
        auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) {
          return p.ident == ident && p.source == id;
        });
        if (it == pending_.end()) return;
        pending_.erase(it);
        if (auto source_it = domains_.find(id); source_it != domains_.end()) {
          log_.Notice("call " + source_it->second.name +
                      " refused: its target did not come up in time");
          Refuse(source_it->second, ident, "the target did not come up in time");
        }
      });
  pending_.push_back(std::move(pending));
  if (target == nullptr && !starting) Autostart(decision.target);
}

void Broker::Refuse(Domain& source, const std::string& ident, const std::string& why) {
  (void)why;  // logged with the decision
  if (source.control) source.control->Send(EncodeServiceRefused(ident));
}

std::string Broker::UserFor(const std::string& target, const std::string& user) const {
  if (!user.empty()) return user;
  const auto vm = policy_.vms().find(target);
  return vm == policy_.vms().end() ? "user" : vm->second.default_user;
}

void Broker::Route(unsigned source, const std::string& ident, Domain& target,
                   const std::string& user, const std::string& service, int client_fd) {
  const auto source_it = domains_.find(source);
  const std::string source_name = source == 0 ? kAdminVmName : source_it->second.name;
  const std::uint32_t port = AllocatePort(source, target.id);
  const ServiceCall call{UserFor(target.name, user), service, source_name};
  target.control->Send(EncodeExecParams(kExecCmdline, {source, port, FormatServiceCommand(call)}));
  if (client_fd >= 0) {
    const std::vector<std::uint8_t> answer = RawExecParams(target.id, port);
    ssize_t ignored = write(client_fd, answer.data(), answer.size());
    (void)ignored;
    close(client_fd);
  } else if (source_it != domains_.end() && source_it->second.control) {
    source_it->second.control->Send(EncodeServiceConnect({target.id, port, ident}));
  }
}

void Broker::RunInDom0(Domain& source, const std::string& ident, const std::string& service) {
  const std::uint32_t port = AllocatePort(source.id, 0);
  source.control->Send(EncodeServiceConnect({0, port, ident}));
  runner_.Start(source.id, port, ServiceCall{"", service, source.name});
}

void Broker::Autostart(const std::string& name) {
  log_.Notice("starting " + name + " with " + options_.xvm_start);
  const pid_t pid = fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execl(options_.xvm_start.c_str(), options_.xvm_start.c_str(), name.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  if (pid < 0) log_.Warning(SystemError("start " + name, errno));
}

void Broker::OnAgentReady(Domain& domain) {
  std::vector<Pending> ready;
  std::erase_if(pending_, [&](Pending& pending) {
    if (pending.target != domain.name) return false;
    loop_.CancelTimer(pending.timeout);
    ready.push_back(std::move(pending));
    return true;
  });
  for (const Pending& pending : ready)
    Route(pending.source, pending.ident, domain, pending.command_user, pending.service,
          pending.client_fd);
}

Broker::Domain* Broker::ByName(const std::string& name) {
  for (auto& [id, domain] : domains_)
    if (domain.name == name) return &domain;
  return nullptr;
}

std::uint32_t Broker::AllocatePort(unsigned a, unsigned b) {
  std::uint32_t port = kFirstDataPort;
  while (ports_.count(port) != 0) ++port;
  ports_[port] = {a, b};
  return port;
}

void Broker::FreePort(std::uint32_t port) { ports_.erase(port); }

void Broker::OnLocalConnect() {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    local_clients_[fd] = {};
    if (!loop_.Add(fd, EPOLLIN, [this, fd](std::uint32_t) { OnLocalData(fd); })) close(fd);
  }
}

// dom0's own qrx-call: calls from dom0 are not policy-checked (Qubes' rule).
void Broker::OnLocalData(int fd) {
  std::vector<std::uint8_t>& in = local_clients_[fd];
  const auto drop = [&] {
    loop_.Remove(fd);
    local_clients_.erase(fd);
    close(fd);
  };
  std::uint8_t buffer[4096];
  const ssize_t got = read(fd, buffer, sizeof buffer);
  if (got < 0 && errno == EAGAIN) return;
  if (got <= 0) return drop();
  in.insert(in.end(), buffer, buffer + got);
  if (in.size() < kHeaderSize) return;
  const Header header = DecodeHeader(in);
  if (!CheckHeader(Link::kFromLocalClient, header) || in.size() > kHeaderSize + header.len)
    return drop();
  if (in.size() < kHeaderSize + header.len) return;
  Result<Message> message =
      DecodeBody(Link::kFromLocalClient, header, std::span(in).subspan(kHeaderSize));
  if (!message) return drop();
  const Trigger trigger = std::get<Trigger>(*message);
  loop_.Remove(fd);
  local_clients_.erase(fd);
  log_.Notice("call dom0 -> " + trigger.target_domain + " " + trigger.service +
              ": from dom0, not policy-checked");
  Domain* target = ByName(trigger.target_domain);
  if (target != nullptr && target->control && target->control->ready())
    return Route(0, "", *target, "", WithPlus(trigger.service), fd);
  if (!IsValidVmName(trigger.target_domain) || policy_.vms().count(trigger.target_domain) == 0)
    return (void)close(fd);
  Pending pending{
      0, "dom0-" + std::to_string(fd), trigger.target_domain, "", WithPlus(trigger.service), 0, fd};
  pending.timeout = loop_.AddTimer(options_.autostart_timeout, [this, fd] {
    std::erase_if(pending_, [&](const Pending& p) {
      if (p.client_fd != fd) return false;
      close(fd);
      return true;
    });
  });
  pending_.push_back(std::move(pending));
  if (target == nullptr) Autostart(trigger.target_domain);
}

void Broker::OnSignal(int signo) {
  if (signo == SIGTERM || signo == SIGINT) {
    log_.Info("stopping on signal " + std::to_string(signo));
    return loop_.Stop();
  }
  if (signo == SIGHUP) return ReloadPolicy();
  int status = 0;
  pid_t pid = 0;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) runner_.Reaped(pid, status);
}

}  // namespace qmin::qrx
