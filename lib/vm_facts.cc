#include "vm_facts.h"

#include <dirent.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "files.h"
#include "text.h"
#include "xlcfg.h"

namespace qmin {
namespace {

constexpr std::size_t kMaxConfigSize = 64 * 1024;
constexpr char kSuffix[] = ".cfg";
constexpr unsigned kMaxTimeout = 3600;

// The keys of one file, and the first problem found reading them.
class Reader {
 public:
  Reader(const XlConfig& config, const std::string& path) : config_(config), path_(path) {}
  const std::string& problem() const { return problem_; }

  const XlValue* Get(const char* key) const {
    auto it = config_.find(key);
    return it == config_.end() ? nullptr : &it->second;
  }
  std::string Scalar(const char* key, const std::string& fallback = "") {
    const XlValue* value = Get(key);
    if (value == nullptr) return fallback;
    if (value->is_list) Fail(std::string(key) + " must be a single value");
    return value->scalar;
  }
  std::vector<std::string> List(const char* key) {
    const XlValue* value = Get(key);
    if (value == nullptr) return {};
    if (!value->is_list) Fail(std::string(key) + " must be a list");
    return value->items;
  }
  void Fail(const std::string& why) {
    if (problem_.empty()) problem_ = path_ + ": " + why;
  }

 private:
  const XlConfig& config_;
  const std::string& path_;
  std::string problem_;
};

void ReadFacts(Reader& reader, VmFacts& facts) {
  facts.type = reader.Scalar("xvm_type", facts.type);
  if (!IsNameText(facts.type)) reader.Fail("xvm_type must be one word");
  if (facts.type == "AdminVM") reader.Fail("xvm_type AdminVM belongs to dom0 alone");
  facts.default_user = reader.Scalar("xvm_default_user", facts.default_user);
  if (!IsNameText(facts.default_user)) reader.Fail("xvm_default_user must be a user name");
  for (const std::string& tag : reader.List("xvm_tags")) {
    if (!IsNameText(tag)) reader.Fail("invalid tag \"" + tag + "\"");
    facts.tags.insert(tag);
  }
}

// backend=NAME in a vif spec, read as xl reads it: pairs KEY=VALUE split at
// commas, empty pairs skipped, the blanks that start a pair dropped (so
// "ip=..., backend=net-vm" is backed by net-vm); dom0 by default.
VifSpec ReadVif(Reader& reader, const std::string& spec) {
  VifSpec vif;
  for (std::string_view part : Split(spec, ',')) {
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    const std::size_t equals = part.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string_view key = part.substr(0, equals), value = part.substr(equals + 1);
    if (key == "backend") vif.backend = value;
    if (key == "ip")
      for (std::string_view ip : Split(value, ' '))
        if (!ip.empty()) vif.ips.emplace_back(ip);
  }
  if (vif.backend == kAdminVmName) vif.backend.clear();
  if (!vif.backend.empty() && !IsValidVmName(vif.backend))
    reader.Fail("invalid vif backend \"" + vif.backend + "\"");
  return vif;
}

void ReadStart(Reader& reader, VmDefinition& vm) {
  const std::string autostart = reader.Scalar("xvm_autostart", "0");
  if (autostart != "0" && autostart != "1") reader.Fail("xvm_autostart must be 0 or 1");
  vm.autostart = autostart == "1";
  for (const std::string& after : reader.List("xvm_after")) {
    if (!IsValidVmName(after)) reader.Fail("invalid VM name \"" + after + "\" in xvm_after");
    vm.after.push_back(after);
  }
  const std::string wait = reader.Scalar("xvm_wait", "running");
  if (wait == "running")
    vm.wait = WaitFor::kRunning;
  else if (wait == "hotplug")
    vm.wait = WaitFor::kHotplug;
  else if (wait == "qrx")
    vm.wait = WaitFor::kQrx;
  else
    reader.Fail("xvm_wait must be running, hotplug or qrx");
  const auto timeout = ParseUnsigned(reader.Scalar("xvm_timeout", "60"), kMaxTimeout);
  if (!timeout || *timeout == 0) reader.Fail("xvm_timeout must be 1 to 3600 seconds");
  vm.timeout = timeout ? static_cast<unsigned>(*timeout) : 60;
}

void ReadDomain(Reader& reader, VmDefinition& vm) {
  const std::optional<std::string> written =
      reader.Get("type") == nullptr ? std::nullopt : std::optional(reader.Scalar("type"));
  Result<DomainType> type = ParseDomainType(written, reader.Scalar("builder"));
  if (!type) reader.Fail(type.error().reason);
  vm.type = type ? *type : DomainType::kPv;
  vm.pci = reader.List("pci");
  vm.kernel = reader.Scalar("kernel");
  vm.ramdisk = reader.Scalar("ramdisk");
  for (const std::string& spec : reader.List("vif")) vm.vifs.push_back(ReadVif(reader, spec));
  // restart, rename-restart and coredump-restart all bring the domain back.
  const auto restarts = [](const std::string& action) {
    return action.find("restart") != std::string::npos;
  };
  vm.restarts_after = {restarts(reader.Scalar("on_poweroff", "destroy")),
                       restarts(reader.Scalar("on_reboot", "restart")), false,
                       restarts(reader.Scalar("on_crash", "destroy"))};
  vm.xl_restarts = vm.restarts_after[0] || vm.restarts_after[1] || vm.restarts_after[3];
}

std::string ReadOne(const std::string& path, const std::string& name, VmDefinition& vm) {
  Result<std::string> text = ReadSmallFile(path, kMaxConfigSize);
  if (!text) return text.error().Text();
  Result<XlConfig> config = ParseXlConfig(*text, path);
  if (!config) return config.error().Text();
  Reader reader(*config, path);
  const XlValue* declared = reader.Get("name");
  if (declared == nullptr || declared->is_list || declared->scalar != name)
    return path + ": name must be \"" + name + "\", as the file is called";
  vm.name = name;
  vm.path = path;
  ReadFacts(reader, vm.facts);
  ReadStart(reader, vm);
  ReadDomain(reader, vm);
  return reader.problem();
}

}  // namespace

std::vector<std::string> VmDefinition::Dependencies() const {
  std::vector<std::string> all = after;
  for (const VifSpec& vif : vifs)
    if (!vif.backend.empty() && std::find(all.begin(), all.end(), vif.backend) == all.end())
      all.push_back(vif.backend);
  return all;
}

bool IsValidVmName(std::string_view name) {
  if (name.empty() || name.size() > 31) return false;
  if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z'))) return false;
  return IsNameText(name);
}

Result<DomainType> ParseDomainType(const std::optional<std::string>& written,
                                   const std::string& builder) {
  // Without a type key the builder decides, and without one it is PV.
  if (!written) {
    if (builder.empty() || builder == "generic" || builder == "linux") return DomainType::kPv;
    if (builder == "hvm") return DomainType::kHvm;
    return InvalidError("read builder", "unknown builder \"" + builder + "\"");
  }
  // xl compares with strncmp over the given length, in this order: a prefix
  // (or nothing) is enough.
  const std::string& type = *written;
  const auto prefix = [&](std::string_view full) { return full.substr(0, type.size()) == type; };
  if (type.size() <= 3 && prefix("hvm")) return DomainType::kHvm;
  if (type.size() <= 2 && prefix("pv")) return DomainType::kPv;
  if (type.size() <= 3 && prefix("pvh")) return DomainType::kPvh;
  return InvalidError("read type", "type must be pv, pvh or hvm, not \"" + type + "\"");
}

std::string_view DomainTypeName(DomainType type) {
  switch (type) {
    case DomainType::kPv:
      return "pv";
    case DomainType::kPvh:
      return "pvh";
    case DomainType::kHvm:
      return "hvm";
  }
  return "pv";
}

std::string PciDevice(const std::string& entry) {
  std::string device = entry.substr(0, entry.find_first_of(",@"));
  std::transform(device.begin(), device.end(), device.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // dddd:bb:dd.f, or bb:dd.f in PCI domain 0
  if (std::count(device.begin(), device.end(), ':') == 1) device = "0000:" + device;
  return device;
}

VmLoad LoadVmDefinitions(const std::string& dir) {
  VmLoad load;
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) {
    if (errno != ENOENT) load.errors.push_back(dir + ": " + std::strerror(errno));
    return load;
  }
  std::vector<std::string> files;
  while (const dirent* entry = readdir(handle)) {
    const std::string file = entry->d_name;
    // Dot-files (an editor's .#x.cfg lock, .x.cfg.swp) are not definitions.
    if (file[0] != '.' && file.size() > std::strlen(kSuffix) &&
        file.compare(file.size() - 4, 4, kSuffix) == 0)
      files.push_back(file);
  }
  closedir(handle);
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) {
    const std::string name = file.substr(0, file.size() - 4);
    const std::string path = dir + "/" + file;
    if (!IsValidVmName(name) || name == kAdminVmName) {
      load.errors.push_back(path + ": \"" + name + "\" is not a valid VM name");
      load.broken[name] = load.errors.back();
      continue;
    }
    VmDefinition vm;
    if (std::string problem = ReadOne(path, name, vm); !problem.empty()) {
      load.errors.push_back(problem);
      load.broken[name] = problem;
      continue;
    }
    load.vms[name] = std::move(vm);
  }
  return load;
}

VmFactsLoad LoadVmFacts(const std::string& dir) {
  VmLoad definitions = LoadVmDefinitions(dir);
  VmFactsLoad load{{}, std::move(definitions.errors)};
  load.vms[kAdminVmName] = VmFacts{"AdminVM", {}, "root"};
  for (auto& [name, vm] : definitions.vms) load.vms[name] = std::move(vm.facts);
  return load;
}

}  // namespace qmin
