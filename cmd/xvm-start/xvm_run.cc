#include "xvm_run.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "xen_host.h"

namespace qmin {
namespace {

constexpr char kDomainsToken[] = "@domains";

}  // namespace

XvmRun::XvmRun(EventLoop& loop, Log& log, const XvmOptions& options, const VmMap& vms)
    : loop_(loop), log_(log), options_(options), vms_(vms), xl_(loop, options.xl) {}

Status XvmRun::Begin() {
  if (Status status = loop_.OnSignals({SIGCHLD}, [this](int) { Reap(); }); !status) return status;
  // A domain that appears matters too: xl restarts a rebooted VM as a new one.
  Result<DomainWatch> watch = WatchDomains(kDomainsToken);
  if (!watch) return watch.error();
  xs_ = std::move(watch->xs);
  watcher_ = std::move(watch->watcher);
  if (Status added = loop_.Add(watcher_->fd(), EPOLLIN, [this](std::uint32_t) { OnEvents(); });
      !added)
    return added;
  OnDomainsChanged();
  Launch();
  MaybeDone();
  return {};
}

void XvmRun::MaybeDone() {
  if (Done() && xl_.running() == 0) loop_.Stop();
}

Status XvmRun::Watch(const std::string& path, const std::string& name) {
  return watcher_->Watch(path, "vm:" + name);
}

void XvmRun::Unwatch(const std::string& path, const std::string& name) {
  (void)watcher_->Unwatch(path, "vm:" + name);
}

std::map<unsigned, std::string> XvmRun::DomainNames() {
  Result<std::map<unsigned, std::string>> names = ReadDomainNames(*xs_);
  if (!names) log_.Warning(names.error());
  return names ? *names : std::map<unsigned, std::string>{};
}

void XvmRun::OnEvents() {
  Result<XenstoreWatcher::Drained> drained = watcher_->Drain();
  if (!drained) {
    log_.Error(drained.error());
    failed_ = true;
    return loop_.Stop();
  }
  for (const WatchEvent& event : drained->events) {
    if (event.token == kDomainsToken) {
      OnDomainsChanged();
    } else if (event.token.rfind("vm:", 0) == 0) {
      OnWatch(event.token.substr(3));
    }
  }
  MaybeDone();
}

void XvmRun::Reap() {
  int status = 0;
  pid_t pid = 0;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) xl_.Reaped(pid, status);
  MaybeDone();
}

}  // namespace qmin
