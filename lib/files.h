// Small whole-file reads with a size cap, for /proc, /sys and config files.
#ifndef QMIN_LIB_FILES_H_
#define QMIN_LIB_FILES_H_

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "error.h"

namespace qmin {

/// Reads at most `max_size` bytes; a longer file is an error (exit 100), so a
/// hostile or broken file cannot make us allocate without bound.
Result<std::string> ReadSmallFile(const std::string& path, std::size_t max_size);

/// `root` + `path` for an absolute `path`; `root` "/" or "" leaves it alone.
std::string UnderRoot(const std::string& root, const std::string& path);

/// Writes `content` to a temporary file beside `path` and renames it over
/// `path`: readers see the old file or the new one, never half of one.
Status WriteFileAtomic(const std::string& path, const std::string& content, mode_t mode = 0644);

/// Writes `value` to an existing file such as a sysctl, in one write().
Status WriteExisting(const std::string& path, const std::string& value);

/// Whether `fd` is a socket (false for a closed fd).
bool IsSocket(int fd);

/// Whether `path` is a directory (or a link to one).
bool IsDirectory(const std::string& path);

/// Whether two descriptors lead to the same open file (inode), as a dup or
/// an inherited copy of one socket do.
bool SameOpenFile(int a, int b);

/// An exclusive flock(2) on a lock file, released on destruction.
class FileLock {
 public:
  /// Waits up to `timeout_ms` (sleeping between tries, never spinning).
  static Result<FileLock> Acquire(const std::string& path, int timeout_ms);
  FileLock(FileLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
    other.fd_ = -1;
  }
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  ~FileLock();

  /// Removes the lock file while holding it. Safe: Acquire() checks that the
  /// file it locked is still the one at the path.
  void Unlink() const;

 private:
  FileLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace qmin

#endif  // QMIN_LIB_FILES_H_
