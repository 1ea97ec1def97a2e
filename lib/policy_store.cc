#include "policy_store.h"

#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "vm_facts.h"

namespace qmin {
namespace {

constexpr std::uint32_t kWatchMask = IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                                     IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
/// Writing one file raises several events: they are taken as one change.
constexpr auto kSettle = std::chrono::milliseconds(50);

std::string Parent(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The policy directories, the VM directory, and the directories of included
// files: any change there may change a decision.
std::set<std::string> WatchedDirs(const PolicySources& sources, const LoadReport& report) {
  std::set<std::string> dirs(sources.policy_dirs.begin(), sources.policy_dirs.end());
  dirs.insert(sources.vm_dir);
  for (const std::string& file : report.files) dirs.insert(Parent(file));
  return dirs;
}

}  // namespace

std::string CountErrors(std::size_t count) {
  return std::to_string(count) + (count == 1 ? " error" : " errors");
}

std::string NotLoaded(const LoadReport& report) {
  return "the policy is not loaded, " + CountErrors(report.errors.size());
}

LoadReport LoadPolicySources(const PolicySources& sources, Policy& policy,
                             std::vector<Rule>* rules_out) {
  LoadReport report;
  ParsedPolicy parsed = LoadPolicy(sources.policy_dirs, {}, sources.legacy_dir);
  for (const PolicyError& error : parsed.errors) report.errors.push_back(FormatPolicyError(error));
  VmFactsLoad vms = LoadVmFacts(sources.vm_dir);
  report.vm_errors = std::move(vms.errors);
  report.vms = vms.vms.size() - 1;  // dom0 is always there
  report.rules = parsed.rules.size();
  report.files = parsed.files;
  report.warnings = parsed.warnings;
  if (rules_out != nullptr) *rules_out = parsed.rules;
  policy = report.ok() ? Policy(std::move(parsed.rules), std::move(vms.vms))
                       : Policy::DenyingAll(NotLoaded(report));
  return report;
}

Result<PolicyWatch> PolicyWatch::Open(const PolicySources& sources, const LoadReport& report) {
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return SystemError("watch the policy directories", errno);
  PolicyWatch watch(fd);
  watch.Rewatch(sources, report);
  return watch;
}

PolicyWatch::PolicyWatch(PolicyWatch&& other) noexcept
    : fd_(other.fd_), watches_(std::move(other.watches_)) {
  other.fd_ = -1;
}

PolicyWatch::~PolicyWatch() {
  if (fd_ >= 0) close(fd_);
}

void PolicyWatch::Rewatch(const PolicySources& sources, const LoadReport& report) {
  // Adding before removing leaves no moment unwatched: re-adding a directory
  // already watched keeps its watch, so a change made now is not lost.
  std::map<int, std::string> kept;
  for (const std::string& dir : WatchedDirs(sources, report)) {
    const int watch = inotify_add_watch(fd_, dir.c_str(), kWatchMask);
    if (watch >= 0) kept[watch] = "";
  }
  // A directory removed (or not made yet) is followed through its parent:
  // only events about its own name count there.
  for (const std::string& dir : sources.policy_dirs) {
    const int watch = inotify_add_watch(fd_, Parent(dir).c_str(), IN_CREATE | IN_MOVED_TO);
    if (watch >= 0 && kept.count(watch) == 0) kept[watch] = dir.substr(dir.rfind('/') + 1);
  }
  for (const auto& [watch, name] : watches_)
    if (kept.count(watch) == 0) inotify_rm_watch(fd_, watch);
  watches_ = std::move(kept);
}

bool PolicyWatch::Drain() {
  alignas(inotify_event) char buffer[8192];
  bool changed = false;
  for (;;) {
    const ssize_t got = read(fd_, buffer, sizeof buffer);
    if (got <= 0) return changed;
    std::size_t at = 0;
    while (at + sizeof(inotify_event) <= static_cast<std::size_t>(got)) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
      at += sizeof(inotify_event) + event->len;
      // Removing a watch queues IN_IGNORED for it: not a change of the policy.
      if ((event->mask & IN_IGNORED) != 0) continue;
      const auto watch = watches_.find(event->wd);
      const bool about_dir = watch != watches_.end() && !watch->second.empty();
      if (!about_dir || (event->len > 0 && watch->second == event->name)) changed = true;
    }
  }
}

PolicyStore::PolicyStore(EventLoop& loop, Log& log, PolicySources sources)
    : loop_(loop), log_(log), sources_(std::move(sources)) {}

PolicyStore::~PolicyStore() {
  if (watch_) loop_.Remove(watch_->fd());
  if (settle_ != 0) loop_.CancelTimer(settle_);
}

Status PolicyStore::Start() {
  Result<PolicyWatch> watch = PolicyWatch::Open(sources_, LoadReport{});
  if (!watch) return watch.error();
  watch_ = std::make_unique<PolicyWatch>(std::move(*watch));
  Reload();
  return loop_.Add(watch_->fd(), EPOLLIN, [this](std::uint32_t) { OnChange(); });
}

void PolicyStore::OnChange() {
  if (!watch_->Drain() || settle_ != 0) return;
  settle_ = loop_.AddTimer(kSettle, [this] {
    settle_ = 0;
    Reload();
  });
}

void PolicyStore::Reload() {
  // Watch what exists now before reading it: a file written in between is
  // then seen by a later event rather than lost.
  watch_->Rewatch(sources_, last_);
  const LoadReport report = LoadPolicySources(sources_, policy_);
  watch_->Rewatch(sources_, report);
  Report(report);
  last_ = report;
  loaded_once_ = true;
}

// One load's outcome in the log; what the previous load said already is not
// said again.
void PolicyStore::Report(const LoadReport& report) {
  const std::string what = loaded_once_ ? "reload" : "load";
  const auto is_new = [this](const std::vector<std::string>& before, const std::string& line) {
    return !loaded_once_ || std::find(before.begin(), before.end(), line) == before.end();
  };
  for (const std::string& warning : report.warnings)
    if (is_new(last_.warnings, warning)) log_.Warning("policy file skipped: " + warning);
  for (const std::string& error : report.vm_errors)
    if (is_new(last_.vm_errors, error))
      log_.Warning("VM definition error: " + error + "; that VM is unknown until it is fixed");
  if (report.ok()) {
    log_.Info("policy " + what + "ed: " + std::to_string(report.rules) + " rules from " +
              std::to_string(report.files.size()) + " files");
    return;
  }
  if (loaded_once_ && report.errors == last_.errors) return;
  for (const std::string& error : report.errors) log_.Warning("policy error: " + error);
  log_.Error(InvalidError(what + " the policy", CountErrors(report.errors.size()) +
                                                    "; every call is denied until fixed"));
}

Evaluation EvaluateOnce(const PolicySources& sources, const std::string& source,
                        const std::string& target, const std::string& call) {
  Evaluation evaluation;
  Policy policy;
  evaluation.report = LoadPolicySources(sources, policy);
  PolicyRequest request = SplitServiceArgument(call);
  request.source = source;
  request.target = target;
  evaluation.decision = policy.Evaluate(request);
  return evaluation;
}

LoadReport CheckPolicy(const PolicySources& sources, std::vector<Rule>& rules) {
  Policy policy;
  return LoadPolicySources(sources, policy, &rules);
}

}  // namespace qmin
