// sysfs as nic-handoff sees it, behind a seam: reads, writes, links, and
// whether a file is there. RealSysfs works below a root (/sys, or a fixture
// tree with --sysfs); unit tests put an in-memory model of the PCI driver
// core behind it instead, and inject a fault at any write.
#ifndef QMIN_LIB_SYSFS_H_
#define QMIN_LIB_SYSFS_H_

#include <string>

#include "error.h"

namespace qmin {

class Sysfs {
 public:
  virtual ~Sysfs() = default;
  /// PATH is relative to sysfs ("bus/pci/drivers/pciback/slots").
  virtual Result<std::string> Read(const std::string& path) = 0;
  /// One write(), as the kernel wants it for bind, unbind, new_slot...
  virtual Status Write(const std::string& path, const std::string& value) = 0;
  /// Where a link leads, as an absolute /sys path ("/sys/bus/pci/drivers/e1000").
  virtual Result<std::string> Resolve(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
};

class RealSysfs : public Sysfs {
 public:
  explicit RealSysfs(std::string root = "/sys") : root_(std::move(root)) {}
  Result<std::string> Read(const std::string& path) override;
  Status Write(const std::string& path, const std::string& value) override;
  Result<std::string> Resolve(const std::string& path) override;
  bool Exists(const std::string& path) override;

 private:
  std::string root_;
};

}  // namespace qmin

#endif  // QMIN_LIB_SYSFS_H_
