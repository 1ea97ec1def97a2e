// A reader for the subset of xl.cfg(5) that qmin's VM definitions use:
//   KEY = "string" | 'string' | NUMBER | [ "item", "item", ... ]
// one setting per line (or separated by ';'), '#' comments, lists may span
// lines. Keys qmin does not know are kept, as xl keeps its own.
#ifndef QMIN_LIB_XLCFG_H_
#define QMIN_LIB_XLCFG_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"

namespace qmin {

struct XlValue {
  bool is_list = false;
  std::string scalar;              ///< a string's text or a number as written
  std::vector<std::string> items;  ///< a list's strings
};

using XlConfig = std::map<std::string, XlValue>;

/// Parses a whole file; the first error names `source` and the line (exit 100).
Result<XlConfig> ParseXlConfig(std::string_view text, std::string_view source);

}  // namespace qmin

#endif  // QMIN_LIB_XLCFG_H_
