#include "xen_host.h"

#include <cctype>

#include "domid.h"
#include "files.h"
#include "text.h"
#include "vm_facts.h"

namespace qmin {
namespace {

constexpr std::size_t kMaxXl = 16 << 20;

}  // namespace

Result<std::map<unsigned, std::string>> ReadDomainNames(const Xenstore& xs) {
  Result<std::vector<std::string>> ids = xs.Directory("/local/domain");
  if (!ids) return ids.error();
  std::map<unsigned, std::string> names;
  for (const std::string& text : *ids) {
    const auto id = ParseDomainId(text);
    if (!id || *id == 0) continue;
    Result<std::string> name = xs.Read("/local/domain/" + text + "/name");
    if (name && IsValidVmName(*name) && *name != kAdminVmName) names[*id] = *name;
  }
  return names;
}

Result<DomainWatch> WatchDomains(const std::string& token) {
  Result<Xenstore> xs = Xenstore::Open();
  if (!xs) return xs.error();
  Result<XenstoreWatcher> watcher = XenstoreWatcher::Open();
  if (!watcher) return watcher.error();
  DomainWatch watch{std::make_unique<Xenstore>(std::move(*xs)),
                    std::make_unique<XenstoreWatcher>(std::move(*watcher))};
  for (const char* path : {"@introduceDomain", "@releaseDomain"})
    if (Status watched = watch.watcher->Watch(path, token); !watched) return watched.error();
  return watch;
}

std::optional<unsigned> FindDomain(const std::map<unsigned, std::string>& names,
                                   const std::string& name) {
  for (const auto& [id, known] : names)
    if (known == name) return id;
  return std::nullopt;
}

std::string VifBackendPath(unsigned backend, unsigned domid, unsigned devid) {
  return "/local/domain/" + std::to_string(backend) + "/backend/vif/" + std::to_string(domid) +
         "/" + std::to_string(devid);
}

VifStatus ReadVifStatus(const Xenstore& xs, const std::string& backend_path) {
  static constexpr char kXenbusConnected[] = "4";
  VifStatus status;
  if (Result<std::string> error = xs.Read(backend_path + "/hotplug-error");
      error && !error->empty()) {
    status.state = VifStatus::State::kFailed;
    status.error = *error;
    return status;
  }
  Result<std::string> state = xs.Read(backend_path + "/state");
  Result<std::string> hotplug = xs.Read(backend_path + "/hotplug-status");
  if (state && *state == kXenbusConnected && hotplug && *hotplug == "connected")
    status.state = VifStatus::State::kConnected;
  return status;
}

std::optional<std::string> HypervisorVersion(const std::string& sys) {
  Result<std::string> major = ReadSmallFile(sys + "/hypervisor/version/major", 64);
  Result<std::string> minor = ReadSmallFile(sys + "/hypervisor/version/minor", 64);
  if (!major || !minor) return std::nullopt;
  const std::string version = Trimmed(*major) + "." + Trimmed(*minor);
  return ParseUnsigned(Trimmed(*major), 99) && ParseUnsigned(Trimmed(*minor), 99)
             ? std::optional(version)
             : std::nullopt;
}

std::optional<std::string> ToolstackVersion(const std::string& xl) {
  Result<std::string> binary = ReadSmallFile(xl, kMaxXl);
  if (!binary) return std::nullopt;
  static constexpr std::string_view kSoname = "libxenlight.so.";
  for (std::size_t at = binary->find(kSoname); at != std::string::npos;
       at = binary->find(kSoname, at + 1)) {
    std::size_t end = at + kSoname.size();
    while (end < binary->size() &&
           (std::isdigit(static_cast<unsigned char>((*binary)[end])) || (*binary)[end] == '.'))
      ++end;
    const std::string version = binary->substr(at + kSoname.size(), end - at - kSoname.size());
    const std::vector<std::string_view> parts = Split(version, '.');
    if (parts.size() >= 2 && ParseUnsigned(parts[0], 99) && ParseUnsigned(parts[1], 99))
      return std::string(parts[0]) + "." + std::string(parts[1]);
  }
  return std::nullopt;
}

}  // namespace qmin
