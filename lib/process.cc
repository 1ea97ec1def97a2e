#include "process.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>

#include "files.h"
#include "text.h"

namespace qmin {
namespace {

constexpr std::size_t kMaxAccountFile = 4 << 20;
constexpr std::size_t kMaxPrinted = 64 * 1024;

std::optional<Account> FindInPasswd(const std::string& passwd, const std::string& name) {
  for (std::string_view line : Split(passwd, '\n')) {
    const std::vector<std::string_view> fields = Split(line, ':');
    if (fields.size() < 7 || fields[0] != name) continue;
    const auto uid = ParseUnsigned(fields[2], 0xfffffffe);
    const auto gid = ParseUnsigned(fields[3], 0xfffffffe);
    if (!uid || !gid) return std::nullopt;
    return Account{name,
                   static_cast<uid_t>(*uid),
                   static_cast<gid_t>(*gid),
                   std::string(fields[5]),
                   std::string(fields[6]),
                   {static_cast<gid_t>(*gid)}};
  }
  return std::nullopt;
}

void AddGroups(const std::string& group_file, Account& account) {
  for (std::string_view line : Split(group_file, '\n')) {
    const std::vector<std::string_view> fields = Split(line, ':');
    if (fields.size() < 4) continue;
    for (std::string_view member : Split(fields[3], ','))
      if (member == account.name)
        if (const auto gid = ParseUnsigned(fields[2], 0xfffffffe))
          account.groups.push_back(static_cast<gid_t>(*gid));
  }
}

// Words as the exec family takes them: pointers into `words`, then nullptr.
std::vector<char*> PointersTo(const std::vector<std::string>& words) {
  std::vector<char*> pointers;
  pointers.reserve(words.size() + 1);
  for (const std::string& word : words) pointers.push_back(const_cast<char*>(word.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

// What the child does before its exec, as posix_spawn's file actions: `fds`
// onto 0-2. A source that is itself 0-2 is first copied above 2 here (into
// `moved`, for the caller to close), so that no dup2 overwrites another's source.
Status PlanDescriptors(const std::array<int, 3>& fds, posix_spawn_file_actions_t& actions,
                       std::vector<int>& moved) {
  for (int target = 0; target < 3; ++target) {
    int source = fds[static_cast<std::size_t>(target)];
    if (source < 0) {
      if (posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_RDWR, 0) != 0)
        return SystemError("plan a child's descriptors", ENOMEM);
      continue;
    }
    if (source < 3) {
      source = fcntl(source, F_DUPFD_CLOEXEC, 3);
      if (source < 0) return SystemError("plan a child's descriptors", errno);
      moved.push_back(source);
    }
    if (posix_spawn_file_actions_adddup2(&actions, source, target) != 0)
      return SystemError("plan a child's descriptors", ENOMEM);
  }
  return {};
}

// A fresh process's signal state: nothing blocked, every handler at its default.
void PlanSignals(posix_spawnattr_t& attributes, bool new_session) {
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (new_session) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&attributes, flags);
}

}  // namespace

Result<Account> LookUpAccount(const std::string& name, const std::string& root) {
  Result<std::string> passwd = ReadSmallFile(root + "/etc/passwd", kMaxAccountFile);
  if (!passwd) return passwd.error();
  std::optional<Account> account = FindInPasswd(*passwd, name);
  if (!account)
    return Error{ExitCode::kRefused, "find user " + QuoteForMessage(name), "no such user", 0};
  if (Result<std::string> groups = ReadSmallFile(root + "/etc/group", kMaxAccountFile))
    AddGroups(*groups, *account);
  return *account;
}

Status BecomeAccount(const Account& account) {
  if (geteuid() == account.uid) return {};
  if (geteuid() != 0) return SystemError("become " + account.name, EPERM, ExitCode::kCannotExec);
  if (setgroups(account.groups.size(), account.groups.data()) != 0 ||
      setresgid(account.gid, account.gid, account.gid) != 0 ||
      setresuid(account.uid, account.uid, account.uid) != 0)
    return SystemError("become " + account.name, errno, ExitCode::kCannotExec);
  // A missing home is no reason to refuse.
  if (chdir(account.home.c_str()) != 0 && chdir("/") != 0)
    return SystemError("enter / as " + account.name, errno, ExitCode::kCannotExec);
  return {};
}

// posix_spawn rather than fork: the child shares our memory until its exec
// (glibc's vfork-style clone), so no page table is copied, which on a Xen PV
// guest is the dearest part of starting a process; and a failed exec comes
// back as its return value.
Result<pid_t> Spawn(const SpawnOptions& options) {
  const std::string what =
      "run " + (options.argv.empty() ? std::string("nothing") : options.argv[0]);
  if (options.argv.empty()) return InvalidError(what, "no program");
  const std::vector<char*> argv = PointersTo(options.argv);
  std::vector<char*> env;
  if (options.env) env = PointersTo(*options.env);
  char** envp = options.env ? env.data() : environ;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  if (posix_spawn_file_actions_init(&actions) != 0) return SystemError(what, ENOMEM);
  posix_spawnattr_init(&attributes);
  PlanSignals(attributes, options.new_session);
  std::vector<int> moved;
  pid_t pid = -1;
  int failure = 0;
  if (Status planned = PlanDescriptors(options.fds, actions, moved); !planned) {
    failure = planned.error().errnum;
  } else {
    failure = options.search_path
                  ? posix_spawnp(&pid, argv[0], &actions, &attributes, argv.data(), envp)
                  : posix_spawn(&pid, argv[0], &actions, &attributes, argv.data(), envp);
  }
  for (int fd : moved) close(fd);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (failure != 0)
    return SystemError(what, failure,
                       failure == ENOENT ? ExitCode::kNotFound : ExitCode::kCannotExec);
  return pid;
}

int ExitStatusOf(int wait_status) {
  if (WIFSIGNALED(wait_status)) return kSignalExitBase + WTERMSIG(wait_status);
  return WEXITSTATUS(wait_status);
}

void UnblockSignals() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

void CloseDescriptorsFrom(int first) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, static_cast<unsigned>(first), ~0U, 0U) == 0) return;
#endif
  const long limit = sysconf(_SC_OPEN_MAX);
  for (long fd = first; fd < (limit > 0 ? limit : 1024); ++fd) close(static_cast<int>(fd));
}

namespace {

// A descriptor that becomes readable when `pid` ends, or -1 where the
// kernel has none (before Linux 5.3): the caller then looks every 50 ms.
int EndOf(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

// Reads what is there; false once the writers have all closed it.
bool Drain(int fd, std::string& printed) {
  char buffer[4096];
  for (;;) {
    const ssize_t got = read(fd, buffer, sizeof buffer);
    if (got > 0 && printed.size() < kMaxPrinted)
      printed.append(buffer, static_cast<std::size_t>(got));
    if (got == 0) return false;
    if (got < 0) return errno == EAGAIN || errno == EINTR;
  }
}

}  // namespace

Result<Finished> RunBounded(SpawnOptions options, std::chrono::milliseconds limit) {
  int out[2];
  if (pipe2(out, O_CLOEXEC | O_NONBLOCK) != 0) return SystemError("run " + options.argv[0], errno);
  options.fds[1] = out[1];
  options.new_session = true;
  Result<pid_t> pid = Spawn(options);
  close(out[1]);
  if (!pid) {
    close(out[0]);
    return pid.error();
  }
  Finished finished;
  const int end = EndOf(*pid);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  bool open = true, ended = false;
  while (open || !ended) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(-*pid, SIGKILL);
      finished.killed = true;
      break;
    }
    pollfd ready[2] = {{open ? out[0] : -1, POLLIN, 0}, {ended ? -1 : end, POLLIN, 0}};
    const long wait = end < 0 && !ended ? std::min<long>(left.count(), 50) : left.count();
    poll(ready, 2, static_cast<int>(wait));
    if (open && ready[0].revents != 0) open = Drain(out[0], finished.printed);
    if (!ended) ended = waitpid(*pid, &status, WNOHANG) == *pid;
  }
  close(out[0]);
  if (end >= 0) close(end);
  if (!ended) waitpid(*pid, &status, 0);
  finished.status = ExitStatusOf(status);
  return finished;
}

}  // namespace qmin
