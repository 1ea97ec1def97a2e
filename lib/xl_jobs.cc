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
    loop_.CancelTimer(job.deadline);
  }
}

Result<pid_t> XlJobs::Run(const std::vector<std::string>& args, Done done,
                          std::chrono::seconds limit) {
  int errors[2];
  if (pipe2(errors, O_CLOEXEC | O_NONBLOCK) != 0) return SystemError("run " + xl_, errno);
  SpawnOptions options;
  options.argv = {xl_};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.fds = {-1, -1, errors[1]};
  options.new_session = true;  // its own process group, to kill it whole
  Result<pid_t> pid = Spawn(options);
  close(errors[1]);
  if (!pid) {
    close(errors[0]);
    return pid.error();
  }
  Job& job = jobs_[*pid];
  job.fd = errors[0];
  job.done = std::move(done);
  job.limit = limit;
  job.deadline = loop_.AddTimer(limit, [this, pid = *pid] { Kill(pid); });
  if (!loop_.Add(errors[0], EPOLLIN, [this, pid = *pid](std::uint32_t) { Read(pid); })) Kill(*pid);
  return *pid;
}

void XlJobs::Kill(pid_t pid) {
  auto it = jobs_.find(pid);
  if (it == jobs_.end() || it->second.killed) return;
  it->second.killed = true;
  kill(-pid, SIGKILL);
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
  loop_.CancelTimer(job.deadline);
  if (job.killed)
    job.said +=
        "\nxl: error: killed: it had not ended within " + std::to_string(job.limit.count()) + " s";
  job.done(ExitStatusOf(status), job.said);
  return true;
}

}  // namespace qmin
