// The grammar of one policy rule, without any I/O: Qubes' policy.d line
//   SERVICE|*  +ARGUMENT|*  SOURCE  TARGET  allow|deny|ask  [KEY=VALUE ...]
// and its tokens, as Qubes' qrexec/policy/parser.py reads them, so that a
// user's files give the same decisions. Files, includes and directories
// are policy.h's.
#ifndef QMIN_LIB_POLICY_RULE_H_
#define QMIN_LIB_POLICY_RULE_H_

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

/// "allow", "deny" or "ask": the one table of the verbs.
std::string_view VerbName(Verb verb);

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

/// A whitespace-separated field of a line and the column it starts at.
struct Field {
  std::string_view text;
  std::size_t column;
};
std::vector<Field> SplitFields(std::string_view line);

/// What is wrong with a rule, and where in its line.
struct RuleError {
  std::size_t column = 0;
  std::string message;
};

/// SERVICE and +ARGUMENT (or *) into `rule`.
std::optional<RuleError> ParseServiceArgument(const Field& service, const Field& argument,
                                              Rule& rule);

/// SOURCE TARGET ACTION [KEY=VALUE ...] into `rule`.
std::optional<RuleError> ParseRuleBody(const std::vector<Field>& fields, Rule& rule);

/// One rule as policy text (for -n -v), normalised.
std::string FormatRule(const Rule& rule);

}  // namespace qmin

#endif  // QMIN_LIB_POLICY_RULE_H_
