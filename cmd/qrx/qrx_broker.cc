#include "qrx_broker.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "process.h"
#include "vm_facts.h"

namespace qmin::qrx {
namespace {

// What one domain may cost: requests beyond this rate wait in its own ring
// (the broker stops reading it), and its log lines beyond this are counted.
constexpr double kRequestsPerSecond = 100;
constexpr double kRequestBurst = 200;
constexpr std::size_t kNoticesPerWindow = 60;
constexpr auto kNoticeWindow = std::chrono::seconds(10);

// Qubes sends "svc+" for a call without an argument.
std::string WithPlus(const std::string& service) {
  return service.find('+') == std::string::npos ? service + "+" : service;
}

}  // namespace

Broker::Broker(EventLoop& loop, BrokerOptions options, Log& log)
    : loop_(loop),
      options_(std::move(options)),
      log_(log),
      domains_(loop, log,
               {[this](Domain& source, const Message& message) { OnAgentMessage(source, message); },
                [this](Domain& domain) { OnAgentReady(domain); },
                [this](const Domain& domain) { OnDomainGone(domain); }}),
      notices_(loop, log, kNoticesPerWindow, kNoticeWindow) {
  if (!options_.ask_program.empty())
    ask_ =
        std::make_unique<AskProgram>(loop, log, options_.ask_program, options_.autostart_timeout);
}

Broker::~Broker() {
  for (auto& [fd, reader] : local_clients_) close(fd);
}

Status Broker::Start() {
  if (Status status = loop_.OnSignals({SIGCHLD, SIGHUP, SIGTERM, SIGINT},
                                      [this](int signo) { OnSignal(signo); });
      !status)
    return status;
  Result<UnixListener> listener = UnixListener::Open(options_.socket_path, 0600);
  if (!listener) return listener.error();
  listener_.emplace(std::move(*listener));
  policy_ = std::make_unique<PolicyStore>(loop_, log_, options_.sources);
  if (Status status = policy_->Start(); !status) return status;
  if (Status status = domains_.Start(); !status) return status;
  LearnOwnDomain(options_.runner);
  return loop_.Add(listener_->fd(), EPOLLIN, [this](std::uint32_t) { OnLocalConnect(); });
}

std::string Broker::Named(unsigned id) {
  if (id == 0) return kAdminVmName;
  const Domain* domain = domains_.Find(id);
  return domain == nullptr ? "domain " + std::to_string(id) : domain->name;
}

void Broker::OnAgentMessage(Domain& source, const Message& message) {
  if (const auto* trigger = std::get_if<Trigger>(&message)) return OnTrigger(source, *trigger);
  if (const auto* ended = std::get_if<ExecParams>(&message)) {
    auto port = ports_.find(ended->connect_port);
    // Only a domain that takes part in the call may free its port.
    if (port != ports_.end() &&
        (port->second.first == source.id || port->second.second == source.id))
      ports_.erase(port);
  }
}

void Broker::OnTrigger(Domain& source, Trigger trigger) {
  // A domain past its budget waits: its next requests stay in its ring.
  auto budget = budgets_.try_emplace(source.id, kRequestsPerSecond, kRequestBurst).first;
  const auto now = TokenBucket::Clock::now();
  if (!budget->second.Take(now)) {
    source.control->Pause(budget->second.UntilNext(now));
    return Refuse(source.id, trigger.ident, -1, "too many requests");
  }
  if (Status named = SanitizeTrigger(trigger); !named)
    return Refuse(source.id, trigger.ident, -1, named.error().Text());
  PolicyRequest request = SplitServiceArgument(trigger.service);
  request.source = source.name;
  request.target = trigger.target_domain == "@default" ? "" : trigger.target_domain;
  const Decision decision = policy_->policy().Evaluate(request, [this](const std::string& name) {
    const Domain* domain = domains_.ByName(name);
    return domain != nullptr && domain->ready();
  });
  notices_.Notice(source.name, "call " + source.name + " -> " + trigger.target_domain + " " +
                                   trigger.service + ": " + FormatDecision(decision) +
                                   (decision.reason.empty() ? "" : " (" + decision.reason + ")"));
  if (!decision.warning.empty()) notices_.Notice(source.name, "policy: " + decision.warning);
  OnDecision(source, trigger, decision);
}

void Broker::OnDecision(Domain& source, const Trigger& trigger, const Decision& decision) {
  Routed call{source.id,
              trigger.ident,
              decision.target,
              decision.user,
              WithPlus(trigger.service),
              policy_->policy().RequestedTarget(trigger.target_domain),
              -1};
  if (decision.verdict == Decision::Verdict::kDeny) return Refuse(call.source, call.ident, -1, "");
  if (decision.verdict == Decision::Verdict::kAllow) return Dispatch(call);
  if (!ask_)
    return Refuse(call.source, call.ident, -1, "ask needs --ask-program on a headless host");
  ask_->Ask(source.name, decision.targets, decision.default_target, trigger.service,
            [this, call](const std::string& target) mutable {
              if (domains_.Find(call.source) == nullptr) return;  // gone meanwhile
              if (target.empty())
                return Refuse(call.source, call.ident, -1, "the operator said no");
              call.target = target;
              Dispatch(call);
            });
}

void Broker::Dispatch(Routed call) {
  // A domain calling itself (an ask answered with the caller, dom0's qrx-call
  // naming dom0): Qubes refuses it, and so does qrx, at once.
  if (call.target == Named(call.source))
    return Refuse(call.source, call.ident, call.client_fd, "a call to itself (loopback)");
  if (call.target == kAdminVmName) return RunInDom0(call);
  Domain* target = domains_.ByName(call.target);
  if (target != nullptr && target->ready()) return Route(call, *target);
  Wait(std::move(call));
}

// A call whose target's agent is not there yet waits for it, and the target
// is started once, however many calls wait.
void Broker::Wait(Routed call) {
  const std::size_t per_source =
      std::count_if(pending_.begin(), pending_.end(),
                    [&](const Pending& p) { return p.call.source == call.source; });
  if (per_source >= options_.max_pending_per_domain ||
      pending_.size() >= options_.max_pending_total)
    return Refuse(call.source, call.ident, call.client_fd,
                  "too many calls waiting for their targets");
  const bool running = domains_.ByName(call.target) != nullptr;
  if (!running && access(options_.stopping_flag.c_str(), F_OK) == 0)
    return Refuse(call.source, call.ident, call.client_fd,
                  call.target + " is not running, and the VMs are being stopped: nothing starts");
  if (const auto wait = BackingOff(call.target); wait && !running)
    return Refuse(call.source, call.ident, call.client_fd,
                  call.target + " failed to start; the next try is in " +
                      std::to_string(wait->count()) + " s");
  const bool starting = std::any_of(pending_.begin(), pending_.end(),
                                    [&](const Pending& p) { return p.call.target == call.target; });
  const std::string target = call.target;
  const unsigned source = call.source;
  const std::string ident = call.ident;
  const int client_fd = call.client_fd;
  Pending pending{std::move(call), 0};
  pending.timeout = loop_.AddTimer(options_.autostart_timeout, [=, this] {
    auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) {
      return p.call.ident == ident && p.call.source == source && p.call.client_fd == client_fd;
    });
    if (it == pending_.end()) return;
    pending_.erase(it);
    Refuse(source, ident, client_fd, "its target did not come up in time");
  });
  pending_.push_back(std::move(pending));
  if (!running && !starting) Autostart(target, Named(source));
}

// Seconds left of `target`'s back-off, or nullopt when a start may be tried.
std::optional<std::chrono::seconds> Broker::BackingOff(const std::string& target) const {
  const auto backoff = backoffs_.find(target);
  if (backoff == backoffs_.end()) return std::nullopt;
  const auto left = backoff->second.until - EventLoop::Clock::now();
  if (left <= EventLoop::Clock::duration::zero()) return std::nullopt;
  return std::chrono::ceil<std::chrono::seconds>(left);
}

// A start that failed refuses what waits for it, and the target's next calls
// for a while that doubles each time (a VM that cannot start is not started
// again on every call of a busy caller).
void Broker::StartFailed(const std::string& target, const std::string& why) {
  static constexpr std::chrono::seconds kLongestBackoff{60};
  Backoff& backoff = backoffs_[target];
  backoff.until = EventLoop::Clock::now() + backoff.next;
  backoff.next = std::min(backoff.next * 2, kLongestBackoff);
  RefuseWaiting(target, why);
}

void Broker::Refuse(unsigned source, const std::string& ident, int client_fd,
                    const std::string& why) {
  const std::string who = Named(source);
  if (!why.empty()) notices_.Notice(who, "call from " + who + " refused: " + why);
  if (client_fd >= 0) {
    close(client_fd);  // dom0's qrx-call: a refusal is the socket closing
    return;
  }
  if (Domain* domain = domains_.Find(source); domain != nullptr && domain->control)
    domain->control->Send(EncodeServiceRefused(ident));
}

void Broker::Route(const Routed& call, Domain& target) {
  const std::uint32_t port = AllocatePort(call.source, target.id);
  const std::string user =
      call.user.empty() ? policy_->policy().DefaultUser(target.name) : call.user;
  const ServiceCommand command{user, "", call.service, Named(call.source), "", ""};
  target.control->Send(
      EncodeExecParams(kExecCmdline, {call.source, port, FormatServiceCommand(command)}));
  if (call.client_fd >= 0) {
    const std::vector<std::uint8_t> answer = EncodeLocalAnswer(target.id, port);
    ssize_t ignored = write(call.client_fd, answer.data(), answer.size());
    (void)ignored;
    close(call.client_fd);
  } else if (Domain* source = domains_.Find(call.source); source != nullptr && source->control) {
    source->control->Send(EncodeServiceConnect({target.id, port, call.ident}));
  }
}

// dom0's own services run as a VM's do: a call process of ours, as the
// policy's user= (or dom0's default user), with Qubes' environment.
void Broker::RunInDom0(const Routed& call) {
  Domain* source = domains_.Find(call.source);
  if (source == nullptr || !source->control) return;
  const std::uint32_t port = AllocatePort(source->id, 0);
  const std::string user =
      call.user.empty() ? policy_->policy().DefaultUser(kAdminVmName) : call.user;
  const bool keyword = call.requested.rfind('@', 0) == 0;
  CallRequest request;
  request.domain = source->id;
  request.port = port;
  request.command = ServiceCommand{user,
                                   "",
                                   call.service,
                                   source->name,
                                   keyword ? "keyword" : "name",
                                   keyword ? call.requested.substr(1) : call.requested};
  Result<pid_t> pid = StartCall(request, options_.runner, log_);
  if (!pid) {
    ports_.erase(port);
    log_.Error(pid.error());
    return Refuse(call.source, call.ident, -1, "dom0 could not run it");
  }
  dom0_calls_[*pid] = port;
  source->control->Send(EncodeServiceConnect({0, port, call.ident}));
}

void Broker::Autostart(const std::string& name, const std::string& caller) {
  notices_.Notice(caller, "starting " + name + " with " + options_.xvm_start);
  SpawnOptions options;
  options.argv = {options_.xvm_start, name};
  options.fds = {-1, -1, 2};
  Result<pid_t> pid = Spawn(options);
  if (!pid) return StartFailed(name, "could not start it: " + pid.error().Text());
  autostarts_[*pid] = name;
}

// Every call waiting for `target` is refused now, with the reason.
void Broker::RefuseWaiting(const std::string& target, const std::string& why) {
  std::vector<Pending> refused;
  std::erase_if(pending_, [&](Pending& pending) {
    if (pending.call.target != target) return false;
    loop_.CancelTimer(pending.timeout);
    refused.push_back(std::move(pending));
    return true;
  });
  for (const Pending& pending : refused)
    Refuse(pending.call.source, pending.call.ident, pending.call.client_fd, target + ": " + why);
}

void Broker::OnAgentReady(Domain& domain) {
  backoffs_.erase(domain.name);
  std::vector<Pending> ready;
  std::erase_if(pending_, [&](Pending& pending) {
    if (pending.call.target != domain.name) return false;
    loop_.CancelTimer(pending.timeout);
    ready.push_back(std::move(pending));
    return true;
  });
  for (const Pending& pending : ready) Route(pending.call, domain);
}

void Broker::OnDomainGone(const Domain& domain) {
  for (auto port = ports_.begin(); port != ports_.end();)
    port = port->second.first == domain.id || port->second.second == domain.id ? ports_.erase(port)
                                                                               : std::next(port);
  std::erase_if(pending_, [&](const Pending& pending) {
    if (pending.call.source != domain.id) return false;
    loop_.CancelTimer(pending.timeout);
    return true;
  });
  budgets_.erase(domain.id);
}

std::uint32_t Broker::AllocatePort(unsigned a, unsigned b) {
  std::uint32_t port = kFirstDataPort;
  while (ports_.count(port) != 0) ++port;
  ports_[port] = {a, b};
  return port;
}

void Broker::OnLocalConnect() {
  for (;;) {
    const int fd = accept4(listener_->fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    local_clients_.emplace(fd, FrameReader(Link::kFromLocalClient, kMaxFrameSize));
    if (!loop_.Add(fd, EPOLLIN, [this, fd](std::uint32_t) { OnLocalData(fd); })) DropLocal(fd);
  }
}

void Broker::DropLocal(int fd) {
  loop_.Remove(fd);
  local_clients_.erase(fd);
  close(fd);
}

// dom0's own qrx-call: calls from dom0 are not policy-checked (Qubes' rule).
void Broker::OnLocalData(int fd) {
  FrameReader& reader = local_clients_.at(fd);
  std::uint8_t buffer[4096];
  const ssize_t got = read(fd, buffer, sizeof buffer);
  if (got < 0 && errno == EAGAIN) return;
  if (got <= 0 || !reader.Feed(std::span(buffer, static_cast<std::size_t>(got))))
    return DropLocal(fd);
  const std::size_t buffered = reader.buffered();
  const std::optional<Frame> frame = reader.Next();
  if (!frame) return;
  if (buffered != kHeaderSize + frame->body.size()) return DropLocal(fd);  // one request only
  Result<Message> message = DecodeBody(Link::kFromLocalClient, frame->header, frame->body);
  if (!message) return DropLocal(fd);
  Trigger trigger = std::get<Trigger>(*message);
  loop_.Remove(fd);
  local_clients_.erase(fd);
  if (Status named = SanitizeTrigger(trigger); !named)
    return Refuse(0, "", fd, named.error().Text());
  log_.Notice("call dom0 -> " + trigger.target_domain + " " + trigger.service +
              ": from dom0, not policy-checked");
  Routed call{0,  "dom0-" + std::to_string(fd), trigger.target_domain,
              "", WithPlus(trigger.service),    "",
              fd};
  if (!IsValidVmName(call.target) || policy_->policy().vms().count(call.target) == 0)
    return Refuse(0, "", fd, "no VM " + call.target);
  Dispatch(std::move(call));
}

void Broker::OnSignal(int signo) {
  if (signo == SIGTERM || signo == SIGINT) {
    log_.Info("stopping on signal " + std::to_string(signo));
    return loop_.Stop();
  }
  if (signo == SIGHUP) {
    backoffs_.clear();  // the operator may have fixed what kept a VM from starting
    return policy_->Reload();
  }
  Reap();
}

void Broker::Reap() {
  int status = 0;
  pid_t pid = 0;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    if (ask_ && ask_->Reaped(pid, status)) continue;
    if (auto call = dom0_calls_.find(pid); call != dom0_calls_.end()) {
      ports_.erase(call->second);
      dom0_calls_.erase(call);
      continue;
    }
    auto start = autostarts_.find(pid);
    if (start == autostarts_.end()) continue;
    const std::string target = start->second;
    autostarts_.erase(start);
    // A start that failed leaves nothing to wait for; a good one, the agent.
    if (ExitStatusOf(status) != 0) {
      StartFailed(target, options_.xvm_start + " exited " + std::to_string(ExitStatusOf(status)));
    } else {
      backoffs_.erase(target);
    }
  }
}

}  // namespace qmin::qrx
