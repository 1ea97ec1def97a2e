#include "xl_jobs.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "process.h"

namespace qmin {
namespace {

constexpr std::size_t kMaxSaid = 64 * 1024;

}  // namespace

XlJobs::~XlJobs() {
  for (auto& [pid, job] : jobs_) {
    loop_.Remove(job.fd);
    close(job.fd);
  }
}

Result<pid_t> XlJobs::Run(const std::vector<std::string>& args, Done done) {
  int errors[2];
  if (pipe2(errors, O_CLOEXEC | O_NONBLOCK) != 0) return SystemError("run " + xl_, errno);
  SpawnOptions options;
  options.argv = {xl_};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.fds = {-1, -1, errors[1]};
  Result<pid_t> pid = Spawn(options);
  close(errors[1]);
  if (!pid) {
    close(errors[0]);
    return pid.error();
  }
  jobs_[*pid] = Job{errors[0], "", std::move(done)};
  if (!loop_.Add(errors[0], EPOLLIN, [this, pid = *pid](std::uint32_t) { Read(pid); }))
    kill(*pid, SIGKILL);
  return *pid;
}

void XlJobs::Read(pid_t pid) {
  auto it = jobs_.find(pid);
  if (it == jobs_.end()) return;
  char buffer[4096];
  ssize_t got = 0;
  while ((got = read(it->second.fd, buffer, sizeof buffer)) > 0)
    if (it->second.said.size() < kMaxSaid)
      it->second.said.append(buffer, static_cast<std::size_t>(got));
  if (got == 0) loop_.Remove(it->second.fd);
}

bool XlJobs::Reaped(pid_t pid, int status) {
  auto it = jobs_.find(pid);
  if (it == jobs_.end()) return false;
  Read(pid);
  Job job = std::move(it->second);
  jobs_.erase(it);
  loop_.Remove(job.fd);
  close(job.fd);
  job.done(ExitStatusOf(status), job.said);
  return true;
}

}  // namespace qmin
