// qrx-agent: qrexec-agent's replacement inside a VM. It serves the control
// vchan (port 512) to the broker in dom0, takes calls from qrx-call (or
// Qubes' qrexec-client-vm) on a local socket and forwards them, and runs
// what the broker asks for, each call in a process of its own (qrx_runner).
#ifndef QMIN_CMD_QRX_AGENT_H_
#define QMIN_CMD_QRX_AGENT_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "event_loop.h"
#include "log.h"
#include "qrx_channel.h"
#include "qrx_runner.h"
#include "unix_socket.h"

namespace qmin::qrx {

struct AgentOptions {
  std::string socket_path = kAgentSocket;
  RunnerConfig runner;
  std::size_t max_pending = 64;  ///< calls from qrx-call waiting for the broker
};

class Agent {
 public:
  Agent(EventLoop& loop, AgentOptions options, Log& log);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  Status Start();

 private:
  struct Client {
    FrameReader reader{Link::kFromLocalClient, kMaxFrameSize};
    std::string ident;  ///< set once forwarded; never used for another call
    EventLoop::TimerId timeout = 0;
  };
  struct Running {  ///< a call's process and the data port it used
    std::uint32_t domain = 0;
    std::uint32_t port = 0;
  };
  void ServeControl();
  void OnControlMessage(const Message& message);
  void OnAnswer(const std::string& ident, const std::optional<ServiceConnect>& connect);
  void OnClientConnect();
  void OnClientData(int fd);
  void Forward(int fd, Client& client, Trigger trigger);
  void DropClient(int fd);
  void OnSignal(int signo);
  void Reap();

  EventLoop& loop_;
  AgentOptions options_;
  Log& log_;
  std::unique_ptr<ControlChannel> control_;
  std::optional<UnixListener> listener_;
  std::map<int, Client> clients_;
  std::uint64_t next_ident_ = 1;
  std::map<pid_t, Running> calls_;
};

}  // namespace qmin::qrx

#endif  // QMIN_CMD_QRX_AGENT_H_
