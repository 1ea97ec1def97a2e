// What every static tool links ahead of the libraries: smaller answers to
// calls whose stock implementations weigh more than a tool's own code. Each
// part is built only for the library it answers for (make bench prints the
// sizes).
//
// 1. std::terminate's last words. The C++ runtime's default handler names
// the exception's type through its demangler: about 47 KB in each static
// binary with libstdc++ (__gnu_cxx::__verbose_terminate_handler), 64 KB with
// libc++abi (whose cxa_default_handlers.o holds the handler variables and
// the demangling handler they point to; defining the variables here keeps
// that object, and the demangler, out). qmin's code throws nothing (errors
// are values), so what can still end here comes from the standard library
// itself (std::bad_alloc, a length_error): its what() is enough. Linked
// before the runtime, these definitions are the ones the linker keeps.
//
// With glibc only (musl needs neither; zig's linker has no --wrap):
//
// 2. sscanf, for libxenstore. Its xs_lib.o bundles unsanitise_value, for the
// xenstore-write command, with the socket paths every client needs; that one
// sscanf call drags in glibc's scanf engine, four float parsers and the
// wide-character converters: about 95 KB. It asks for exactly two
// conversions, "%2x%n" and "%3o%n", and those are what this parser reads;
// any other format is a matching failure, which its caller handles.
//
// 3. assert's message, for libxenstore, libxentoollog and libxentoolcore.
// glibc prints it through its wide-character printf, 24 KB; this prints the
// same line with write(2).
//
// 2 and 3 are wrapped at link time (-Wl,--wrap, see Makefile): only the
// references inside one binary are redirected; nothing is interposed.
#include <errno.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string_view>

namespace {

void Say(std::string_view text) {
  while (!text.empty()) {
    const ssize_t wrote = write(STDERR_FILENO, text.data(), text.size());
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(wrote));
  }
}

#if defined(__GLIBC__)
int DigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

// Reads up to `width` digits of `base`; returns how many it read.
int ReadDigits(const char* input, int width, unsigned base, unsigned* value) {
  unsigned result = 0;
  int count = 0;
  while (count < width && input[count] != '\0') {
    const int digit = DigitValue(input[count]);
    if (digit >= static_cast<int>(base)) break;
    result = result * base + static_cast<unsigned>(digit);
    ++count;
  }
  if (count > 0) *value = result;
  return count;
}

#endif  // __GLIBC__

[[noreturn]] void SlimTerminate() {
  const char* what = "terminate called without an exception";
  if (std::exception_ptr current = std::current_exception()) {
    try {
      std::rethrow_exception(current);
    } catch (const std::exception& exception) {
      what = exception.what();
    } catch (...) {
      what = "an exception of unknown type";
    }
  }
  // The message shape of lib/log.h, without the Log: this runs anywhere.
  Say(program_invocation_short_name);
  Say(": fatal: unable to go on: ");
  Say(what);
  Say("\n");
  std::abort();
}

}  // namespace

#if defined(__GLIBCXX__)
namespace __gnu_cxx {
void __verbose_terminate_handler() { SlimTerminate(); }
}  // namespace __gnu_cxx
#endif

#if defined(_LIBCPP_VERSION)
extern "C" {
void (*__cxa_terminate_handler)() = SlimTerminate;
void (*__cxa_unexpected_handler)() = SlimTerminate;
void (*__cxa_new_handler)() = nullptr;
}
#endif

#if defined(__GLIBC__)
extern "C" int __wrap___isoc99_sscanf(const char* input, const char* format, ...) {
  const std::string_view wanted(format);
  unsigned base = 0;
  int width = 0;
  if (wanted == "%2x%n") {
    base = 16;
    width = 2;
  } else if (wanted == "%3o%n") {
    base = 8;
    width = 3;
  } else {
    return 0;
  }
  va_list args;
  va_start(args, format);
  unsigned* value = va_arg(args, unsigned*);
  int* consumed = va_arg(args, int*);
  va_end(args);
  const int count = ReadDigits(input, width, base, value);
  if (count == 0) return input[0] == '\0' ? EOF : 0;
  *consumed = count;
  return 1;
}

extern "C" [[noreturn]] void __wrap___assert_fail(const char* assertion, const char* file,
                                                  unsigned line, const char* function) {
  char digits[16];
  char* end = digits + sizeof digits;
  char* start = end;
  do {
    *--start = static_cast<char>('0' + line % 10);
    line /= 10;
  } while (line != 0 && start != digits);
  // glibc's shape: "prog: file:line: function: Assertion `expr' failed."
  Say(program_invocation_short_name);
  Say(": ");
  Say(file);
  Say(":");
  Say(std::string_view(start, static_cast<std::size_t>(end - start)));
  Say(": ");
  Say(function);
  Say(": Assertion `");
  Say(assertion);
  Say("' failed.\n");
  std::abort();
}
#endif  // __GLIBC__
