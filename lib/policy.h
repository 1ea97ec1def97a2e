// Loading Qubes' policy.d (R4.1+) as Qubes' qrexec/policy/parser.py does:
// the *.policy files of the directories merged by name, '#' comments on
// whole lines, !include, !include-dir, !include-service and !compat-4.0.
// Each line's grammar is policy_rule.h's. Every error is kept with its
// place, so that all of them can be reported; a policy with any error
// denies every call.
#ifndef QMIN_LIB_POLICY_H_
#define QMIN_LIB_POLICY_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "policy_rule.h"

namespace qmin {

struct PolicyError {
  std::string file;
  std::size_t line = 0;    ///< 0: about the file, not a line
  std::size_t column = 0;  ///< 0-based start of the offending token
  std::string message;
  std::string text;  ///< the line, for the caret
};

/// "FILE:LINE: MESSAGE", then the line and a caret under the token.
std::string FormatPolicyError(const PolicyError& error);

struct PolicyLimits {
  std::size_t max_file_size = 1024 * 1024;
  std::size_t max_line_length = 8192;
  std::size_t max_include_depth = 16;
  std::size_t max_rules = 1000000;
};

/// The rules of a policy in evaluation order, and every error found.
struct ParsedPolicy {
  std::vector<Rule> rules;
  std::vector<PolicyError> errors;
  std::vector<std::string> warnings;  ///< files not read: links to nothing, or to themselves
  std::vector<std::string> files;     ///< every file read, for reload watches
};

/// Loads the *.policy files of `dirs` merged by file name in C order; on equal
/// names the earlier directory wins (Qubes: /run/qubes/policy.d before
/// /etc/qubes/policy.d). A missing directory is empty. `legacy_dir` is what
/// !compat-4.0 would read.
ParsedPolicy LoadPolicy(const std::vector<std::string>& dirs, const PolicyLimits& limits = {},
                        const std::string& legacy_dir = "/etc/qubes-rpc/policy");

/// Parses text as one policy file named `file`; includes resolve against `base_dir`.
ParsedPolicy ParsePolicyText(std::string_view text, const std::string& file,
                             const std::string& base_dir = ".", const PolicyLimits& limits = {});

}  // namespace qmin

#endif  // QMIN_LIB_POLICY_H_
