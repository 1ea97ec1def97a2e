#include "qrx_domains.h"

#include <sys/epoll.h>

#include <algorithm>

#include "domid.h"
#include "text.h"
#include "xen_host.h"

namespace qmin::qrx {
namespace {

constexpr int kFirstBackoffMs = 50;
constexpr int kMaxBackoffMs = 2000;
constexpr char kDomainsToken[] = "domains";
constexpr char kAgentToken[] = "agent:";

}  // namespace

DomainTable::DomainTable(EventLoop& loop, Log& log, Callbacks callbacks)
    : loop_(loop), log_(log), callbacks_(std::move(callbacks)) {}

Status DomainTable::Start() {
  Result<DomainWatch> watch = WatchDomains(kDomainsToken);
  if (!watch) return watch.error();
  xs_ = std::move(watch->xs);
  watcher_ = std::move(watch->watcher);
  if (Status status =
          loop_.Add(watcher_->fd(), EPOLLIN, [this](std::uint32_t) { OnWatchEvents(); });
      !status)
    return status;
  Rescan();
  return {};
}

Domain* DomainTable::Find(unsigned id) {
  auto it = domains_.find(id);
  return it == domains_.end() ? nullptr : &it->second;
}

Domain* DomainTable::ByName(const std::string& name) {
  for (auto& [id, domain] : domains_)
    if (domain.name == name) return &domain;
  return nullptr;
}

// Domains come and go, and agents start serving: both arrive as watch events.
void DomainTable::OnWatchEvents() {
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
      const auto id = ParseDomainId(std::string_view(event.token).substr(sizeof kAgentToken - 1));
      Domain* domain = id ? Find(*id) : nullptr;
      if (domain != nullptr && !domain->control && domain->retry == 0) TryConnect(domain->id);
    }
  }
  if (rescan) Rescan();
}

// Which domains exist now: a domain is followed from the moment xenstore
// has its name, and forgotten when its directory is gone.
void DomainTable::Rescan() {
  Result<std::map<unsigned, std::string>> names = ReadDomainNames(*xs_);
  if (!names) return log_.Warning(names.error());
  for (const auto& [id, name] : *names) Add(id, name);
  std::vector<unsigned> gone;
  for (const auto& [id, domain] : domains_)
    if (names->count(id) == 0) gone.push_back(id);
  for (unsigned id : gone) Drop(id);
}

void DomainTable::Add(unsigned id, const std::string& name) {
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

void DomainTable::Drop(unsigned id) {
  auto it = domains_.find(id);
  if (it == domains_.end()) return;
  log_.Info("domain " + std::to_string(id) + " (" + it->second.name + ") is gone");
  if (it->second.retry != 0) loop_.CancelTimer(it->second.retry);
  StopAwaitingAgent(it->second);
  callbacks_.gone(it->second);
  domains_.erase(it);
}

// The agent may not serve yet (it starts after the domain appears, or
// restarts). On Xen the table watches the key the agent's vchan server
// writes last, so it wakes when the agent serves and never polls; while that
// key exists but connecting fails (a stale key, a restart half done), or where
// the transport has no key, it tries again with a growing pause, never faster
// than 50 ms.
void DomainTable::TryConnect(unsigned id) {
  Domain* domain = Find(id);
  if (domain == nullptr) return;
  domain->retry = 0;
  Result<std::unique_ptr<Vchan>> vchan = ConnectVchan(id, kControlPort);
  if (!vchan) {
    AwaitAgent(*domain);
    if (!domain->agent_key.empty() && !xs_->Read(domain->agent_key)) return;  // the watch wakes us
    domain->retry = loop_.AddTimer(std::chrono::milliseconds(domain->backoff_ms),
                                   [this, id] { TryConnect(id); });
    domain->backoff_ms = std::min(domain->backoff_ms * 2, kMaxBackoffMs);
    return;
  }
  StopAwaitingAgent(*domain);
  domain->control = std::make_unique<ControlChannel>(
      loop_, std::move(*vchan), Link::kFromAgent,
      [this, id](const Message& message) {
        if (Domain* from = Find(id)) callbacks_.message(*from, message);
      },
      [this, id](const Error& why) { OnCut(id, why); });
  domain->control->OnReady([this, id] {
    Domain* ready = Find(id);
    if (ready == nullptr) return;
    ready->backoff_ms = kFirstBackoffMs;
    log_.Info("agent of " + ready->name + " connected");
    callbacks_.ready(*ready);
  });
  if (Status started = domain->control->Start(false); !started) log_.Warning(started.error());
}

void DomainTable::OnCut(unsigned id, const Error& why) {
  Domain* domain = Find(id);
  if (domain == nullptr) return;
  log_.Warning("domain " + domain->name + " cut off: " + why.reason);
  domain->control.reset();
  domain->backoff_ms = kFirstBackoffMs;
  domain->retry = loop_.AddTimer(std::chrono::milliseconds(200), [this, id] { TryConnect(id); });
}

void DomainTable::AwaitAgent(Domain& domain) {
  if (!domain.agent_key.empty()) return;
  const std::optional<std::string> key = VchanServerKey(domain.id, 0, kControlPort);
  if (!key) return;
  // It fires once at once, which covers an agent that served in between.
  if (Status watched = watcher_->Watch(*key, kAgentToken + std::to_string(domain.id)); !watched)
    return log_.Warning(watched.error());
  domain.agent_key = *key;
}

void DomainTable::StopAwaitingAgent(Domain& domain) {
  if (domain.agent_key.empty()) return;
  if (Status unwatched =
          watcher_->Unwatch(domain.agent_key, kAgentToken + std::to_string(domain.id));
      !unwatched)
    log_.Warning(unwatched.error());
  domain.agent_key.clear();
}

}  // namespace qmin::qrx
