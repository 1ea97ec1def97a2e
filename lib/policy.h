// Qubes' policy.d format (R4.1+), parsed as Qubes' qrexec/policy/parser.py
// does, so that a user's policy.d files give the same decisions:
//   SERVICE|*  +ARGUMENT|*  SOURCE  TARGET  allow|deny|ask  [KEY=VALUE ...]
// with '#' comments on whole lines, !include, !include-dir,
// !include-service and !compat-4.0. Every error is kept with its place, so
// that all of them can be reported; a policy with any error denies every call.
#ifndef QMIN_LIB_POLICY_H_
#define QMIN_LIB_POLICY_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qmin {

enum class TokenKind {
  kName,            ///< a VM name
  kWildcard,        ///< *: anything, dom0 included
  kAnyVm,           ///< @anyvm: anything but dom0
  kAdminVm,         ///< @adminvm, or dom0
  kDefault,         ///< @default: the caller named no target
  kTag,             ///< @tag:T
  kType,            ///< @type:T
  kDispVm,          ///< @dispvm
  kDispVmTemplate,  ///< @dispvm:NAME
  kDispVmTag,       ///< @dispvm:@tag:T
};

/// Where a token stands decides which kinds it may be (Qubes' Source,
/// Target, Redirect and IntendedTarget classes).
enum class TokenContext { kSource, kTarget, kRedirect, kRequest };

struct VmToken {
  TokenKind kind = TokenKind::kName;
  std::string value;  ///< the name, or T of @tag:T / @type:T, or NAME of @dispvm:NAME
  std::string text;   ///< canonical spelling: "@adminvm" for dom0, "@" for a legacy "$"
  bool operator==(const VmToken&) const = default;
};

/// Parses one token for its context; on failure `error` says why.
std::optional<VmToken> ParseVmToken(std::string_view text, TokenContext context,
                                    std::string& error);

enum class Verb { kAllow, kDeny, kAsk };

struct Rule {
  std::string service;   ///< empty for *
  std::string argument;  ///< "+ARG", or empty for *
  VmToken source;
  VmToken target;
  Verb verb = Verb::kDeny;
  std::optional<VmToken> redirect;        ///< target=
  std::optional<VmToken> default_target;  ///< default_target= (ask)
  std::string user;                       ///< user=, empty for the target's default
  bool notify = false;                    ///< notify=; deny defaults to yes
  bool autostart = true;                  ///< autostart=
  std::string file;
  std::size_t line = 0;
};

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
  std::vector<std::string> files;  ///< every file read, for reload watches
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

/// One rule as policy text (for -n -v), normalised.
std::string FormatRule(const Rule& rule);

}  // namespace qmin

#endif  // QMIN_LIB_POLICY_H_
