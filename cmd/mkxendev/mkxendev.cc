#include "mkxendev.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "files.h"
#include "misc_devices.h"

namespace qmin {
namespace {

// /proc/misc has a line per device; 64 KiB is far beyond any real one.
constexpr std::size_t kMaxProcFile = 64 * 1024;
constexpr unsigned kPtmxMajor = 5;
constexpr unsigned kPtmxMinor = 2;

std::vector<std::string> MissingAwaited(const std::vector<MiscDevice>& xen_devices) {
  std::vector<std::string> missing;
  for (const std::string& name : AwaitedXenDevices()) {
    const bool present = std::any_of(xen_devices.begin(), xen_devices.end(),
                                     [&](const MiscDevice& d) { return d.name == name; });
    if (!present) missing.push_back(name);
  }
  return missing;
}

Result<std::vector<MiscDevice>> ReadXenDevices(const std::string& misc_path) {
  Result<std::string> text = ReadSmallFile(misc_path, kMaxProcFile);
  if (!text) return text.error();
  Result<std::vector<MiscDevice>> all = ParseMiscDevices(*text, misc_path);
  if (!all) return all.error();
  return XenMiscDevices(*all, misc_path);
}

// Polls /proc/misc every 100 ms (sleeping in between, never spinning) until
// the awaited devices are all there or the time is up.
Result<std::vector<MiscDevice>> WaitForXenDevices(const MkxendevOptions& options,
                                                  std::vector<std::string>& late) {
  const std::string misc_path = options.proc + "/misc";
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(options.wait_seconds);
  for (;;) {
    Result<std::vector<MiscDevice>> devices = ReadXenDevices(misc_path);
    if (!devices) return devices;
    late = MissingAwaited(*devices);
    if (late.empty() || options.wait_seconds == 0 || std::chrono::steady_clock::now() >= deadline)
      return devices;
    const struct timespec pause = {0, 100 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
}

Status CheckWritableDir(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) return SystemError("create nodes in " + dir, errno);
  if (!S_ISDIR(st.st_mode)) return InvalidError("create nodes in " + dir, "not a directory");
  if (access(dir.c_str(), W_OK) != 0) return SystemError("create nodes in " + dir, errno);
  return {};
}

// Plans the xen directory: absent (make it, needs a writable /dev), a
// directory (fine), or anything else (in the way).
Status PlanXenDir(const std::string& dev_dir, MkxendevPlan& plan) {
  struct stat st {};
  if (lstat(plan.xen_dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      return InvalidError("create " + plan.xen_dir, "something else is in the way");
    return {};
  }
  if (errno != ENOENT) return SystemError("inspect " + plan.xen_dir, errno);
  plan.make_xen_dir = true;
  return CheckWritableDir(dev_dir);
}

Result<NodeSpec> Hvc0Spec(const MkxendevOptions& options, const std::string& dev_dir) {
  const std::string path = options.sys + "/class/tty/hvc0/dev";
  Result<std::string> text = ReadSmallFile(path, 64);
  if (!text) return text.error();
  Result<NodeSpec> spec = ParseDevNumbers(*text, path);
  if (!spec) return spec;
  spec->path = dev_dir + "/hvc0";
  return spec;
}

std::vector<MountSpec> MissingMounts(const MkxendevOptions& options, const std::string& dev_dir,
                                     const std::string& mounts) {
  const MountSpec wanted[] = {
      {"xenfs", "xenfs", options.proc + "/xen", "", 0},
      // gid 5 is the tty group on Alpine and Debian; xenconsoled opens ptys here.
      {"devpts", "devpts", dev_dir + "/pts", "gid=5,mode=0620,ptmxmode=0666",
       MS_NOSUID | MS_NOEXEC},
  };
  std::vector<MountSpec> missing;
  for (const MountSpec& spec : wanted)
    if (!IsMounted(mounts, spec)) missing.push_back(spec);
  return missing;
}

}  // namespace

const std::vector<std::string>& AwaitedXenDevices() {
  static const std::vector<std::string> kAwaited = {"evtchn", "gntdev", "privcmd", "xenbus"};
  return kAwaited;
}

Result<MkxendevPlan> PlanMkxendev(const MkxendevOptions& options) {
  MkxendevPlan plan;
  const std::string dev_dir = UnderRoot(options.root, "/dev");
  plan.xen_dir = dev_dir + "/xen";

  Result<std::vector<MiscDevice>> xen_devices = WaitForXenDevices(options, plan.late);
  if (!xen_devices) return xen_devices.error();
  Result<NodeSpec> hvc0 = Hvc0Spec(options, dev_dir);
  if (!hvc0) return hvc0.error();

  if (options.mount) {
    Result<std::string> mounts = ReadSmallFile(options.proc + "/mounts", 1024 * 1024);
    if (!mounts) return mounts.error();
    plan.mounts = MissingMounts(options, dev_dir, *mounts);
  }
  if (Status status = PlanXenDir(dev_dir, plan); !status) return status.error();

  std::vector<NodeSpec> specs;
  for (const MiscDevice& device : *xen_devices)
    specs.push_back(NodeSpec{plan.xen_dir + "/" + device.name, kMiscMajor, device.minor, 0600});
  specs.push_back(*hvc0);
  // openpty() opens /dev/ptmx; a bare tmpfs /dev has none, and xenconsoled needs it.
  specs.push_back(NodeSpec{dev_dir + "/ptmx", kPtmxMajor, kPtmxMinor, 0666});

  bool dev_dir_changes = false;
  bool xen_dir_changes = false;
  for (const NodeSpec& spec : specs) {
    Result<NodeStep> step = PlanNode(spec);
    if (!step) return step.error();
    if (step->action != NodeAction::kKeep) {
      (spec.path.rfind(plan.xen_dir + "/", 0) == 0 ? xen_dir_changes : dev_dir_changes) = true;
    }
    plan.nodes.push_back(std::move(*step));
  }
  if (dev_dir_changes) {
    if (Status status = CheckWritableDir(dev_dir); !status) return status.error();
  }
  if (xen_dir_changes && !plan.make_xen_dir) {
    if (Status status = CheckWritableDir(plan.xen_dir); !status) return status.error();
  }
  return plan;
}

std::vector<std::string> DescribeMkxendevPlan(const MkxendevPlan& plan) {
  std::vector<std::string> lines;
  for (const MountSpec& spec : plan.mounts) lines.push_back(DescribeMount(spec));
  if (plan.make_xen_dir) lines.push_back("mkdir " + plan.xen_dir);
  for (const NodeStep& step : plan.nodes) lines.push_back(DescribeNodeStep(step));
  return lines;
}

Status ApplyMkxendev(const MkxendevPlan& plan,
                     const std::function<void(const std::string&)>& done) {
  for (const MountSpec& spec : plan.mounts) {
    if (Status status = MountFileSystem(spec); !status) return status;
    done(DescribeMount(spec));
  }
  if (plan.make_xen_dir) {
    if (mkdir(plan.xen_dir.c_str(), 0755) != 0 && errno != EEXIST)
      return SystemError("create " + plan.xen_dir, errno);
    done("mkdir " + plan.xen_dir);
  }
  for (const NodeStep& step : plan.nodes) {
    if (Status status = ApplyNode(step); !status) return status;
    done(DescribeNodeStep(step));
  }
  return {};
}

Status CheckLateDevices(const MkxendevPlan& plan, const MkxendevOptions& options) {
  if (plan.late.empty() || options.wait_seconds == 0) return {};
  std::string names;
  for (const std::string& name : plan.late) names += (names.empty() ? "xen/" : ", xen/") + name;
  return Error{ExitCode::kTemporary, "find " + names + " in " + options.proc + "/misc",
               "not there after " + std::to_string(options.wait_seconds) + " s", ETIMEDOUT};
}

}  // namespace qmin
