#include "vm_facts.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "files.h"
#include "xlcfg.h"

namespace qmin {
namespace {

constexpr std::size_t kMaxConfigSize = 64 * 1024;
constexpr char kSuffix[] = ".cfg";

bool IsTokenText(std::string_view text) {
  if (text.empty()) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

std::string ReadOne(const std::string& path, const std::string& name, VmFacts& facts) {
  Result<std::string> text = ReadSmallFile(path, kMaxConfigSize);
  if (!text) return text.error().Text();
  Result<XlConfig> config = ParseXlConfig(*text, path);
  if (!config) return config.error().Text();
  const auto get = [&](const char* key) -> const XlValue* {
    auto it = config->find(key);
    return it == config->end() ? nullptr : &it->second;
  };
  const XlValue* declared = get("name");
  if (declared == nullptr || declared->is_list || declared->scalar != name)
    return path + ": name must be \"" + name + "\", as the file is called";
  if (const XlValue* type = get("xvm_type")) {
    if (type->is_list || !IsTokenText(type->scalar)) return path + ": xvm_type must be one word";
    if (type->scalar == "AdminVM") return path + ": xvm_type AdminVM belongs to dom0 alone";
    facts.type = type->scalar;
  }
  if (const XlValue* user = get("xvm_default_user")) {
    if (user->is_list || !IsTokenText(user->scalar))
      return path + ": xvm_default_user must be a user name";
    facts.default_user = user->scalar;
  }
  if (const XlValue* tags = get("xvm_tags")) {
    if (!tags->is_list) return path + ": xvm_tags must be a list";
    for (const std::string& tag : tags->items) {
      if (!IsTokenText(tag)) return path + ": invalid tag \"" + tag + "\"";
      facts.tags.insert(tag);
    }
  }
  return "";
}

}  // namespace

bool IsValidVmName(std::string_view name) {
  if (name.empty() || name.size() > 31) return false;
  if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z'))) return false;
  return IsTokenText(name);
}

VmLoad LoadVmFacts(const std::string& dir) {
  VmLoad load;
  load.vms[kAdminVmName] = VmFacts{"AdminVM", {}, "root"};
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) {
    if (errno != ENOENT) load.errors.push_back(dir + ": " + std::strerror(errno));
    return load;
  }
  std::vector<std::string> files;
  while (const dirent* entry = readdir(handle)) {
    const std::string file = entry->d_name;
    if (file.size() > std::strlen(kSuffix) && file.compare(file.size() - 4, 4, kSuffix) == 0)
      files.push_back(file);
  }
  closedir(handle);
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) {
    const std::string name = file.substr(0, file.size() - 4);
    const std::string path = dir + "/" + file;
    if (!IsValidVmName(name) || name == kAdminVmName) {
      load.errors.push_back(path + ": \"" + name + "\" is not a valid VM name");
      continue;
    }
    VmFacts facts;
    if (std::string problem = ReadOne(path, name, facts); !problem.empty()) {
      load.errors.push_back(problem);
      continue;
    }
    load.vms[name] = std::move(facts);
  }
  return load;
}

}  // namespace qmin
