#include "process.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "files.h"
#include "text.h"

namespace qmin {
namespace {

constexpr std::size_t kMaxAccountFile = 4 << 20;

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

// In the child: put `from` on `to`. A source that is itself 0-2 was moved
// above 2 first, so no dup2 overwrites another's source.
bool PlaceDescriptors(const std::array<int, 3>& fds) {
  std::array<int, 3> high{};
  for (int i = 0; i < 3; ++i) {
    const int source = fds[i] >= 0 ? fds[i] : open("/dev/null", O_RDWR | O_CLOEXEC);
    if (source < 0) return false;
    high[i] = fcntl(source, F_DUPFD_CLOEXEC, 3);
    if (high[i] < 0) return false;
  }
  for (int i = 0; i < 3; ++i)
    if (dup2(high[i], i) != i) return false;
  return true;
}

[[noreturn]] void ExecChild(const SpawnOptions& options, int report) {
  ResetSignals();
  if (options.new_session) setsid();
  int failure = 0;
  if (!PlaceDescriptors(options.fds)) failure = errno;
  if (failure == 0 && options.account != nullptr) {
    if (Status became = BecomeAccount(*options.account); !became) failure = became.error().errnum;
  }
  if (failure == 0) {
    std::vector<char*> argv;
    for (const std::string& word : options.argv) argv.push_back(const_cast<char*>(word.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> env;
    if (options.env) {
      for (const std::string& entry : *options.env) env.push_back(const_cast<char*>(entry.c_str()));
      env.push_back(nullptr);
    }
    char** envp = options.env ? env.data() : environ;
    if (options.search_path) {
      execvpe(argv[0], argv.data(), envp);
    } else {
      execve(argv[0], argv.data(), envp);
    }
    failure = errno;
  }
  // The parent reads why; the pipe closes unread on a successful exec.
  ssize_t ignored = write(report, &failure, sizeof failure);
  (void)ignored;
  _exit(127);
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

Result<pid_t> Spawn(const SpawnOptions& options) {
  const std::string what =
      "run " + (options.argv.empty() ? std::string("nothing") : options.argv[0]);
  if (options.argv.empty()) return InvalidError(what, "no program");
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return SystemError(what, errno);
  const pid_t pid = fork();
  if (pid < 0) {
    const int saved = errno;
    close(report[0]);
    close(report[1]);
    return SystemError(what, saved);
  }
  if (pid == 0) ExecChild(options, report[1]);
  close(report[1]);
  int failure = 0;
  ssize_t got = 0;
  do {
    got = read(report[0], &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  close(report[0]);
  if (got != static_cast<ssize_t>(sizeof failure)) return pid;  // it runs
  waitpid(pid, nullptr, 0);
  return SystemError(what, failure,
                     failure == ENOENT ? ExitCode::kNotFound : ExitCode::kCannotExec);
}

int ExitStatusOf(int wait_status) {
  if (WIFSIGNALED(wait_status)) return kSignalExitBase + WTERMSIG(wait_status);
  return WEXITSTATUS(wait_status);
}

void ResetSignals() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int signo = 1; signo < NSIG; ++signo)
    if (signo != SIGKILL && signo != SIGSTOP) signal(signo, SIG_DFL);
}

void CloseDescriptorsFrom(int first) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, static_cast<unsigned>(first), ~0U, 0U) == 0) return;
#endif
  const long limit = sysconf(_SC_OPEN_MAX);
  for (long fd = first; fd < (limit > 0 ? limit : 1024); ++fd) close(static_cast<int>(fd));
}

}  // namespace qmin
