#include "xlcfg.h"

#include <cctype>

namespace qmin {
namespace {

class XlReader {
 public:
  XlReader(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  Result<XlConfig> ReadAll() {
    XlConfig config;
    for (;;) {
      SkipBlanks(true);
      if (AtEnd()) return config;
      const std::string key = ReadKey();
      if (key.empty()) return Fail("expected a setting name");
      SkipBlanks(false);
      if (!Take('=')) return Fail("expected '=' after " + key);
      SkipBlanks(false);
      XlValue value;
      if (Status status = ReadValue(value); !status) return status.error();
      if (config.count(key) != 0) return Fail(key + " is set twice");
      config[key] = std::move(value);
      SkipBlanks(false);
      if (!AtEnd() && !Take(';') && !Take('\n')) return Fail("expected the end of the line");
    }
  }

 private:
  bool AtEnd() const { return at_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[at_]; }
  bool Take(char c) {
    if (Peek() != c) return false;
    if (c == '\n') ++line_;
    ++at_;
    return true;
  }

  // Skips spaces, tabs and comments; newlines too when `newlines`.
  void SkipBlanks(bool newlines) {
    for (;;) {
      const char c = Peek();
      if (c == ' ' || c == '\t' || c == '\r') {
        ++at_;
      } else if (c == '#') {
        while (!AtEnd() && Peek() != '\n') ++at_;
      } else if (newlines && (c == '\n' || c == ';')) {
        Take(c);
      } else {
        return;
      }
    }
  }

  std::string ReadKey() {
    std::string key;
    while (!AtEnd() && (std::isalnum(static_cast<unsigned char>(Peek())) || Peek() == '_'))
      key.push_back(text_[at_++]);
    return key;
  }

  Status ReadString(std::string& out) {
    const char quote = text_[at_++];
    while (!AtEnd() && Peek() != quote) {
      if (Peek() == '\n' || Peek() == '\0') return Fail("unterminated string");
      out.push_back(text_[at_++]);
    }
    if (!Take(quote)) return Fail("unterminated string");
    return {};
  }

  Status ReadValue(XlValue& value) {
    const char c = Peek();
    if (c == '"' || c == '\'') return ReadString(value.scalar);
    if (c == '[') return ReadList(value);
    while (!AtEnd() && (std::isalnum(static_cast<unsigned char>(Peek())) || Peek() == '.' ||
                        Peek() == '-' || Peek() == '+'))
      value.scalar.push_back(text_[at_++]);
    if (value.scalar.empty()) return Fail("expected a value");
    return {};
  }

  Status ReadList(XlValue& value) {
    value.is_list = true;
    Take('[');
    for (;;) {
      SkipBlanks(true);
      if (Take(']')) return {};
      if (Peek() != '"' && Peek() != '\'') return Fail("expected a quoted list item");
      std::string item;
      if (Status status = ReadString(item); !status) return status;
      value.items.push_back(std::move(item));
      SkipBlanks(true);
      if (Take(']')) return {};
      if (!Take(',')) return Fail("expected ',' or ']' in a list");
    }
  }

  Error Fail(const std::string& reason) const {
    return InvalidError("parse " + std::string(source_) + " line " + std::to_string(line_), reason);
  }

  std::string_view text_;
  std::string_view source_;
  std::size_t at_ = 0;
  std::size_t line_ = 1;
};

}  // namespace

Result<XlConfig> ParseXlConfig(std::string_view text, std::string_view source) {
  if (text.find('\0') != std::string_view::npos)
    return InvalidError("parse " + std::string(source), "binary content (a NUL byte)");
  return XlReader(text, source).ReadAll();
}

}  // namespace qmin
