#include "qrx_service.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "qrx_proto.h"
#include "text.h"
#include "unix_socket.h"

namespace qmin::qrx {
namespace {

constexpr std::string_view kRpcCommand = "QUBESRPC ";
constexpr std::string_view kNoGui = "nogui:";
constexpr char kServicePath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr std::size_t kMaxUserName = 63;

Error Bad(const char* why) { return InvalidError("run the command of a call", why); }

void NonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// "SERVICE+ARG SOURCE" or "SERVICE+ARG SOURCE TYPE TARGET", one space apart.
Status ParseRpcWords(std::string_view words, ServiceCommand& command) {
  const std::vector<std::string_view> tokens = Split(words, ' ');
  if (tokens.size() != 2 && tokens.size() != 4) return Bad("not SERVICE SOURCE [TYPE TARGET]");
  command.service = tokens[0];
  command.source = tokens[1];
  if (!IsValidServiceName(command.service)) return Bad("invalid service name");
  if (!IsValidDomainName(command.source)) return Bad("invalid source");
  if (tokens.size() == 4) {
    command.target_type = tokens[2];
    command.target = tokens[3];
    if (command.target_type != "name" && command.target_type != "keyword")
      return Bad("invalid target type");
    if (!IsValidDomainName(command.target)) return Bad("invalid target");
  }
  return {};
}

}  // namespace

std::vector<std::string> DefaultRpcDirs() { return {"/usr/local/etc/qubes-rpc", "/etc/qubes-rpc"}; }

Result<ServiceCommand> ParseServiceCommand(std::string_view cmdline) {
  const std::size_t colon = cmdline.find(':');
  if (colon == std::string_view::npos) return Bad("no user");
  ServiceCommand command;
  command.user = cmdline.substr(0, colon);
  if (command.user.size() > kMaxUserName || !IsNameText(command.user)) return Bad("invalid user");
  std::string_view rest = cmdline.substr(colon + 1);
  if (rest.rfind(kNoGui, 0) == 0) rest.remove_prefix(kNoGui.size());  // no GUI here anyway
  if (rest.rfind(kRpcCommand, 0) == 0) {
    if (Status status = ParseRpcWords(rest.substr(kRpcCommand.size()), command); !status)
      return status.error();
    return command;
  }
  if (rest.rfind(kRpcCommand.substr(0, kRpcCommand.size() - 1), 0) == 0)
    return Bad("QUBESRPC without a space");
  if (rest.empty()) return Bad("an empty command");
  command.shell = rest;
  return command;
}

std::string FormatServiceCommand(const ServiceCommand& command) {
  return command.user + ":" + std::string(kRpcCommand) + command.service + " " + command.source;
}

std::optional<FoundService> FindService(const std::vector<std::string>& dirs,
                                        const std::string& service) {
  std::vector<std::string> names = {service};
  if (const std::size_t plus = service.find('+'); plus != std::string::npos)
    names.push_back(service.substr(0, plus));
  for (const std::string& name : names) {
    for (const std::string& dir : dirs) {
      const std::string path = dir + "/" + name;
      struct stat st {};
      if (lstat(path.c_str(), &st) != 0) continue;
      if (stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
        return FoundService{path, FoundService::Kind::kSocket};
      const bool runs =
          stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
      return FoundService{path,
                          runs ? FoundService::Kind::kExecutable : FoundService::Kind::kUnusable};
    }
  }
  return std::nullopt;
}

std::vector<std::string> ServiceEnvironment(const ServiceCommand& command, const Account& account,
                                            const std::vector<std::string>& rpc_dirs,
                                            pid_t call_pid) {
  std::string search;
  for (const std::string& dir : rpc_dirs) search += (search.empty() ? "" : ":") + dir;
  std::vector<std::string> env = {
      "HOME=" + account.home,
      "USER=" + account.name,
      "LOGNAME=" + account.name,
      "SHELL=" + (account.shell.empty() ? "/bin/sh" : account.shell),
      kServicePath,
      "QREXEC_AGENT_PID=" + std::to_string(call_pid),
  };
  if (!command.shell.empty()) return env;
  env.push_back("QREXEC_REMOTE_DOMAIN=" + command.source);
  env.push_back("QREXEC_SERVICE_FULL_NAME=" + command.service);
  env.push_back("QREXEC_SERVICE_PATH=" + search);
  if (const std::size_t plus = command.service.find('+'); plus != std::string::npos)
    env.push_back("QREXEC_SERVICE_ARGUMENT=" + command.service.substr(plus + 1));
  env.push_back("QREXEC_REQUESTED_TARGET_TYPE=" + command.target_type);
  if (command.target_type == "name") env.push_back("QREXEC_REQUESTED_TARGET=" + command.target);
  if (command.target_type == "keyword")
    env.push_back("QREXEC_REQUESTED_TARGET_KEYWORD=" + command.target);
  return env;
}

std::vector<std::string> ServiceArgv(const ServiceCommand& command, const FoundService* found) {
  if (!command.shell.empty()) return {"/bin/sh", "-c", command.shell};
  std::vector<std::string> argv = {found->path};
  const std::size_t plus = command.service.find('+');
  if (plus != std::string::npos && plus + 1 < command.service.size())
    argv.push_back(command.service.substr(plus + 1));
  return argv;
}

Result<ServiceProcess> StartService(const std::vector<std::string>& argv,
                                    const std::vector<std::string>& env) {
  int pairs[3][2];
  for (int i = 0; i < 3; ++i) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pairs[i]) != 0) {
      const int saved = errno;
      for (int j = 0; j < i; ++j) close(pairs[j][0]), close(pairs[j][1]);
      return SystemError("run " + argv[0], saved);
    }
  }
  SpawnOptions options;
  options.argv = argv;
  options.env = env;
  options.fds = {pairs[0][1], pairs[1][1], pairs[2][1]};
  Result<pid_t> pid = Spawn(options);
  for (auto& pair : pairs) close(pair[1]);
  if (!pid) {
    for (auto& pair : pairs) close(pair[0]);
    return pid.error();
  }
  // The service only writes to stdout and stderr: our ends only read.
  shutdown(pairs[1][0], SHUT_WR);
  shutdown(pairs[2][0], SHUT_WR);
  for (auto& pair : pairs) NonBlocking(pair[0]);
  return ServiceProcess{*pid, pairs[0][0], pairs[1][0], pairs[2][0]};
}

Result<int> ConnectSocketService(const FoundService& found, const ServiceCommand& command) {
  Result<int> fd = ConnectUnix(found.path);
  if (!fd) return fd.error();
  const std::string header = command.service + " " + command.source + std::string(1, '\0');
  if (write(*fd, header.data(), header.size()) != static_cast<ssize_t>(header.size())) {
    const int saved = errno;
    close(*fd);
    return SystemError("write to " + found.path, saved);
  }
  NonBlocking(*fd);
  return *fd;
}

}  // namespace qmin::qrx
