// Character device nodes made atomically: mknod under a temporary name in the
// same directory, then rename() over the target, so a reader never sees a
// missing or half-made node. Planning is separate from doing so that a caller
// can refuse the whole job before touching anything.
#ifndef QMIN_LIB_DEVICE_NODES_H_
#define QMIN_LIB_DEVICE_NODES_H_

#include <sys/types.h>

#include <string>

#include "error.h"

namespace qmin {

struct NodeSpec {
  std::string path;
  unsigned major = 0;
  unsigned minor = 0;
  mode_t mode = 0600;
};

enum class NodeAction {
  kKeep,     ///< a character device with the right numbers is there: leave it as it is
  kCreate,   ///< nothing is there
  kReplace,  ///< a device node with other numbers, or a block device, is there
};

struct NodeStep {
  NodeSpec spec;
  NodeAction action = NodeAction::kCreate;
  std::string was;  ///< for kReplace: what is there now, e.g. "c 10:99"
};

/// Looks at what is at spec.path. Anything that is not a device node (a
/// regular file, a directory, a symlink, a FIFO, a socket) is in the way and
/// an error (exit 100): it may be someone's data, so it is never removed.
Result<NodeStep> PlanNode(const NodeSpec& spec);

/// Carries out a step planned by PlanNode. kKeep does nothing.
Status ApplyNode(const NodeStep& step);

/// "MAJOR:MINOR" as in /sys/class/*/dev, strictly; `source` names the file.
Result<NodeSpec> ParseDevNumbers(std::string_view text, std::string_view source);

/// One line for -n and -v: "mknod /dev/xen/evtchn c 10 122", "keep /dev/xen/xenbus", ...
std::string DescribeNodeStep(const NodeStep& step);

}  // namespace qmin

#endif  // QMIN_LIB_DEVICE_NODES_H_
