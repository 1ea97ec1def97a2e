#include "files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
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

Status WriteFileAtomic(const std::string& path, const std::string& content, mode_t mode) {
  const std::string temporary = path + ".new." + std::to_string(getpid());
  const int fd =
      open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return SystemError("write " + path, errno);
  const bool written =
      write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  const int saved = errno;
  if (close(fd) != 0 || !written || rename(temporary.c_str(), path.c_str()) != 0) {
    const int failure = written ? errno : saved;
    unlink(temporary.c_str());
    return SystemError("write " + path, failure != 0 ? failure : EIO);
  }
  return {};
}

Status WriteExisting(const std::string& path, const std::string& value) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return SystemError("write " + path, errno);
  const bool written = write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  const int saved = errno;
  close(fd);
  if (!written) return SystemError("write " + path, saved != 0 ? saved : EIO);
  return {};
}

Result<FileLock> FileLock::Acquire(const std::string& path, int timeout_ms) {
  for (int waited = 0;; waited += 50) {
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return SystemError("lock " + path, errno);
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      // The holder before us may have unlinked the file: then we locked an
      // orphan, and must start again on the file now at the path.
      struct stat held {
      }, current{};
      if (fstat(fd, &held) == 0 && stat(path.c_str(), &current) == 0 &&
          held.st_ino == current.st_ino && held.st_dev == current.st_dev)
        return FileLock(fd, path);
    } else if (errno != EWOULDBLOCK) {
      const int saved = errno;
      close(fd);
      return SystemError("lock " + path, saved);
    }
    close(fd);
    if (waited >= timeout_ms) return SystemError("lock " + path, ETIMEDOUT);
    const timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
}

void FileLock::Unlink() const { unlink(path_.c_str()); }

FileLock::~FileLock() {
  if (fd_ >= 0) close(fd_);
}

bool IsSocket(int fd) {
  struct stat st {};
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool SameOpenFile(int a, int b) {
  struct stat first {};
  struct stat second {};
  if (fstat(a, &first) != 0 || fstat(b, &second) != 0) return false;
  return first.st_dev == second.st_dev && first.st_ino == second.st_ino;
}

}  // namespace qmin
