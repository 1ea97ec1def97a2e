// The parts of slim_runtime that this build links. Its terminate handler,
// for whichever C++ runtime this is. With glibc, the wrapped calls must
// answer as glibc does for everything Xen's archives ask of them: the test
// binary links with the same --wrap flags, so the real functions stay
// reachable as __real_* for comparison.
#include <exception>
#include <stdexcept>

#include <gtest/gtest.h>

namespace {

TEST(SlimTerminateDeathTest, SaysWhatInOneLineInsteadOfDemangling) {
  EXPECT_DEATH(
      {
        try {
          throw std::length_error("too long");
        } catch (...) {
          std::terminate();
        }
      },
      "^[a-z_]+: fatal: unable to go on: too long\n$");
}

}  // namespace

#if defined(__GLIBC__)
extern "C" int __wrap___isoc99_sscanf(const char* input, const char* format, ...);
extern "C" int __real___isoc99_sscanf(const char* input, const char* format, ...);
extern "C" [[noreturn]] void __wrap___assert_fail(const char* assertion, const char* file,
                                                  unsigned line, const char* function);

namespace {

struct Scan {
  int result;
  unsigned value;
  int consumed;
  bool operator==(const Scan&) const = default;
};

template <typename Function>
Scan ScanWith(Function scan, const char* input, const char* format) {
  Scan out{0, 12345, -1};
  out.result = scan(input, format, &out.value, &out.consumed);
  return out;
}

TEST(SlimSscanfTest, ReadsTheTwoConversionsAsGlibcDoes) {
  // unsanitise_value hands over the text after "\x" or "\": digits first.
  for (const char* input :
       {"41", "4", "ff", "FFz", "0a0", "7", "377", "3777", "12z", "8", "g", "", "a5\\"}) {
    for (const char* format : {"%2x%n", "%3o%n"}) {
      const Scan ours = ScanWith(__wrap___isoc99_sscanf, input, format);
      const Scan glibc = ScanWith(__real___isoc99_sscanf, input, format);
      EXPECT_EQ(ours.result, glibc.result) << format << " on \"" << input << '"';
      if (glibc.result == 1) {
        EXPECT_EQ(ours.value, glibc.value) << format << " on \"" << input << '"';
        EXPECT_EQ(ours.consumed, glibc.consumed) << format << " on \"" << input << '"';
      }
    }
  }
}

TEST(SlimSscanfTest, AnyOtherFormatMatchesNothing) {
  EXPECT_EQ(ScanWith(__wrap___isoc99_sscanf, "41", "%u%n").result, 0);
  EXPECT_EQ(ScanWith(__wrap___isoc99_sscanf, "41", "%2x").result, 0);
}

TEST(SlimAssertDeathTest, PrintsGlibcsLineAndAborts) {
  EXPECT_DEATH(__wrap___assert_fail("len < INT_MAX/5", "xs_lib.c", 172, "sanitise_value"),
               "^[a-z_]+: xs_lib.c:172: sanitise_value: Assertion `len < INT_MAX/5' failed.\n$");
}

}  // namespace
#endif  // __GLIBC__
