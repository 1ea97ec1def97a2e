#include "event_loop.h"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace qmin {
namespace {

using std::chrono::milliseconds;

TEST(EventLoopTest, DispatchesReadyDescriptors) {
  Result<EventLoop> loop = EventLoop::Create();
  ASSERT_TRUE(loop);
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  std::string got;
  ASSERT_TRUE(loop->Add(pipe_fds[0], EPOLLIN, [&](std::uint32_t) {
    char buffer[16];
    const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
    got.append(buffer, static_cast<std::size_t>(n));
    loop->Stop();
  }));
  ASSERT_EQ(write(pipe_fds[1], "hi", 2), 2);
  ASSERT_TRUE(loop->Run());
  EXPECT_EQ(got, "hi");
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

TEST(EventLoopTest, TimersRunInOrderAndCanBeCancelled) {
  Result<EventLoop> loop = EventLoop::Create();
  std::vector<int> order;
  loop->AddTimer(milliseconds(30), [&] {
    order.push_back(3);
    loop->Stop();
  });
  const auto cancelled = loop->AddTimer(milliseconds(10), [&] { order.push_back(99); });
  loop->AddTimer(milliseconds(5), [&] { order.push_back(1); });
  loop->AddTimer(milliseconds(20), [&] { order.push_back(2); });
  loop->CancelTimer(cancelled);
  ASSERT_TRUE(loop->Run());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(EventLoopTest, ACallbackMayRemoveItsOwnDescriptor) {
  Result<EventLoop> loop = EventLoop::Create();
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  int calls = 0;
  ASSERT_TRUE(loop->Add(pipe_fds[0], EPOLLIN, [&](std::uint32_t) {
    ++calls;
    loop->Remove(pipe_fds[0]);
  }));
  ASSERT_EQ(write(pipe_fds[1], "x", 1), 1);
  loop->AddTimer(milliseconds(50), [&] { loop->Stop(); });
  ASSERT_TRUE(loop->Run());
  EXPECT_EQ(calls, 1) << "level-triggered, but removed after the first call";
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

TEST(EventLoopTest, AnIdleLoopSleeps) {
  Result<EventLoop> loop = EventLoop::Create();
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  loop->AddTimer(milliseconds(300), [&] { loop->Stop(); });
  const auto start = EventLoop::Clock::now();
  ASSERT_TRUE(loop->Run());
  getrusage(RUSAGE_SELF, &after);
  EXPECT_GE(EventLoop::Clock::now() - start, milliseconds(290));
  const auto cpu_us = [](const rusage& r) {
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000L + r.ru_utime.tv_usec +
           r.ru_stime.tv_usec;
  };
  EXPECT_LT(cpu_us(after) - cpu_us(before), 20000) << "300 ms of waiting must cost (almost) no CPU";
}

}  // namespace
}  // namespace qmin
