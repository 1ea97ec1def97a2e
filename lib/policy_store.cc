#include "policy_store.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "vm_facts.h"

namespace qmin {
namespace {

constexpr std::uint32_t kWatchMask = IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                                     IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;

// The policy directories, the VM directory, and the directories of included
// files: any change there may change a decision.
std::set<std::string> WatchedDirs(const PolicySources& sources, const LoadReport& report) {
  std::set<std::string> dirs(sources.policy_dirs.begin(), sources.policy_dirs.end());
  dirs.insert(sources.vm_dir);
  for (const std::string& file : report.files) dirs.insert(file.substr(0, file.rfind('/')));
  return dirs;
}

}  // namespace

LoadReport LoadPolicySources(const PolicySources& sources, Policy& policy,
                             std::vector<Rule>* rules_out) {
  LoadReport report;
  ParsedPolicy parsed = LoadPolicy(sources.policy_dirs, {}, sources.legacy_dir);
  for (const PolicyError& error : parsed.errors) report.errors.push_back(FormatPolicyError(error));
  VmLoad vms = LoadVmFacts(sources.vm_dir);
  for (const std::string& error : vms.errors) report.errors.push_back(error);
  report.rules = parsed.rules.size();
  report.files = parsed.files;
  if (rules_out != nullptr) *rules_out = parsed.rules;
  policy = report.ok() ? Policy(std::move(parsed.rules), std::move(vms.vms)) : Policy();
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
  std::set<int> kept;
  for (const std::string& dir : WatchedDirs(sources, report)) {
    // A directory that does not exist yet cannot be watched; SIGHUP covers it.
    const int watch = inotify_add_watch(fd_, dir.c_str(), kWatchMask);
    if (watch >= 0) kept.insert(watch);
  }
  for (int watch : watches_)
    if (!kept.contains(watch)) inotify_rm_watch(fd_, watch);
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
      // Removing a watch queues IN_IGNORED for it: not a change of the policy.
      if ((event->mask & IN_IGNORED) == 0) changed = true;
      at += sizeof(inotify_event) + event->len;
    }
  }
}

}  // namespace qmin
