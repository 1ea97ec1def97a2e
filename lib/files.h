// Small whole-file reads with a size cap, for /proc, /sys and config files.
#ifndef QMIN_LIB_FILES_H_
#define QMIN_LIB_FILES_H_

#include <cstddef>
#include <string>

#include "error.h"

namespace qmin {

/// Reads at most `max_size` bytes; a longer file is an error (exit 100), so a
/// hostile or broken file cannot make us allocate without bound.
Result<std::string> ReadSmallFile(const std::string& path, std::size_t max_size);

/// `root` + `path` for an absolute `path`; `root` "/" or "" leaves it alone.
std::string UnderRoot(const std::string& root, const std::string& path);

}  // namespace qmin

#endif  // QMIN_LIB_FILES_H_
