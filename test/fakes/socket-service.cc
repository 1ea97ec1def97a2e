// socket-service: a qrexec socket service for tests. Listens on PATH; for
// each connection reads the "SERVICE+ARG SOURCE\0" header, answers
// "header=<it>", then echoes everything it receives, upper-cased.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <string>

#include "unix_socket.h"

int main(int argc, char** argv) {
  if (argc != 2) return 100;
  qmin::Result<int> listening = qmin::ListenUnix(argv[1], 0666);
  if (!listening) return 111;
  for (;;) {
    pollfd ready{*listening, POLLIN, 0};
    poll(&ready, 1, -1);  // the listener is non-blocking: sleep until a caller comes
    const int fd = accept4(*listening, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::string header;
    char c = 0;
    while (read(fd, &c, 1) == 1 && c != '\0') header.push_back(c);
    const std::string hello = "header=" + header + "\n";
    ssize_t ignored = write(fd, hello.data(), hello.size());
    char buffer[4096];
    ssize_t got = 0;
    while ((got = read(fd, buffer, sizeof buffer)) > 0) {
      for (ssize_t i = 0; i < got; ++i)
        buffer[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(buffer[i])));
      ignored = write(fd, buffer, static_cast<std::size_t>(got));
    }
    (void)ignored;
    close(fd);
  }
}
