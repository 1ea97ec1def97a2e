#include "qrx_ask.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>

#include "process.h"

namespace qmin::qrx {
namespace {

constexpr std::size_t kMaxAnswer = 256;

}  // namespace

AskProgram::AskProgram(EventLoop& loop, Log& log, std::string path, std::chrono::seconds patience)
    : loop_(loop), log_(log), path_(std::move(path)), patience_(patience) {}

AskProgram::~AskProgram() {
  for (auto& [pid, question] : questions_) {
    loop_.Remove(question.fd);
    close(question.fd);
    loop_.CancelTimer(question.deadline);
    kill(pid, SIGKILL);
  }
}

void AskProgram::Ask(const std::string& source, const std::vector<std::string>& targets,
                     const std::string& default_target, const std::string& service, Answer answer) {
  std::string list;
  for (const std::string& target : targets) list += (list.empty() ? "" : ",") + target;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    log_.Warning(SystemError("ask " + path_, errno));
    return answer("");
  }
  SpawnOptions options;
  options.argv = {path_, source, list, default_target, service};
  options.fds = {-1, pipe_fds[1], 2};
  Result<pid_t> pid = Spawn(options);
  close(pipe_fds[1]);
  if (!pid) {
    close(pipe_fds[0]);
    log_.Warning(pid.error());
    return answer("");
  }
  Question& question = questions_[*pid];
  question.fd = pipe_fds[0];
  question.targets = targets;
  question.answer = std::move(answer);
  question.deadline = loop_.AddTimer(patience_, [pid = *pid] { kill(pid, SIGKILL); });
  if (!loop_.Add(question.fd, EPOLLIN, [this, pid = *pid](std::uint32_t) { Read(pid); }))
    kill(*pid, SIGKILL);
}

void AskProgram::Read(pid_t pid) {
  auto it = questions_.find(pid);
  if (it == questions_.end()) return;
  char buffer[kMaxAnswer];
  ssize_t got = 0;
  while ((got = read(it->second.fd, buffer, sizeof buffer)) > 0)
    if (it->second.output.size() < kMaxAnswer)
      it->second.output.append(buffer, static_cast<std::size_t>(got));
  if (got == 0) loop_.Remove(it->second.fd);  // the end: wait for the exit
}

bool AskProgram::Reaped(pid_t pid, int status) {
  auto it = questions_.find(pid);
  if (it == questions_.end()) return false;
  Read(pid);
  Question question = std::move(it->second);
  questions_.erase(it);
  loop_.Remove(question.fd);
  close(question.fd);
  loop_.CancelTimer(question.deadline);
  const std::string chosen = question.output.substr(0, question.output.find('\n'));
  const bool allowed =
      ExitStatusOf(status) == 0 &&
      std::find(question.targets.begin(), question.targets.end(), chosen) != question.targets.end();
  question.answer(allowed ? chosen : "");
  return true;
}

}  // namespace qmin::qrx
