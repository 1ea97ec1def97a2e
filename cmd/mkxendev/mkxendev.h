// mkxendev: the Xen device environment of a PV domain on a /dev without
// devtmpfs (DESIGN.md §3). Work is planned first and done second, so that bad
// input or something in the way stops the run before anything is made.
#ifndef QMIN_CMD_MKXENDEV_H_
#define QMIN_CMD_MKXENDEV_H_

#include <functional>
#include <string>
#include <vector>

#include "device_nodes.h"
#include "error.h"
#include "mounts.h"

namespace qmin {

struct MkxendevOptions {
  std::string root = "/";      ///< where /dev lives (image building, tests)
  std::string proc = "/proc";  ///< where misc and mounts are read, and xenfs goes
  std::string sys = "/sys";    ///< where class/tty/hvc0/dev is read
  bool mount = true;           ///< mount xenfs and devpts where missing
  unsigned wait_seconds = 0;   ///< how long to wait for late module init
};

struct MkxendevPlan {
  std::vector<MountSpec> mounts;  ///< only those that are missing
  std::string xen_dir;            ///< <root>/dev/xen
  bool make_xen_dir = false;
  std::vector<NodeStep> nodes;
  std::vector<std::string> late;  ///< awaited devices still absent after the wait
};

/// The devices a Xen domain's tools open (evtchn, gntdev, privcmd, xenbus);
/// --wait waits for these. privcmd is absent in a domU without xen-privcmd.
const std::vector<std::string>& AwaitedXenDevices();

/// Reads /proc/misc (waiting up to wait_seconds for the awaited devices),
/// the hvc0 numbers and the mounts table, and decides what to do.
Result<MkxendevPlan> PlanMkxendev(const MkxendevOptions& options);

/// One line per step, in the order ApplyMkxendev does them.
std::vector<std::string> DescribeMkxendevPlan(const MkxendevPlan& plan);

/// Carries the plan out; `done` hears each step's line after it succeeded.
Status ApplyMkxendev(const MkxendevPlan& plan, const std::function<void(const std::string&)>& done);

/// An error (exit 111) when the wait ran out with awaited devices missing.
Status CheckLateDevices(const MkxendevPlan& plan, const MkxendevOptions& options);

}  // namespace qmin

#endif  // QMIN_CMD_MKXENDEV_H_
