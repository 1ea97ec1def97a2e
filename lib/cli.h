// The command line of every qmin tool: -h/--help, -v/--verbose (repeatable),
// --syslog and --version are common and handled here, once; each tool declares its own
// options as a table. Options may stand anywhere before "--".
//
// Why not cxxopts: it calls std::locale::classic(), which drags libstdc++'s
// whole locale machinery into a static binary (1.4 MB stripped for an empty
// main, against 0.7 MB without it), and mkxendev must stay under 1 MiB.
#ifndef QMIN_LIB_CLI_H_
#define QMIN_LIB_CLI_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "error.h"
#include "log.h"

namespace qmin {

struct OptionSpec {
  std::string_view long_name;  ///< "wait"; the key the tool asks for
  char short_name = 0;         ///< 'n', or 0 for long-only options
  std::string_view arg_name;   ///< "SECONDS"; empty for a flag
  std::string_view help;
};

struct ToolSpec {
  std::string_view name;      ///< "mkxendev"
  std::string_view synopsis;  ///< what follows the name in a usage line
  std::string_view summary;   ///< one line: what the tool does
  std::vector<OptionSpec> options;
  std::size_t min_positionals = 0;
  std::size_t max_positionals = 0;
  /// Options end at the first operand (the rest belongs to a program to run).
  bool options_first = false;
  /// The vchan transport linked in ("xen" or "socket"), for --version; empty
  /// for tools that have none.
  std::string_view transport = {};
};

/// The values a number option takes, and the word that follows them in its
/// usage error ("--wait needs 1 to 3600 seconds").
struct NumberRange {
  std::uint64_t min = 0;
  std::uint64_t max = 0;
  std::string_view unit;
};

class Args {
 public:
  bool help = false;
  bool version = false;
  bool syslog = false;  ///< log to syslog as well: a tool run at boot, whose lines scroll away
  int verbosity = 0;

  bool Has(std::string_view long_name) const;
  /// The last value given for an option, or `fallback`.
  std::string Get(std::string_view long_name, std::string fallback = "") const;
  std::vector<std::string> GetAll(std::string_view long_name) const;
  /// The last value of a number option, `fallback` when it is absent. One
  /// outside `range`, or no number, is a usage error that states the range.
  Result<std::uint64_t> Number(std::string_view long_name, NumberRange range,
                               std::uint64_t fallback) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

  void Add(std::string_view long_name, std::string value);
  void AddPositional(std::string value) { positionals_.push_back(std::move(value)); }

 private:
  std::vector<std::pair<std::string, std::string>> values_;
  std::vector<std::string> positionals_;
};

/// Parses argv[1..argc). A usage error comes back with exit 100.
Result<Args> ParseArgs(const ToolSpec& tool, int argc, const char* const* argv);

/// The -h text: usage line, summary, then one aligned line per option.
std::string HelpText(const ToolSpec& tool);
/// "TOOL (qmin) VERSION", and ", vchan transport T" for tools that have one.
std::string VersionText(const ToolSpec& tool);

/// What a tool does once its arguments are parsed: the exit status it chose
/// (0, 1 for "no", or a status it passes through, as qrx-call does), or an
/// Error, which becomes the one fatal (or usage) message and its exit code.
using ToolBody = std::function<Result<int>(const Args& args, Log& log)>;

/// Writes `text` and a newline to `fd` in one write(): a tool's output lines
/// (plans, decisions) never interleave with another process's.
void WriteLine(int fd, std::string_view text);
/// Each of `lines`, a line each.
void WriteLines(int fd, const std::vector<std::string>& lines);

/// The whole life of a thin main(): make sure fds 0-2 are open, parse, handle
/// -h/--version/usage errors, run the body, print its error, pick the code.
int RunTool(const ToolSpec& tool, int argc, const char* const* argv, const ToolBody& body);

}  // namespace qmin

#endif  // QMIN_LIB_CLI_H_
