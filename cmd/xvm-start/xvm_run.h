// The two runs of xvm-start on an event loop: Starter brings VMs up in
// dependency order, Stopper takes them down the other way round. Both run
// xl through XlJobs and follow domains through xenstore watches.
#ifndef QMIN_CMD_XVM_RUN_H_
#define QMIN_CMD_XVM_RUN_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "event_loop.h"
#include "log.h"
#include "xenstore.h"
#include "xenstore_watcher.h"
#include "xl_jobs.h"
#include "xvm_start.h"

namespace qmin {

/// What both runs share: xl, xenstore, the watcher and the signals.
class XvmRun {
 public:
  XvmRun(EventLoop& loop, Log& log, const XvmOptions& options, const VmMap& vms);
  virtual ~XvmRun() = default;
  XvmRun(const XvmRun&) = delete;
  XvmRun& operator=(const XvmRun&) = delete;

  /// Connects, takes stock of running domains, and starts work.
  Status Begin();
  /// 0 when everything went as asked, 1 otherwise.
  int status() const { return failed_ ? 1 : 0; }

 protected:
  virtual void Launch() = 0;
  virtual void OnDomainsChanged() = 0;
  virtual void OnWatch(const std::string& name) = 0;
  virtual bool Done() const = 0;
  void MaybeDone();
  Status Watch(const std::string& path, const std::string& name);
  void Unwatch(const std::string& path, const std::string& name);
  std::map<unsigned, std::string> DomainNames();

  EventLoop& loop_;
  Log& log_;
  const XvmOptions& options_;
  const VmMap& vms_;
  XlJobs xl_;
  std::unique_ptr<Xenstore> xs_;
  std::unique_ptr<XenstoreWatcher> watcher_;
  bool failed_ = false;

 private:
  void OnEvents();
  void Reap();
};

class Starter : public XvmRun {
 public:
  Starter(EventLoop& loop, Log& log, const XvmOptions& options, const VmMap& vms,
          std::vector<std::string> plan, UpReport up);

 private:
  enum class State { kWaiting, kCreating, kReadying, kUp, kFailed, kSkipped };
  struct Vm {
    State state = State::kWaiting;
    unsigned domid = 0;
    bool restarting = false;  ///< its domain went; xl is to bring it back
    EventLoop::TimerId deadline = 0;
    std::vector<std::string> watched;
  };
  void Launch() override;
  void OnDomainsChanged() override;
  void OnWatch(const std::string& name) override;
  bool Done() const override;
  std::string Preflight(const VmDefinition& vm) const;
  void Create(const std::string& name);
  void OnCreated(const std::string& name, int status, const std::string& said);
  void Await(const std::string& name);
  Status WatchReadiness(const std::string& name);
  void UnwatchReadiness(Vm& vm, const std::string& name);
  void Follow(const std::string& name, std::optional<unsigned> domid);
  void Check(const std::string& name);
  std::string Missing(const std::string& name, bool& failed);
  void Up(const std::string& name);
  void Fail(const std::string& name, const std::string& why);
  void DestroyLeftover(const std::string& name);
  void StopWaiting(Vm& vm, const std::string& name);

  std::vector<std::string> plan_;
  UpReport up_;
  std::map<std::string, Vm> state_;
};

class Stopper : public XvmRun {
 public:
  Stopper(EventLoop& loop, Log& log, const XvmOptions& options, const VmMap& vms,
          std::vector<std::string> plan);

 private:
  struct Vm {
    bool running = false;
    unsigned domid = 0;        ///< its domain now, when running
    bool stopping = false;     ///< an xl shutdown or destroy of it is under way
    bool went = false;         ///< it was down once in this run
    unsigned asked = 0;        ///< the domain an xl shutdown was sent to (not asked again)
    pid_t shutdown = -1;       ///< that xl shutdown -w
    bool coming_back = false;  ///< it shut down for a reason xl restarts it for
  };
  void Launch() override;
  void OnDomainsChanged() override;
  void OnWatch(const std::string&) override {}
  bool Done() const override;
  void Stop(const std::string& name);
  void Destroy(const std::string& name);
  void Gone(const std::string& name);
  void OnDeadline();
  void GiveUp();
  void ExpectBack(const std::string& name, const std::string& said);

  std::vector<std::string> plan_;
  std::map<std::string, Vm> state_;
  /// Past the one deadline of the whole run, what still runs is destroyed;
  /// past a grace after it, the run gives up on what keeps coming back.
  bool expired_ = false;
  bool given_up_ = false;
  bool looked_ = false;  ///< the domains were read once: a VM named and not running is said
};

}  // namespace qmin

#endif  // QMIN_CMD_XVM_RUN_H_
