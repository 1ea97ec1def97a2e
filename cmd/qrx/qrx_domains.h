// The domains qrx-broker follows, each with its agent's control channel. It
// follows domains by itself: xenstore's @introduceDomain and @releaseDomain
// watches, names from /local/domain/<id>/name; it connects to each agent
// when the agent serves (watching the key libxenvchan writes last, never
// polling on Xen), reconnects with a growing pause, and forgets domains that
// are gone. The broker routes calls; this only keeps the table.
#ifndef QMIN_CMD_QRX_DOMAINS_H_
#define QMIN_CMD_QRX_DOMAINS_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "event_loop.h"
#include "log.h"
#include "qrx_channel.h"
#include "xenstore.h"
#include "xenstore_watcher.h"

namespace qmin::qrx {

struct Domain {
  unsigned id = 0;
  std::string name;
  std::unique_ptr<ControlChannel> control;
  EventLoop::TimerId retry = 0;
  int backoff_ms = 50;
  std::string agent_key;  ///< the xenstore key watched for the agent to serve, if any
  bool ready() const { return control && control->ready(); }
};

class DomainTable {
 public:
  struct Callbacks {
    std::function<void(Domain&, const Message&)> message;  ///< from the domain's agent
    std::function<void(Domain&)> ready;                    ///< its agent has greeted
    std::function<void(const Domain&)> gone;               ///< called before it is forgotten
  };
  DomainTable(EventLoop& loop, Log& log, Callbacks callbacks);
  DomainTable(const DomainTable&) = delete;
  DomainTable& operator=(const DomainTable&) = delete;

  /// Connects to xenstore, watches for domains and takes those there now.
  Status Start();
  Domain* Find(unsigned id);
  Domain* ByName(const std::string& name);

 private:
  void Rescan();
  void Add(unsigned id, const std::string& name);
  void Drop(unsigned id);
  void TryConnect(unsigned id);
  void OnCut(unsigned id, const Error& why);
  void AwaitAgent(Domain& domain);
  void StopAwaitingAgent(Domain& domain);
  void OnWatchEvents();

  EventLoop& loop_;
  Log& log_;
  Callbacks callbacks_;
  std::unique_ptr<Xenstore> xs_;
  std::unique_ptr<XenstoreWatcher> watcher_;
  std::map<unsigned, Domain> domains_;
};

}  // namespace qmin::qrx

#endif  // QMIN_CMD_QRX_DOMAINS_H_
