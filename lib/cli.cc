#include "cli.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "text.h"

#ifndef QMIN_VERSION
#define QMIN_VERSION "0.0.0"
#endif

namespace qmin {
namespace {

const OptionSpec kCommonOptions[] = {
    {"help", 'h', "", "print this help and exit"},
    {"syslog", 0, "", "log to syslog as well as to standard error"},
    {"verbose", 'v', "", "say more; repeat for debug output"},
    {"version", 0, "", "print the version and exit"},
};

const OptionSpec* FindLong(const ToolSpec& tool, std::string_view name) {
  for (const auto& spec : kCommonOptions)
    if (spec.long_name == name) return &spec;
  for (const auto& spec : tool.options)
    if (spec.long_name == name) return &spec;
  return nullptr;
}

const OptionSpec* FindShort(const ToolSpec& tool, char name) {
  for (const auto& spec : kCommonOptions)
    if (spec.short_name == name) return &spec;
  for (const auto& spec : tool.options)
    if (spec.short_name == name) return &spec;
  return nullptr;
}

void Record(Args& args, const OptionSpec& spec, std::string value) {
  if (spec.long_name == "help") {
    args.help = true;
  } else if (spec.long_name == "version") {
    args.version = true;
  } else if (spec.long_name == "verbose") {
    ++args.verbosity;
  } else if (spec.long_name == "syslog") {
    args.syslog = true;
  } else {
    args.Add(spec.long_name, std::move(value));
  }
}

// Parses one "--name" or "--name=value" word; may consume the next word.
Status ParseLong(const ToolSpec& tool, std::string_view word, int& index, int argc,
                 const char* const* argv, Args& args) {
  const std::size_t equals = word.find('=');
  const std::string_view name = word.substr(0, equals);
  const OptionSpec* spec = FindLong(tool, name);
  if (spec == nullptr) return UsageError("unknown option --" + std::string(name));
  if (spec->arg_name.empty()) {
    if (equals != std::string_view::npos)
      return UsageError("option --" + std::string(name) + " takes no value");
    Record(args, *spec, "");
    return {};
  }
  if (equals != std::string_view::npos) {
    Record(args, *spec, std::string(word.substr(equals + 1)));
    return {};
  }
  if (index + 1 >= argc) return UsageError("option --" + std::string(name) + " needs a value");
  Record(args, *spec, argv[++index]);
  return {};
}

// Parses a bundle of short options like "-nv" or "-w5" or "-w 5".
Status ParseShort(const ToolSpec& tool, std::string_view word, int& index, int argc,
                  const char* const* argv, Args& args) {
  for (std::size_t at = 0; at < word.size(); ++at) {
    const OptionSpec* spec = FindShort(tool, word[at]);
    if (spec == nullptr) return UsageError(std::string("unknown option -") + word[at]);
    if (spec->arg_name.empty()) {
      Record(args, *spec, "");
      continue;
    }
    if (at + 1 < word.size()) {
      Record(args, *spec, std::string(word.substr(at + 1)));
    } else if (index + 1 < argc) {
      Record(args, *spec, argv[++index]);
    } else {
      return UsageError(std::string("option -") + word[at] + " needs a value");
    }
    return {};
  }
  return {};
}

// Closed standard descriptors would let the next open() land on fd 1 or 2 and
// our messages on top of a file; hotplug scripts and init may start us so.
void EnsureStandardFds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) != -1) continue;
    const int opened = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    if (opened >= 0 && opened != fd) {
      dup2(opened, fd);
      close(opened);
    }
  }
}

}  // namespace

bool Args::Has(std::string_view long_name) const {
  return std::any_of(values_.begin(), values_.end(),
                     [&](const auto& entry) { return entry.first == long_name; });
}

std::string Args::Get(std::string_view long_name, std::string fallback) const {
  for (auto it = values_.rbegin(); it != values_.rend(); ++it)
    if (it->first == long_name) return it->second;
  return fallback;
}

Result<std::uint64_t> Args::Number(std::string_view long_name, NumberRange range,
                                   std::uint64_t fallback) const {
  if (!Has(long_name)) return fallback;
  const auto value = ParseUnsigned(Get(long_name), range.max);
  if (value && *value >= range.min) return *value;
  std::string why = "--" + std::string(long_name) + " needs " + std::to_string(range.min) + " to " +
                    std::to_string(range.max);
  if (!range.unit.empty()) why += " " + std::string(range.unit);
  return UsageError(why);
}

std::vector<std::string> Args::GetAll(std::string_view long_name) const {
  std::vector<std::string> all;
  for (const auto& entry : values_)
    if (entry.first == long_name) all.push_back(entry.second);
  return all;
}

void Args::Add(std::string_view long_name, std::string value) {
  values_.emplace_back(std::string(long_name), std::move(value));
}

Result<Args> ParseArgs(const ToolSpec& tool, int argc, const char* const* argv) {
  Args args;
  bool options_done = false;
  for (int index = 1; index < argc; ++index) {
    const std::string_view word = argv[index];
    Status status;
    if (options_done || word.size() < 2 || word[0] != '-') {
      args.AddPositional(std::string(word));
      options_done = options_done || tool.options_first;
    } else if (word == "--") {
      options_done = true;
    } else if (word[1] == '-') {
      status = ParseLong(tool, word.substr(2), index, argc, argv, args);
    } else {
      status = ParseShort(tool, word.substr(1), index, argc, argv, args);
    }
    if (!status) return status.error();
  }
  if (args.help || args.version) return args;
  const std::size_t count = args.positionals().size();
  if (count < tool.min_positionals) return UsageError("missing operand");
  if (count > tool.max_positionals)
    return UsageError("extra operand " + args.positionals()[tool.max_positionals]);
  return args;
}

std::string HelpText(const ToolSpec& tool) {
  std::string text = "usage: ";
  text.append(tool.name).append(" ").append(tool.synopsis).append("\n\n");
  text.append(tool.summary).append("\n\n");
  std::vector<const OptionSpec*> all;
  for (const auto& spec : kCommonOptions) all.push_back(&spec);
  for (const auto& spec : tool.options) all.push_back(&spec);
  std::sort(all.begin(), all.end(),
            [](const OptionSpec* a, const OptionSpec* b) { return a->long_name < b->long_name; });
  for (const OptionSpec* spec : all) {
    std::string left = "  ";
    left.append(spec->short_name != 0 ? std::string("-") + spec->short_name + ", " : "    ");
    left.append("--").append(spec->long_name);
    if (!spec->arg_name.empty()) left.append(" ").append(spec->arg_name);
    if (left.size() < 28)
      left.resize(28, ' ');
    else
      left.append("  ");
    text.append(left).append(spec->help).append("\n");
  }
  return text;
}

std::string VersionText(const ToolSpec& tool) {
  std::string text = std::string(tool.name) + " (qmin) " QMIN_VERSION;
  if (!tool.transport.empty()) text.append(", vchan transport ").append(tool.transport);
  return text + "\n";
}

void WriteLine(int fd, std::string_view text) {
  std::string line(text);
  line.push_back('\n');
  ssize_t ignored = write(fd, line.data(), line.size());
  (void)ignored;  // a closed stdout is not worth failing over
}

void WriteLines(int fd, const std::vector<std::string>& lines) {
  for (const std::string& line : lines) WriteLine(fd, line);
}

int RunTool(const ToolSpec& tool, int argc, const char* const* argv, const ToolBody& body) {
  EnsureStandardFds();
  Log log{std::string(tool.name)};
  Result<Args> args = ParseArgs(tool, argc, argv);
  if (!args) {
    log.Usage(args.error().reason);
    log.Usage(std::string(tool.name) + " " + std::string(tool.synopsis));
    return ToInt(ExitCode::kUsage);
  }
  if (args->help) {
    const std::string text = HelpText(tool);
    return write(STDOUT_FILENO, text.data(), text.size()) < 0 ? ToInt(ExitCode::kTemporary) : 0;
  }
  if (args->version) {
    const std::string text = VersionText(tool);
    return write(STDOUT_FILENO, text.data(), text.size()) < 0 ? ToInt(ExitCode::kTemporary) : 0;
  }
  log.set_verbosity(args->verbosity);
  if (args->syslog) log.set_sinks(Log::kStderr | Log::kSyslog);
  const Result<int> status = body(*args, log);
  if (status) return *status;
  if (status.error().usage) {
    log.Usage(status.error().reason);
  } else {
    log.Fatal(status.error());
  }
  return ToInt(status.error().exit);
}

}  // namespace qmin
