// qrx-broker's routing: it follows domains through xenstore by itself
// (@introduceDomain/@releaseDomain, names from /local/domain/<id>/name),
// connects to each domain's agent, decides each call by the policy, and
// sets calls up: VM to VM (the data goes directly between the two), VM to
// dom0 (the broker runs dom0's service itself), and dom0 to VM (from
// qrx-call in dom0, on the broker's local socket, without policy).
#ifndef QMIN_LIB_QRX_BROKER_H_
#define QMIN_LIB_QRX_BROKER_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "event_loop.h"
#include "log.h"
#include "policy_store.h"
#include "qrx_channel.h"
#include "qrx_runner.h"
#include "xenstore.h"
#include "xenstore_watcher.h"

namespace qmin::qrx {

struct BrokerOptions {
  PolicySources sources;
  std::string socket_path = "/run/qubes/qrx-broker.sock";
  std::vector<std::string> rpc_dirs = {"/etc/qubes-rpc"};
  std::string xvm_start = "/usr/sbin/xvm-start";
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
  struct Domain {
    unsigned id = 0;
    std::string name;
    std::unique_ptr<ControlChannel> control;
    EventLoop::TimerId retry = 0;
    int backoff_ms = 50;
    std::string agent_key;  ///< the xenstore key watched for the agent to serve, if any
    std::size_t pending = 0;
  };
  struct Pending {  ///< a call waiting for its target's agent
    unsigned source = 0;
    std::string ident;
    std::string target;
    std::string command_user;
    std::string service;
    EventLoop::TimerId timeout = 0;
    int client_fd = -1;  ///< dom0's qrx-call, or -1
  };

  void Rescan();
  void AddDomain(unsigned id, const std::string& name);
  void DropDomain(unsigned id);
  void TryConnect(unsigned id);
  void AwaitAgent(Domain& domain);
  void StopAwaitingAgent(Domain& domain);
  void OnWatchEvents();
  void OnAgentMessage(unsigned id, const Message& message);
  void OnTrigger(Domain& source, const Trigger& trigger);
  void Refuse(Domain& source, const std::string& ident, const std::string& why);
  void Route(unsigned source, const std::string& ident, Domain& target, const std::string& user,
             const std::string& service, int client_fd);
  void RunInDom0(Domain& source, const std::string& ident, const std::string& service);
  void Autostart(const std::string& name);
  void OnAgentReady(Domain& domain);
  Domain* ByName(const std::string& name);
  std::string UserFor(const std::string& target, const std::string& user) const;
  std::uint32_t AllocatePort(unsigned a, unsigned b);
  void FreePort(std::uint32_t port);
  void OnLocalConnect();
  void OnLocalData(int fd);
  void OnSignal(int signo);
  void ReloadPolicy();

  EventLoop& loop_;
  BrokerOptions options_;
  Log& log_;
  std::unique_ptr<Xenstore> xs_;
  std::unique_ptr<XenstoreWatcher> watcher_;
  int listen_fd_ = -1;
  Policy policy_;
  bool loaded_once_ = false;
  std::unique_ptr<PolicyWatch> policy_watch_;
  std::map<unsigned, Domain> domains_;
  std::map<std::uint32_t, std::pair<unsigned, unsigned>>
      ports_;  ///< port -> the two domains using it
  std::vector<Pending> pending_;
  std::map<int, std::vector<std::uint8_t>> local_clients_;
  ServiceRunner runner_;
};

}  // namespace qmin::qrx

#endif  // QMIN_LIB_QRX_BROKER_H_
