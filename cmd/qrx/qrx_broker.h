// qrx-broker's routing: it decides each call by the policy and sets calls
// up: VM to VM (the data goes directly between the two), VM to dom0 (dom0's
// service runs in a call process of the broker's), and dom0 to VM (from
// qrx-call in dom0, on the broker's local socket, without policy). Which
// domains exist and their agents' channels are DomainTable's; the policy and
// its reloading are PolicyStore's.
#ifndef QMIN_CMD_QRX_BROKER_H_
#define QMIN_CMD_QRX_BROKER_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "event_loop.h"
#include "log.h"
#include "policy_store.h"
#include "qrx_ask.h"
#include "qrx_domains.h"
#include "qrx_runner.h"
#include "rate_limit.h"
#include "unix_socket.h"

namespace qmin::qrx {

struct BrokerOptions {
  PolicySources sources;
  std::string socket_path = kBrokerSocket;
  RunnerConfig runner;  ///< dom0's own services
  std::string xvm_start = "/usr/sbin/xvm-start";
  /// Made by the xvm service while it stops the VMs (power-off): while it
  /// exists the broker starts nothing, and a call to a VM that is not
  /// running is refused at once.
  std::string stopping_flag = "/run/xvm-stopping";
  std::string ask_program;                  ///< "": ask is refused (the host is headless)
  std::size_t max_pending_per_domain = 16;  ///< calls waiting for a target to start
  std::size_t max_pending_total = 256;
  std::chrono::seconds autostart_timeout{60};
};

class Broker {
 public:
  Broker(EventLoop& loop, BrokerOptions options, Log& log);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  Status Start();

 private:
  /// What an allowed call needs to be set up.
  struct Routed {
    unsigned source = 0;  ///< 0 for dom0's own qrx-call
    std::string ident;    ///< the source's request ident
    std::string target;
    std::string user;       ///< "" for the target's default
    std::string service;    ///< "svc+arg"
    std::string requested;  ///< what the caller asked for, for dom0's services
    int client_fd = -1;     ///< dom0's qrx-call, or -1
  };
  /// A target whose last start failed: its calls are refused at once until
  /// `until`; each failure doubles the wait, from 1 s to at most 60 s.
  struct Backoff {
    EventLoop::Clock::time_point until;
    std::chrono::seconds next{1};
  };
  struct Pending {  ///< a call waiting for its target's agent
    Routed call;
    EventLoop::TimerId timeout = 0;
  };

  void OnAgentMessage(Domain& source, const Message& message);
  void OnTrigger(Domain& source, Trigger trigger);
  void OnDecision(Domain& source, const Trigger& trigger, const Decision& decision);
  void Dispatch(Routed call);
  void Wait(Routed call);
  void Refuse(unsigned source, const std::string& ident, int client_fd, const std::string& why);
  void Route(const Routed& call, Domain& target);
  void RunInDom0(const Routed& call);
  void Autostart(const std::string& name, const std::string& caller);
  void StartFailed(const std::string& target, const std::string& why);
  std::optional<std::chrono::seconds> BackingOff(const std::string& target) const;
  void RefuseWaiting(const std::string& target, const std::string& why);
  void OnAgentReady(Domain& domain);
  void OnDomainGone(const Domain& domain);
  std::uint32_t AllocatePort(unsigned a, unsigned b);
  void OnLocalConnect();
  void OnLocalData(int fd);
  void DropLocal(int fd);
  void OnSignal(int signo);
  void Reap();
  std::string Named(unsigned id);

  EventLoop& loop_;
  BrokerOptions options_;
  Log& log_;
  DomainTable domains_;
  std::unique_ptr<PolicyStore> policy_;
  std::optional<UnixListener> listener_;
  std::map<int, FrameReader> local_clients_;
  std::map<std::uint32_t, std::pair<unsigned, unsigned>> ports_;  ///< port -> its two domains
  std::vector<Pending> pending_;
  std::map<pid_t, std::string> autostarts_;    ///< xvm-start runs -> their target
  std::map<std::string, Backoff> backoffs_;    ///< targets whose start failed
  std::map<pid_t, std::uint32_t> dom0_calls_;  ///< dom0's call processes -> their port
  std::map<unsigned, TokenBucket> budgets_;    ///< requests each domain may still make
  LogLimiter notices_;
  std::unique_ptr<AskProgram> ask_;
};

}  // namespace qmin::qrx

#endif  // QMIN_CMD_QRX_BROKER_H_
