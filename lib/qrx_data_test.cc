// The data phase end to end in one process: a caller-side and a
// service-side DataLink over the socket vchan, with a real child process as
// the service.
#include "qrx_data.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "test_util.h"

namespace qmin::qrx {
namespace {

struct Pipe {
  int read = -1;
  int write = -1;
};

Pipe MakePipe() {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  return Pipe{fds[0], fds[1]};
}

void NonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

std::string ReadAll(int fd) {
  std::string all;
  char buffer[65536];
  ssize_t got = 0;
  while ((got = read(fd, buffer, sizeof buffer)) > 0)
    all.append(buffer, static_cast<std::size_t>(got));
  close(fd);
  return all;
}

class DataLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("VCHAN_SOCKET_DIR", dir_.path().c_str(), 1);
    signal(SIGPIPE, SIG_IGN);  // the feeder may outlive the caller's stdin, as a terminal would
  }

  struct Outcome {
    Result<int> caller = 0;
    Result<int> service = 0;
    std::string out;
    std::string err;
  };

  // Forks `script` under sh with the three pipes as its stdio; the test's
  // ends are left non-blocking.
  static pid_t StartService(const std::string& script, const Pipe& in, const Pipe& out,
                            const Pipe& err) {
    const pid_t child = fork();
    if (child == 0) {
      dup2(in.read, 0);
      dup2(out.write, 1);
      dup2(err.write, 2);
      execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in.read);
    close(out.write);
    close(err.write);
    for (int fd : {in.write, out.read, err.read}) NonBlocking(fd);
    return child;
  }

  // Writes all of `input` to `fd` (blocking), then closes it: the caller's stdin.
  static void Feed(int fd, const std::string& input) {
    for (std::size_t at = 0; at < input.size();) {
      const ssize_t wrote = write(fd, input.data() + at, input.size() - at);
      if (wrote <= 0) break;
      at += static_cast<std::size_t>(wrote);
    }
    close(fd);
  }

  // Runs `script` under sh as the service; feeds `input` as the caller's stdin.
  // The service's link is destroyed once done, closing its vchan, as the
  // call's process does. With `caller_late` the caller starts 100 ms after
  // the service (which must wait for its HELLO), behind a terminal that
  // takes one page at a time and starts reading after 300 ms.
  Outcome Call(const std::string& script, const std::string& input, std::size_t ring = 4096,
               bool caller_late = false) {
    Result<EventLoop> loop = EventLoop::Create();
    setenv("VCHAN_DOMAIN", "0", 1);
    Result<std::unique_ptr<Vchan>> server =
        ServeVchan(5, 700, ring);  // the caller serves, as in qrexec
    setenv("VCHAN_DOMAIN", "5", 1);
    Result<std::unique_ptr<Vchan>> client = ConnectVchan(0, 700);
    EXPECT_TRUE(server && client);

    Pipe in = MakePipe(), out = MakePipe(), err = MakePipe();  // the caller's terminal
    Pipe child_in = MakePipe(), child_out = MakePipe(), child_err = MakePipe();
    const pid_t child = StartService(script, child_in, child_out, child_err);
    for (int fd : {in.read, out.write, err.write}) NonBlocking(fd);
    if (caller_late) fcntl(out.write, F_SETPIPE_SZ, 4096);

    Outcome outcome;
    int finished = 0;
    DataLink caller(*loop, std::move(*server), DataLink::Side::kCaller, {{in.read, kDataStdin}},
                    {{kDataStdout, out.write}, {kDataStderr, err.write}}, [&](Result<int> status) {
                      outcome.caller = status;
                      if (++finished == 2) loop->Stop();
                    });
    std::unique_ptr<DataLink> service;
    service = std::make_unique<DataLink>(
        *loop, std::move(*client), DataLink::Side::kService,
        std::vector<Outgoing>{{child_out.read, kDataStdout}, {child_err.read, kDataStderr}},
        std::vector<Incoming>{{kDataStdin, child_in.write}}, [&](Result<int> status) {
          outcome.service = status;
          service.reset();
          if (++finished == 2) loop->Stop();
        });
    std::thread feeder(Feed, in.write, std::cref(input));
    std::string out_text, err_text;
    std::thread out_reader([&] {
      if (caller_late) std::this_thread::sleep_for(std::chrono::milliseconds(300));
      out_text = ReadAll(out.read);
    });
    std::thread err_reader([&] { err_text = ReadAll(err.read); });
    // The service's exit is polled from the loop, as the agent will reap it.
    std::function<void()> reap = [&] {
      int status = 0;
      if (waitpid(child, &status, WNOHANG) != child)
        return static_cast<void>(loop->AddTimer(std::chrono::milliseconds(5), reap));
      service->SetExitCode(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
    };
    loop->AddTimer(std::chrono::milliseconds(5), reap);
    loop->AddTimer(std::chrono::seconds(60), [&] { loop->Stop(); });
    if (caller_late) {
      loop->AddTimer(std::chrono::milliseconds(100), [&] { EXPECT_TRUE(caller.Start()); });
    } else {
      EXPECT_TRUE(caller.Start());
    }
    EXPECT_TRUE(service->Start());
    EXPECT_TRUE(loop->Run());
    feeder.join();
    out_reader.join();
    err_reader.join();
    outcome.out = out_text;
    outcome.err = err_text;
    return outcome;
  }

  testing::ScopedTempDir dir_;
};

TEST_F(DataLinkTest, StdinStdoutStderrAndTheExitCode) {
  Outcome outcome = Call("cat; echo oops >&2; exit 3", "hello\n");
  ASSERT_TRUE(outcome.caller) << outcome.caller.error().Text();
  EXPECT_EQ(*outcome.caller, 3);
  EXPECT_TRUE(outcome.service);
  EXPECT_EQ(outcome.out, "hello\n");
  EXPECT_EQ(outcome.err, "oops\n");
}

TEST_F(DataLinkTest, ManyMegabytesThroughASmallRingArriveIntact) {
  std::string input;
  for (int i = 0; input.size() < 8 * 1024 * 1024; ++i)
    input += std::to_string(i * 2654435761U) + "\n";
  Outcome outcome = Call("cat", input, 4096);
  ASSERT_TRUE(outcome.caller) << outcome.caller.error().Text();
  EXPECT_EQ(*outcome.caller, 0);
  EXPECT_EQ(outcome.out.size(), input.size());
  EXPECT_TRUE(outcome.out == input);
}

TEST_F(DataLinkTest, OutputHeldForASlowReaderSurvivesTheServiceClosing) {
  // The service is done and gone long before the caller's terminal reads:
  // the caller takes output and exit code in one read, its terminal takes a
  // page, and the rest (the exit code with it) waits in the caller's
  // buffer, not the ring.
  Outcome outcome = Call("head -c 20000 /dev/zero; exit 5", "", 65536, true);
  ASSERT_TRUE(outcome.caller) << outcome.caller.error().Text();
  EXPECT_EQ(*outcome.caller, 5);
  EXPECT_EQ(outcome.out.size(), 20000u);
}

TEST_F(DataLinkTest, TheServiceMayEndBeforeReadingItsInput) {
  Outcome outcome = Call("echo done", std::string(1 << 20, 'x'));
  ASSERT_TRUE(outcome.caller) << outcome.caller.error().Text();
  EXPECT_EQ(*outcome.caller, 0);
  EXPECT_EQ(outcome.out, "done\n");
}

TEST_F(DataLinkTest, EmptyInputIsAnImmediateEndOfFile) {
  Outcome outcome = Call("wc -c", "");
  ASSERT_TRUE(outcome.caller);
  EXPECT_EQ(outcome.out.find('0') != std::string::npos, true) << outcome.out;
}

TEST_F(DataLinkTest, AServiceKilledByASignalReports128PlusIt) {
  Outcome outcome = Call("kill -9 $$", "");
  ASSERT_TRUE(outcome.caller);
  EXPECT_EQ(*outcome.caller, 128 + SIGKILL);
}

// Drains what a raw vchan holds, waiting up to `ms` for more.
std::vector<std::uint8_t> Drain(Vchan& vchan, EventLoop& loop, int ms) {
  loop.AddTimer(std::chrono::milliseconds(ms), [&] { loop.Stop(); });
  EXPECT_TRUE(loop.Run());
  (void)vchan.Wait();
  std::vector<std::uint8_t> bytes(vchan.DataReady());
  if (!bytes.empty()) bytes.resize(*vchan.Read(bytes));
  return bytes;
}

// Qubes' clients fail when the service side has sent its status and gone
// before their own HELLO: nothing but our HELLO may go out before theirs.
TEST_F(DataLinkTest, NothingButHelloBeforeThePeersHello) {
  Result<EventLoop> loop = EventLoop::Create();
  setenv("VCHAN_DOMAIN", "0", 1);
  Result<std::unique_ptr<Vchan>> caller = ServeVchan(5, 701, 65536);
  setenv("VCHAN_DOMAIN", "5", 1);
  Result<std::unique_ptr<Vchan>> service_end = ConnectVchan(0, 701);
  ASSERT_TRUE(caller && service_end);
  Vchan& peer = **caller;
  bool finished = false;
  DataLink service(*loop, std::move(*service_end), DataLink::Side::kService,
                   {{open("/dev/null", O_RDONLY | O_CLOEXEC), kDataStdout}}, {{kDataStdin, -1}},
                   [&](Result<int>) { finished = true; });
  ASSERT_TRUE(service.Start());
  service.SetExitCode(127);  // a missing service answers at once
  EXPECT_EQ(Drain(peer, *loop, 300), EncodeHello(kProtocolVersion));
  EXPECT_FALSE(finished) << "finished before the caller's HELLO";
  const std::vector<std::uint8_t> hello = EncodeHello(kProtocolVersion);
  ASSERT_EQ(*peer.Write(hello), hello.size());
  std::vector<std::uint8_t> expected = EncodeData(kDataStdout, {});
  const std::vector<std::uint8_t> exit = EncodeExitCode(127);
  expected.insert(expected.end(), exit.begin(), exit.end());
  EXPECT_EQ(Drain(peer, *loop, 300), expected);
  EXPECT_TRUE(finished);
}

TEST(FilterEscapesTest, OnlyPrintableAsciiTabAndNewlineStay) {
  std::string text = "ok\t\n\r\x1b[1m\x7f\x9b\xc2\x9b~";
  std::vector<std::uint8_t> bytes(text.begin(), text.end());
  FilterEscapes(bytes);
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "ok\t\n__[1m____~");
}

}  // namespace
}  // namespace qmin::qrx
