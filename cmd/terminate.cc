// std::terminate's last words, for every tool. libstdc++'s own handler
// names the exception's type through its demangler, about 47 KB in each
// static binary. qmin's code throws nothing (errors are values), so what can
// still end here comes from the standard library itself (std::bad_alloc, a
// length_error): its what() is enough. Linked into each tool before
// libstdc++, this definition is the one the linker keeps.
#include <errno.h>
#include <unistd.h>

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

}  // namespace

namespace __gnu_cxx {

void __verbose_terminate_handler() {
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

}  // namespace __gnu_cxx
