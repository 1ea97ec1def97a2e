#include "policy_rule.h"

#include <algorithm>

#include "text.h"
#include "vm_facts.h"

namespace qmin {
namespace {

// Qubes' RPCNAME_ALLOWED_CHARSET: the name rule, '+' only in arguments.
bool IsWordText(std::string_view text) { return IsNameText(text); }

struct TokenRule {
  std::string_view spelling;  // exact, or a prefix when it ends with ':'
  TokenKind kind;
  bool source, target, redirect, request;
};

// Which token may stand where: Qubes' class hierarchy, as a table. Longer
// prefixes first, so that @dispvm:@tag: wins over @dispvm:.
constexpr TokenRule kTokenRules[] = {
    {"*", TokenKind::kWildcard, true, true, false, false},
    {"@adminvm", TokenKind::kAdminVm, true, true, true, true},
    {"@anyvm", TokenKind::kAnyVm, true, true, false, false},
    {"@default", TokenKind::kDefault, false, true, false, true},
    {"@dispvm", TokenKind::kDispVm, false, true, true, true},
    {"@dispvm:@tag:", TokenKind::kDispVmTag, true, true, false, false},
    {"@dispvm:", TokenKind::kDispVmTemplate, true, true, true, true},
    {"@tag:", TokenKind::kTag, true, true, false, false},
    {"@type:", TokenKind::kType, true, true, false, false},
};

bool Allowed(const TokenRule& rule, TokenContext context) {
  switch (context) {
    case TokenContext::kSource:
      return rule.source;
    case TokenContext::kTarget:
      return rule.target;
    case TokenContext::kRedirect:
      return rule.redirect;
    case TokenContext::kRequest:
      return rule.request;
  }
  return false;
}

const char* ContextName(TokenContext context) {
  switch (context) {
    case TokenContext::kSource:
      return "source";
    case TokenContext::kTarget:
      return "target";
    case TokenContext::kRedirect:
      return "redirect";
    case TokenContext::kRequest:
      return "intendedtarget";
  }
  return "";
}

std::optional<RuleError> Fail(std::size_t column, std::string message) {
  return RuleError{column, std::move(message)};
}

std::optional<RuleError> ParseParameter(const Field& field, Rule& rule,
                                        std::vector<std::string_view>& seen) {
  const std::size_t equals = field.text.find('=');
  if (equals == std::string_view::npos)
    return Fail(field.column, "invalid action parameter syntax: " + std::string(field.text));
  const std::string_view key = field.text.substr(0, equals);
  const std::string_view value = field.text.substr(equals + 1);
  const std::size_t value_column = field.column + equals + 1;
  if (std::find(seen.begin(), seen.end(), key) != seen.end())
    return Fail(field.column, "parameter given twice: " + std::string(key));
  seen.push_back(key);
  const bool boolean = key == "notify" || key == "autostart";
  const bool known = boolean || (rule.verb != Verb::kDeny && (key == "target" || key == "user")) ||
                     (rule.verb == Verb::kAsk && key == "default_target");
  if (!known)
    return Fail(field.column, "invalid parameter " + std::string(key) + " for action " +
                                  std::string(VerbName(rule.verb)));
  if (boolean) {
    if (value != "yes" && value != "no")
      return Fail(value_column,
                  std::string(key) + " is " + std::string(value) + ", but can be only yes or no");
    (key == "notify" ? rule.notify : rule.autostart) = value == "yes";
    return std::nullopt;
  }
  if (key == "user") {
    if (!IsWordText(value)) return Fail(value_column, "invalid user: " + std::string(value));
    rule.user = value;
    return std::nullopt;
  }
  std::string why;
  auto token = ParseVmToken(value, TokenContext::kRedirect, why);
  if (!token) return Fail(value_column, why);
  (key == "target" ? rule.redirect : rule.default_target) = *token;
  return std::nullopt;
}

}  // namespace

std::string_view VerbName(Verb verb) {
  static constexpr std::string_view kNames[] = {"allow", "deny", "ask"};
  return kNames[static_cast<int>(verb)];
}

std::vector<Field> SplitFields(std::string_view line) {
  std::vector<Field> fields;
  std::size_t at = 0;
  const auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
  };
  while (at < line.size()) {
    while (at < line.size() && space(line[at])) ++at;
    const std::size_t start = at;
    while (at < line.size() && !space(line[at])) ++at;
    if (at > start) fields.push_back(Field{line.substr(start, at - start), start});
  }
  return fields;
}

std::optional<VmToken> ParseVmToken(std::string_view written, TokenContext context,
                                    std::string& error) {
  std::string text(written);
  std::replace(text.begin(), text.end(), '$', '@');  // Qubes' legacy spelling
  if (text == kAdminVmName) text = "@adminvm";
  if (text[0] != '@' && text != "*") {
    if (IsValidVmName(text)) return VmToken{TokenKind::kName, text, text};
    error = "invalid " + std::string(ContextName(context)) + " token: " + std::string(written);
    return std::nullopt;
  }
  for (const TokenRule& rule : kTokenRules) {
    const bool prefix = rule.spelling.back() == ':';
    if (!prefix) {
      if (text != rule.spelling) continue;
      if (!Allowed(rule, context)) break;
      return VmToken{rule.kind, "", text};
    }
    if (text.rfind(rule.spelling, 0) != 0) continue;
    const std::string value = text.substr(rule.spelling.size());
    if (value.empty()) {
      error = "invalid empty " + std::string(rule.spelling) + " token: " + std::string(written);
      return std::nullopt;
    }
    if (value[0] == '@') continue;  // part of a longer prefix, or invalid
    if (!Allowed(rule, context)) break;
    const bool name = rule.kind == TokenKind::kDispVmTemplate;
    if (name ? !IsValidVmName(value) : !IsWordText(value)) {
      error = "invalid " + std::string(ContextName(context)) + " token: " + std::string(written);
      return std::nullopt;
    }
    return VmToken{rule.kind, value, text};
  }
  error = "invalid " + std::string(ContextName(context)) + " token: " + std::string(written);
  return std::nullopt;
}

std::optional<RuleError> ParseServiceArgument(const Field& service, const Field& argument,
                                              Rule& rule) {
  if (service.text != "*") {
    if (!IsWordText(service.text))
      return Fail(service.column,
                  "service " + std::string(service.text) + " contains invalid characters");
    rule.service = service.text;
  }
  if (argument.text == "*") return std::nullopt;
  if (!IsNameText(argument.text, "+"))
    return Fail(argument.column,
                "argument " + std::string(argument.text) + " contains invalid characters");
  if (argument.text[0] != '+')
    return Fail(argument.column,
                "argument " + std::string(argument.text) + " does not start with +");
  if (rule.service.empty()) return Fail(argument.column, "only * argument allowed for * service");
  rule.argument = argument.text;
  return std::nullopt;
}

std::optional<RuleError> ParseRuleBody(const std::vector<Field>& fields, Rule& rule) {
  if (fields.size() < 3)
    return Fail(fields.empty() ? 0 : fields.back().column, "wrong number of fields");
  std::string why;
  auto source = ParseVmToken(fields[0].text, TokenContext::kSource, why);
  if (!source) return Fail(fields[0].column, why);
  auto target = ParseVmToken(fields[1].text, TokenContext::kTarget, why);
  if (!target) return Fail(fields[1].column, why);
  rule.source = *source;
  rule.target = *target;
  const std::string_view action = fields[2].text;
  if (action == VerbName(Verb::kAllow))
    rule.verb = Verb::kAllow;
  else if (action == VerbName(Verb::kDeny))
    rule.verb = Verb::kDeny;
  else if (action == VerbName(Verb::kAsk))
    rule.verb = Verb::kAsk;
  else
    return Fail(fields[2].column, "invalid action: " + std::string(action));
  rule.notify = rule.verb == Verb::kDeny;
  std::vector<std::string_view> seen;
  for (std::size_t i = 3; i < fields.size(); ++i)
    if (auto error = ParseParameter(fields[i], rule, seen)) return error;
  if (rule.target.kind == TokenKind::kDefault && rule.verb == Verb::kAllow && !rule.redirect)
    return Fail(fields[1].column, "allow action for @default rule must specify target= option");
  return std::nullopt;
}

std::string FormatRule(const Rule& rule) {
  std::string out = (rule.service.empty() ? "*" : rule.service) + "\t" +
                    (rule.argument.empty() ? "*" : rule.argument) + "\t" + rule.source.text + "\t" +
                    rule.target.text + "\t" + std::string(VerbName(rule.verb));
  if (rule.redirect) out += " target=" + rule.redirect->text;
  if (rule.default_target) out += " default_target=" + rule.default_target->text;
  if (!rule.user.empty()) out += " user=" + rule.user;
  if (rule.verb == Verb::kDeny ? !rule.notify : rule.notify)
    out += rule.notify ? " notify=yes" : " notify=no";
  if (!rule.autostart) out += " autostart=no";
  return out;
}

}  // namespace qmin
