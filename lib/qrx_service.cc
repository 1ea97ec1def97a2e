#include "qrx_service.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "files.h"
#include "qrx_proto.h"
#include "text.h"
#include "unix_socket.h"

namespace qmin::qrx {
namespace {

constexpr char kRpcCommand[] = "QUBESRPC";

bool IsUserName(std::string_view name) {
  return !name.empty() && name.size() < 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

void NonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// A user from /etc/passwd and its groups from /etc/group, read directly:
// glibc's getpwnam() in a static binary needs NSS modules at run time, which
// a musl VM does not have.
struct Account {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  std::vector<gid_t> groups;
};

std::optional<Account> LookUp(const std::string& user) {
  Result<std::string> passwd = ReadSmallFile("/etc/passwd", 4 << 20);
  if (!passwd) return std::nullopt;
  std::optional<Account> account;
  for (std::string_view line : Split(*passwd, '\n')) {
    const std::vector<std::string_view> fields = Split(line, ':');
    if (fields.size() < 7 || fields[0] != user) continue;
    const auto uid = ParseUnsigned(fields[2], 0xfffffffe);
    const auto gid = ParseUnsigned(fields[3], 0xfffffffe);
    if (!uid || !gid) return std::nullopt;
    account =
        Account{static_cast<uid_t>(*uid), static_cast<gid_t>(*gid), std::string(fields[5]), {}};
    break;
  }
  if (!account) return std::nullopt;
  account->groups.push_back(account->gid);
  if (Result<std::string> group = ReadSmallFile("/etc/group", 4 << 20)) {
    for (std::string_view line : Split(*group, '\n')) {
      const std::vector<std::string_view> fields = Split(line, ':');
      if (fields.size() < 4) continue;
      for (std::string_view member : Split(fields[3], ','))
        if (member == user)
          if (const auto gid = ParseUnsigned(fields[2], 0xfffffffe))
            account->groups.push_back(static_cast<gid_t>(*gid));
    }
  }
  return account;
}

// In the child: become `user` when we may, and must.
bool SwitchUser(const std::string& user) {
  if (user.empty()) return true;
  const std::optional<Account> account = LookUp(user);
  if (!account) return false;
  if (geteuid() == account->uid) return true;
  if (geteuid() != 0) return false;
  if (setgroups(account->groups.size(), account->groups.data()) != 0 || setgid(account->gid) != 0 ||
      setuid(account->uid) != 0)
    return false;
  if (chdir(account->home.c_str()) != 0 && chdir("/") != 0)
    return false;  // a missing home is no reason to refuse
  return true;
}

}  // namespace

Result<ServiceCall> ParseServiceCommand(std::string_view cmdline) {
  const auto bad = [&](const char* why) { return InvalidError("run the command of a call", why); };
  const std::size_t colon = cmdline.find(':');
  if (colon == std::string_view::npos) return bad("no user");
  ServiceCall call;
  call.user = cmdline.substr(0, colon);
  if (!IsUserName(call.user)) return bad("invalid user");
  std::string_view rest = cmdline.substr(colon + 1);
  if (rest.rfind(std::string(kRpcCommand) + " ", 0) != 0) return bad("not a QUBESRPC command");
  rest.remove_prefix(sizeof kRpcCommand);
  const std::size_t space = rest.find(' ');
  if (space == std::string_view::npos) return bad("no source");
  call.service = rest.substr(0, space);
  call.source = rest.substr(space + 1);
  if (!IsValidServiceName(call.service)) return bad("invalid service name");
  if (!IsValidDomainName(call.source)) return bad("invalid source");
  return call;
}

std::string FormatServiceCommand(const ServiceCall& call) {
  return call.user + ":" + kRpcCommand + " " + call.service + " " + call.source;
}

std::optional<FoundService> FindService(const std::vector<std::string>& dirs,
                                        const std::string& service) {
  const std::size_t plus = service.find('+');
  std::vector<std::string> names = {service};
  if (plus != std::string::npos) names.push_back(service.substr(0, plus));
  for (const std::string& dir : dirs) {
    for (const std::string& name : names) {
      const std::string path = dir + "/" + name;
      struct stat st {};
      if (stat(path.c_str(), &st) != 0) continue;
      if (S_ISSOCK(st.st_mode)) return FoundService{path, true};
      if (S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0) return FoundService{path, false};
    }
  }
  return std::nullopt;
}

Result<Spawned> SpawnService(const FoundService& found, const ServiceCall& call) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return SystemError("run " + found.path, errno);
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    return SystemError("run " + found.path, errno);
  const std::size_t plus = call.service.find('+');
  const std::string argument = plus == std::string::npos ? "" : call.service.substr(plus + 1);
  const pid_t pid = fork();
  if (pid < 0) return SystemError("run " + found.path, errno);
  if (pid == 0) {
    // The daemon blocks and ignores signals for its own loop; a service starts clean.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    if (!SwitchUser(call.user)) _exit(126);
    setenv("QREXEC_REMOTE_DOMAIN", call.source.c_str(), 1);
    setenv("QREXEC_SERVICE_FULL_NAME", call.service.c_str(), 1);
    if (!argument.empty()) setenv("QREXEC_SERVICE_ARGUMENT", argument.c_str(), 1);
    const std::string agent_pid = std::to_string(getppid());
    setenv("QREXEC_AGENT_PID", agent_pid.c_str(), 1);
    if (argument.empty()) {
      execl(found.path.c_str(), found.path.c_str(), static_cast<char*>(nullptr));
    } else {
      execl(found.path.c_str(), found.path.c_str(), argument.c_str(), static_cast<char*>(nullptr));
    }
    _exit(errno == ENOENT ? 127 : 126);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  for (int fd : {in[1], out[0], err[0]}) NonBlocking(fd);
  return Spawned{pid, in[1], out[0], err[0]};
}

Result<int> ConnectSocketService(const FoundService& found, const ServiceCall& call) {
  Result<int> fd = ConnectUnix(found.path);
  if (!fd) return fd.error();
  const std::string header = call.service + " " + call.source + std::string(1, '\0');
  if (write(*fd, header.data(), header.size()) != static_cast<ssize_t>(header.size())) {
    const int saved = errno;
    close(*fd);
    return SystemError("write to " + found.path, saved);
  }
  NonBlocking(*fd);
  return *fd;
}

}  // namespace qmin::qrx
