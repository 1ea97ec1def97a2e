// The simulation vchan transport keeps the promises of vchan.h that qrx
// relies on: roles, partial I/O over a finite ring, states, and an
// edge-like fd.
#include <poll.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "test_util.h"
#include "vchan.h"

namespace qmin {
namespace {

bool Readable(int fd, int timeout_ms = 0) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

class SocketVchanTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("VCHAN_SOCKET_DIR", dir_.path().c_str(), 1); }
  void TearDown() override { unsetenv("VCHAN_DOMAIN"); }

  // Domain 0 serves domain 5 on `port`; returns {server, client}, connected.
  std::pair<std::unique_ptr<Vchan>, std::unique_ptr<Vchan>> Pair(unsigned port,
                                                                 std::size_t ring = 4096) {
    setenv("VCHAN_DOMAIN", "0", 1);
    Result<std::unique_ptr<Vchan>> server = ServeVchan(5, port, ring);
    EXPECT_TRUE(server) << server.error().Text();
    EXPECT_EQ((*server)->state(), Vchan::State::kWaiting);
    setenv("VCHAN_DOMAIN", "5", 1);
    Result<std::unique_ptr<Vchan>> client = ConnectVchan(0, port);
    EXPECT_TRUE(client) << client.error().Text();
    EXPECT_TRUE(Readable((*server)->fd(), 1000)) << "a connecting client must wake the server";
    EXPECT_TRUE((*server)->Wait());
    EXPECT_EQ((*server)->state(), Vchan::State::kOpen);
    return {std::move(*server), std::move(*client)};
  }

  testing::ScopedTempDir dir_;
};

TEST_F(SocketVchanTest, TheSocketIsNamedServerClientPort) {
  setenv("VCHAN_DOMAIN", "3", 1);
  Result<std::unique_ptr<Vchan>> server = ServeVchan(7, 513, 0);
  ASSERT_TRUE(server);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "vchan.3.7.513.sock"));
}

TEST_F(SocketVchanTest, AClientBeforeItsServerFailsWithEnoent) {
  setenv("VCHAN_DOMAIN", "5", 1);
  Result<std::unique_ptr<Vchan>> client = ConnectVchan(0, 512);
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().errnum, ENOENT);
}

TEST_F(SocketVchanTest, BytesTravelBothWays) {
  auto [server, client] = Pair(512);
  const std::string hello = "hello";
  ASSERT_EQ(
      *client->Write(std::span(reinterpret_cast<const std::uint8_t*>(hello.data()), hello.size())),
      5U);
  ASSERT_TRUE(Readable(server->fd(), 1000));
  ASSERT_TRUE(server->Wait());
  EXPECT_EQ(server->DataReady(), 5U);
  std::uint8_t buffer[16];
  EXPECT_EQ(*server->Read(buffer), 5U);
  EXPECT_EQ(std::string(buffer, buffer + 5), hello);
  ASSERT_EQ(*server->Write(std::span<const std::uint8_t>(buffer, 2)), 2U);
  ASSERT_TRUE(Readable(client->fd(), 1000));
  ASSERT_TRUE(client->Wait());
  EXPECT_EQ(*client->Read(buffer), 2U);
}

TEST_F(SocketVchanTest, TheFdIsEdgeLike) {
  auto [server, client] = Pair(513);
  const std::uint8_t bytes[3] = {1, 2, 3};
  ASSERT_EQ(*client->Write(bytes), 3U);
  ASSERT_TRUE(Readable(server->fd(), 1000));
  ASSERT_TRUE(server->Wait());
  std::uint8_t one[1];
  ASSERT_EQ(*server->Read(one), 1U);
  // Two bytes remain, but no new event came: the fd stays quiet.
  EXPECT_FALSE(Readable(server->fd(), 50));
  EXPECT_EQ(server->DataReady(), 2U);
  ASSERT_EQ(*client->Write(bytes), 3U);
  EXPECT_TRUE(Readable(server->fd(), 1000));
}

TEST_F(SocketVchanTest, WritesArePartialOverAFiniteRing) {
  auto [server, client] = Pair(514, 4096);
  std::vector<std::uint8_t> big(1 << 20, 'x');
  std::size_t sent = 0;
  for (int i = 0; i < 100; ++i) {
    Result<std::size_t> wrote = client->Write(std::span(big).subspan(sent));
    ASSERT_TRUE(wrote);
    if (*wrote == 0) break;
    sent += *wrote;
  }
  EXPECT_GT(sent, 0U);
  EXPECT_LT(sent, big.size()) << "the ring must fill up";
  EXPECT_EQ(client->BufferSpace(), 0U);
  // The reader sees at most its ring, and draining it makes room again.
  ASSERT_TRUE(server->Wait());
  EXPECT_LE(server->DataReady(), 4096U);
  std::vector<std::uint8_t> sink(1 << 20);
  std::size_t received = 0;
  while (received < sent) {
    if (!Readable(server->fd(), 1000) && server->DataReady() == 0) break;
    ASSERT_TRUE(server->Wait());
    received += *server->Read(sink);
  }
  EXPECT_EQ(received, sent);
  EXPECT_GT(client->BufferSpace(), 0U);
}

TEST_F(SocketVchanTest, ClosingIsSeenAndLeftoverDataStaysReadable) {
  auto [server, client] = Pair(515);
  const std::uint8_t bytes[4] = {1, 2, 3, 4};
  ASSERT_EQ(*client->Write(bytes), 4U);
  client.reset();
  ASSERT_TRUE(Readable(server->fd(), 1000));
  ASSERT_TRUE(server->Wait());
  EXPECT_EQ(server->state(), Vchan::State::kClosed);
  std::uint8_t buffer[8];
  EXPECT_EQ(*server->Read(buffer), 4U);
  EXPECT_EQ(server->BufferSpace(), 0U);
}

}  // namespace
}  // namespace qmin
