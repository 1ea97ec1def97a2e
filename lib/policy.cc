#include "policy.h"

#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "files.h"
#include "vm_facts.h"

namespace qmin {
namespace {

bool IsFileNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

std::string RealPath(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> resolved(realpath(path.c_str(), nullptr), &std::free);
  return resolved ? std::string(resolved.get()) : std::string();
}

bool IsRegularFile(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string DirName(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The policy files of one directory, as Qubes' filter_filepaths picks them:
// regular *.policy files not starting with '.', sorted; a bad name is an
// error. A *.policy link that leads nowhere is skipped, as in Qubes, but
// said: a deny file that went missing must not go unnoticed.
struct DirListing {
  std::vector<std::string> names;
  std::vector<std::string> warnings;
  std::string error;
  bool missing = false;
};

DirListing ListPolicyDir(const std::string& dir) {
  DirListing listing;
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) {
    listing.missing = errno == ENOENT;
    if (!listing.missing) listing.error = std::strerror(errno);
    return listing;
  }
  while (const dirent* entry = readdir(handle)) {
    const std::string name = entry->d_name;
    if (name.empty() || name[0] == '.' || name.size() <= 7 ||
        name.compare(name.size() - 7, 7, ".policy") != 0)
      continue;
    struct stat st {};
    if (stat((dir + "/" + name).c_str(), &st) != 0) {
      listing.warnings.push_back(dir + "/" + name + ": not read: " + std::strerror(errno));
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    if (!std::all_of(name.begin(), name.end(), IsFileNameChar)) {
      listing.error = "invalid file name: " + dir + "/" + name;
      break;
    }
    listing.names.push_back(name);
  }
  closedir(handle);
  std::sort(listing.names.begin(), listing.names.end());
  std::sort(listing.warnings.begin(), listing.warnings.end());
  return listing;
}

// Files included with !include-service hold the old three-column format,
// for one service and argument (empty for *).
struct ServiceMode {
  std::string service;
  std::string argument;
};

class Loader {
 public:
  Loader(const PolicyLimits& limits, std::vector<std::string> roots, std::string legacy_dir)
      : limits_(limits), roots_(std::move(roots)), legacy_dir_(std::move(legacy_dir)) {}

  ParsedPolicy Take() { return std::move(result_); }

  void LoadTopFile(const std::string& path) {
    base_dir_ = DirName(path);
    LoadFile(path, nullptr, nullptr);
  }

  void LoadText(std::string_view text, const std::string& file, const std::string& base_dir) {
    base_dir_ = base_dir;
    ParseText(text, file, nullptr);
  }

  void FileError(const std::string& file, const std::string& message) {
    result_.errors.push_back(PolicyError{file, 0, 0, message, ""});
  }

  void Warn(const std::vector<std::string>& warnings) {
    result_.warnings.insert(result_.warnings.end(), warnings.begin(), warnings.end());
  }

 private:
  struct Place {
    const std::string& file;
    std::size_t line;
    std::string_view text;
  };

  void Error(const Place& place, std::size_t column, std::string message) {
    result_.errors.push_back(
        PolicyError{place.file, place.line, column, std::move(message), std::string(place.text)});
  }

  // Loads a file; with a `mode` (from !include-service) in the old format.
  void LoadFile(const std::string& path, const Place* from, const ServiceMode* mode) {
    const std::string real = RealPath(path);
    if (std::find(stack_.begin(), stack_.end(), real) != stack_.end()) {
      if (from != nullptr) Error(*from, 0, "include cycle: " + path + " is already being read");
      return;
    }
    if (stack_.size() >= limits_.max_include_depth) {
      if (from != nullptr)
        Error(*from, 0, "includes nested deeper than " + std::to_string(limits_.max_include_depth));
      return;
    }
    Result<std::string> text = ReadSmallFile(path, limits_.max_file_size);
    if (!text) {
      if (from != nullptr)
        Error(*from, 0, text.error().Text());
      else
        FileError(path, text.error().Text());
      return;
    }
    result_.files.push_back(path);
    stack_.push_back(real);
    ParseText(*text, path, mode);
    stack_.pop_back();
  }

  void ParseText(std::string_view text, const std::string& file, const ServiceMode* mode) {
    if (text.find('\0') != std::string_view::npos) {
      FileError(file, "binary content (a NUL byte): not a policy file");
      return;
    }
    std::size_t line_number = 0;
    std::size_t start = 0;
    while (start <= text.size()) {
      std::size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      const std::string_view line = text.substr(start, end - start);
      ++line_number;
      start = end + 1;
      if (line.size() > limits_.max_line_length) {
        Error(Place{file, line_number, line.substr(0, 80)}, 0,
              "line longer than " + std::to_string(limits_.max_line_length) + " bytes");
        continue;
      }
      if (mode == nullptr) {
        ParseLine(Place{file, line_number, line});
      } else {
        ParseServiceLine(Place{file, line_number, line}, *mode);
      }
      if (end == text.size()) break;
    }
  }

  void ParseLine(const Place& place) {
    const std::vector<Field> fields = SplitFields(place.text);
    if (fields.empty() || fields[0].text[0] == '#') return;
    if (fields[0].text[0] == '!') return ParseDirective(place, fields);
    if (fields.size() < 5) return Error(place, fields.back().column, "wrong number of fields");
    Rule rule;
    rule.file = place.file;
    rule.line = place.line;
    if (!ServiceArgument(place, fields[0], fields[1], rule)) return;
    AddRule(place, rule, std::vector<Field>(fields.begin() + 2, fields.end()));
  }

  // Old format lines from !include-service: SOURCE TARGET ACTION[,PARAM...],
  // with Qubes' substitutions: $ for @, commas for spaces.
  void ParseServiceLine(const Place& place, const ServiceMode& mode) {
    std::string line(place.text);
    const std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') return;
    if (line.compare(first, 9, "$include:") == 0) line.replace(first, 9, "!include ");
    std::replace(line.begin(), line.end(), '$', '@');
    std::replace(line.begin(), line.end(), ',', ' ');
    const Place rewritten{place.file, place.line, line};
    const std::vector<Field> fields = SplitFields(line);
    if (fields[0].text[0] == '!') {
      if (fields[0].text != "!include")
        return Error(rewritten, fields[0].column, "invalid directive");
      if (fields.size() != 2) return Error(rewritten, fields[0].column, "invalid number of params");
      return Include(rewritten, fields[1], &mode);
    }
    if (fields.size() < 3) return Error(rewritten, fields.back().column, "wrong number of fields");
    Rule rule;
    rule.file = place.file;
    rule.line = place.line;
    rule.service = mode.service;
    rule.argument = mode.argument;
    AddRule(rewritten, rule, fields);
  }

  // A rule's grammar is policy_rule's; here its place is kept for the error.
  bool ServiceArgument(const Place& place, const Field& service, const Field& argument,
                       Rule& rule) {
    if (auto error = ParseServiceArgument(service, argument, rule)) {
      Error(place, error->column, error->message);
      return false;
    }
    return true;
  }

  void AddRule(const Place& place, Rule& rule, const std::vector<Field>& fields) {
    if (auto error = ParseRuleBody(fields, rule))
      return Error(place, error->column, error->message);
    if (result_.rules.size() >= limits_.max_rules)
      return Error(place, 0, "more than " + std::to_string(limits_.max_rules) + " rules");
    result_.rules.push_back(std::move(rule));
  }

  void ParseDirective(const Place& place, const std::vector<Field>& fields) {
    const std::string_view directive = fields[0].text;
    const std::size_t params = fields.size() - 1;
    if (directive == "!include" || directive == "!include-dir") {
      if (params != 1) return Error(place, fields[0].column, "invalid number of params");
      if (directive == "!include") return Include(place, fields[1], nullptr);
      return IncludeDir(place, fields[1]);
    }
    if (directive == "!include-service") {
      if (params != 3) return Error(place, fields[0].column, "invalid number of params");
      Rule scratch;
      if (!ServiceArgument(place, fields[1], fields[2], scratch)) return;
      const ServiceMode mode{scratch.service, scratch.argument};
      return Include(place, fields[3], &mode);
    }
    if (directive == "!compat-4.0") {
      if (params != 0) return Error(place, fields[0].column, "invalid number of params");
      return Compat40(place, fields[0]);
    }
    Error(place, fields[0].column, "invalid directive");
  }

  // The include path, resolved as Qubes does: relative to the directory of the
  // top-level policy file being loaded; it must stay inside a policy directory.
  std::string ResolveInclude(const Place& place, const Field& field, bool directory) {
    const std::string written(field.text);
    const std::string joined = written[0] == '/' ? written : base_dir_ + "/" + written;
    const std::string real = RealPath(joined);
    if (real.empty() || !(directory ? IsDirectory(real) : IsRegularFile(real))) {
      Error(place, field.column,
            std::string(directory ? "not a directory: " : "not a file: ") + joined);
      return "";
    }
    const bool inside = std::any_of(roots_.begin(), roots_.end(), [&](const std::string& root) {
      return real == root || real.rfind(root + "/", 0) == 0;
    });
    if (!inside) {
      Error(place, field.column,
            "include outside the policy directories: " + joined + " is " + real);
      return "";
    }
    return real;
  }

  void Include(const Place& place, const Field& field, const ServiceMode* mode) {
    const std::string path = ResolveInclude(place, field, false);
    if (!path.empty()) LoadFile(path, &place, mode);
  }

  void IncludeDir(const Place& place, const Field& field) {
    const std::string dir = ResolveInclude(place, field, true);
    if (dir.empty()) return;
    DirListing listing = ListPolicyDir(dir);
    if (!listing.error.empty()) return Error(place, field.column, listing.error);
    Warn(listing.warnings);
    for (const std::string& name : listing.names) LoadFile(dir + "/" + name, &place, nullptr);
  }

  void Compat40(const Place& place, const Field& field) {
    DIR* handle = opendir(legacy_dir_.c_str());
    if (handle == nullptr) return;  // no legacy files: nothing to add
    bool any = false;
    while (const dirent* entry = readdir(handle)) any = any || entry->d_name[0] != '.';
    closedir(handle);
    if (any)
      Error(place, field.column,
            "!compat-4.0: the legacy policy files in " + legacy_dir_ +
                " are not supported; move their rules into policy.d");
  }

  const PolicyLimits& limits_;
  std::vector<std::string> roots_;
  std::string legacy_dir_;
  std::string base_dir_;
  std::vector<std::string> stack_;
  ParsedPolicy result_;
};

}  // namespace

std::string FormatPolicyError(const PolicyError& error) {
  std::string out = error.file;
  if (error.line > 0) out += ":" + std::to_string(error.line);
  out += ": " + error.message;
  if (error.line > 0 && !error.text.empty()) {
    std::string shown = error.text;
    for (char& c : shown)
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t') c = '?';
    std::string caret;
    for (std::size_t i = 0; i < error.column && i < shown.size(); ++i)
      caret.push_back(shown[i] == '\t' ? '\t' : ' ');
    out += "\n" + shown + "\n" + caret + "^";
  }
  return out;
}

ParsedPolicy LoadPolicy(const std::vector<std::string>& dirs, const PolicyLimits& limits,
                        const std::string& legacy_dir) {
  std::vector<std::string> roots;
  for (const std::string& dir : dirs)
    if (std::string real = RealPath(dir); !real.empty()) roots.push_back(real);
  Loader loader(limits, roots, legacy_dir);
  std::vector<std::pair<std::string, std::string>> files;  // name, path
  for (const std::string& dir : dirs) {
    DirListing listing = ListPolicyDir(dir);
    if (!listing.error.empty()) {
      loader.FileError(dir, listing.error);
      continue;
    }
    loader.Warn(listing.warnings);
    for (const std::string& name : listing.names) {
      const bool seen =
          std::any_of(files.begin(), files.end(), [&](const auto& f) { return f.first == name; });
      if (!seen) files.emplace_back(name, dir + "/" + name);
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& [name, path] : files) loader.LoadTopFile(path);
  return loader.Take();
}

ParsedPolicy ParsePolicyText(std::string_view text, const std::string& file,
                             const std::string& base_dir, const PolicyLimits& limits) {
  std::vector<std::string> roots;
  if (std::string real = RealPath(base_dir); !real.empty()) roots.push_back(real);
  Loader loader(limits, roots, "/nonexistent");
  loader.LoadText(text, file, base_dir);
  return loader.Take();
}

}  // namespace qmin
