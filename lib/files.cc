#include "files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace qmin {

Result<std::string> ReadSmallFile(const std::string& path, std::size_t max_size) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return SystemError("read " + path, errno);
  std::string content;
  char buffer[4096];
  for (;;) {
    const ssize_t got = read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int saved = errno;
      close(fd);
      return SystemError("read " + path, saved);
    }
    if (got == 0) break;
    if (content.size() + static_cast<std::size_t>(got) > max_size) {
      close(fd);
      return InvalidError("read " + path, "larger than " + std::to_string(max_size) + " bytes");
    }
    content.append(buffer, static_cast<std::size_t>(got));
  }
  close(fd);
  return content;
}

std::string UnderRoot(const std::string& root, const std::string& path) {
  std::string joined = root;
  while (!joined.empty() && joined.back() == '/') joined.pop_back();
  return joined + path;
}

}  // namespace qmin
