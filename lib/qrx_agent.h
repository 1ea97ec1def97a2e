// qrx-agent: qrexec-agent's replacement inside a VM. It serves the control
// vchan (port 512) to the broker in dom0, takes calls from qrx-call on a
// local socket and forwards them, and runs the services the broker asks for,
// each with its data on its own vchan.
#ifndef QMIN_LIB_QRX_AGENT_H_
#define QMIN_LIB_QRX_AGENT_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "event_loop.h"
#include "log.h"
#include "qrx_channel.h"
#include "qrx_runner.h"

namespace qmin::qrx {

struct AgentOptions {
  std::string socket_path = "/var/run/qubes/qrexec-agent";
  std::vector<std::string> rpc_dirs = {"/etc/qubes-rpc", "/usr/local/etc/qubes-rpc"};
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
    std::vector<std::uint8_t> in;
    bool forwarded = false;
    EventLoop::TimerId timeout = 0;
  };
  void ServeControl();
  void OnControlMessage(const Message& message);
  void OnClientConnect();
  void OnClientData(int fd);
  void DropClient(int fd);
  void OnSignal(int signo);

  EventLoop& loop_;
  AgentOptions options_;
  Log& log_;
  std::unique_ptr<ControlChannel> control_;
  int listen_fd_ = -1;
  std::map<int, Client> clients_;
  ServiceRunner runner_;
};

}  // namespace qmin::qrx

#endif  // QMIN_LIB_QRX_AGENT_H_
