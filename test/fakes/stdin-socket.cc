// stdin-socket: runs a program with one end of a socket pair as its standard
// input (and /dev/null as its output), feeds it our standard input through
// the other end, shuts that direction, and prints what comes back on the
// socket. Exits with the program's status. For qrx-call --use-stdin-socket.
//   stdin-socket PROGRAM [ARGS...]
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "process.h"

int main(int argc, char** argv) {
  if (argc < 2) return 100;
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return 111;
  qmin::SpawnOptions options;
  options.argv.assign(argv + 1, argv + argc);
  options.fds = {pair[1], -1, 2};
  qmin::Result<pid_t> pid = qmin::Spawn(options);
  close(pair[1]);
  if (!pid) return 127;
  char buffer[4096];
  ssize_t got = 0;
  while ((got = read(0, buffer, sizeof buffer)) > 0)
    if (write(pair[0], buffer, static_cast<std::size_t>(got)) != got) break;
  shutdown(pair[0], SHUT_WR);
  while ((got = read(pair[0], buffer, sizeof buffer)) > 0)
    if (write(1, buffer, static_cast<std::size_t>(got)) != got) break;
  int status = 0;
  waitpid(*pid, &status, 0);
  return qmin::ExitStatusOf(status);
}
