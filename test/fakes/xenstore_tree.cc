#include "xenstore_tree.h"

#include <cerrno>

#include "text.h"

namespace qmin::fake {
namespace {

// Xen's limits: XENSTORE_ABS_PATH_MAX and XENSTORE_REL_PATH_MAX.
constexpr std::size_t kMaxAbsolutePath = 3072;
constexpr std::size_t kMaxRelativePath = 2048;

bool ValidPathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '/' || c == '_' || c == '@';
}

std::string Parent(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool IsBelow(const std::string& path, const std::string& ancestor) {
  if (ancestor == "/") return path != "/";
  return path.size() > ancestor.size() && path.compare(0, ancestor.size(), ancestor) == 0 &&
         path[ancestor.size()] == '/';
}

}  // namespace

bool ParsePerm(std::string_view text, Perm& perm) {
  if (text.size() < 2) return false;
  const char access = text[0];
  if (access != 'n' && access != 'r' && access != 'w' && access != 'b') return false;
  const auto domid = ParseUnsigned(text.substr(1), 0xffff);
  if (!domid) return false;
  perm = Perm{static_cast<unsigned>(*domid), access};
  return true;
}

std::string FormatPerm(const Perm& perm) { return perm.access + std::to_string(perm.domid); }

Tree::Tree() {
  for (const char* path : {"/", "/local", "/local/domain", "/tool"})
    nodes_[path] = Node{"", {Perm{0, 'n'}}};
}

int Tree::Resolve(unsigned caller, std::string_view path, std::string& absolute) {
  if (path.empty()) return EINVAL;
  if (path[0] == '/') {
    if (path.size() > kMaxAbsolutePath) return EINVAL;
    absolute = std::string(path);
  } else {
    if (path.size() > kMaxRelativePath) return EINVAL;
    absolute = "/local/domain/" + std::to_string(caller) + "/" + std::string(path);
  }
  if (absolute == "/") return 0;
  if (absolute.back() == '/' || absolute.find("//") != std::string::npos) return EINVAL;
  for (char c : absolute)
    if (!ValidPathChar(c)) return EINVAL;
  return 0;
}

char Tree::AccessOf(unsigned caller, const Node& node) const {
  if (caller == 0) return 'b';
  if (node.perms.empty()) return 'n';
  if (node.perms[0].domid == caller) return 'b';
  for (std::size_t i = 1; i < node.perms.size(); ++i)
    if (node.perms[i].domid == caller) return node.perms[i].access;
  return node.perms[0].access;
}

bool Tree::Allows(unsigned caller, const std::string& path, char needed) const {
  const auto it = nodes_.find(path);
  if (it == nodes_.end()) return false;
  const char access = AccessOf(caller, it->second);
  return access == 'b' || access == needed;
}

bool Tree::CanRead(unsigned caller, const std::string& path) const {
  return Allows(caller, path, 'r');
}

int Tree::Read(unsigned caller, const std::string& path, std::string& value) const {
  const auto it = nodes_.find(path);
  if (it == nodes_.end()) return ENOENT;
  if (!CanRead(caller, path)) return EACCES;
  value = it->second.value;
  return 0;
}

// Makes `path` and its missing ancestors. The nearest existing ancestor must
// be writable; new nodes inherit its permissions, but an unprivileged domain
// owns what it creates (as cxenstored does).
int Tree::Create(unsigned caller, const std::string& path, std::vector<Change>& changes) {
  std::vector<std::string> missing;
  std::string existing = path;
  while (nodes_.count(existing) == 0) {
    missing.push_back(existing);
    existing = Parent(existing);
  }
  if (missing.empty()) return 0;
  if (!Allows(caller, existing, 'w')) return EACCES;
  std::vector<Perm> perms = nodes_[existing].perms;
  if (caller != 0) perms[0].domid = caller;
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) nodes_[*it] = Node{"", perms};
  // Like xenstored, one event for the node asked for, none for its new parents.
  changes.push_back(Change{path, false});
  ++generation_;
  return 0;
}

int Tree::Write(unsigned caller, const std::string& path, std::string_view value,
                std::vector<Change>& changes) {
  if (Exists(path)) {
    if (!Allows(caller, path, 'w')) return EACCES;
    changes.push_back(Change{path, false});
    ++generation_;
  } else if (int err = Create(caller, path, changes); err != 0) {
    return err;
  }
  nodes_[path].value = std::string(value);
  return 0;
}

int Tree::Mkdir(unsigned caller, const std::string& path, std::vector<Change>& changes) {
  return Create(caller, path, changes);
}

int Tree::Remove(unsigned caller, const std::string& path, std::vector<Change>& changes) {
  if (path == "/") return EINVAL;
  if (!Exists(path)) return Exists(Parent(path)) ? 0 : ENOENT;
  if (!Allows(caller, path, 'w')) return EACCES;
  auto it = nodes_.find(path);
  while (it != nodes_.end() && (it->first == path || IsBelow(it->first, path)))
    it = nodes_.erase(it);
  changes.push_back(Change{path, true});
  ++generation_;
  return 0;
}

int Tree::Directory(unsigned caller, const std::string& path,
                    std::vector<std::string>& names) const {
  if (!Exists(path)) return ENOENT;
  if (!CanRead(caller, path)) return EACCES;
  const std::string prefix = path == "/" ? "/" : path + "/";
  for (auto it = nodes_.lower_bound(prefix); it != nodes_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    const std::string rest = it->first.substr(prefix.size());
    if (!rest.empty() && rest.find('/') == std::string::npos) names.push_back(rest);
  }
  return 0;
}

int Tree::GetPerms(unsigned caller, const std::string& path, std::vector<Perm>& perms) const {
  if (!Exists(path)) return ENOENT;
  if (!CanRead(caller, path)) return EACCES;
  perms = nodes_.at(path).perms;
  return 0;
}

int Tree::SetPerms(unsigned caller, const std::string& path, const std::vector<Perm>& perms,
                   std::vector<Change>& changes) {
  if (perms.empty()) return EINVAL;
  if (!Exists(path)) return ENOENT;
  // Only the owner (or dom0) may change permissions, as in cxenstored.
  if (caller != 0 && nodes_.at(path).perms[0].domid != caller) return EACCES;
  nodes_[path].perms = perms;
  changes.push_back(Change{path, false});
  ++generation_;
  return 0;
}

std::string Tree::Dump() const {
  std::string out;
  for (const auto& [path, node] : nodes_) {
    out += path + " = \"" + node.value + "\" (";
    for (std::size_t i = 0; i < node.perms.size(); ++i)
      out += (i == 0 ? "" : " ") + FormatPerm(node.perms[i]);
    out += ")\n";
  }
  return out;
}

bool WatchMatches(const std::string& watch, const Change& change) {
  if (watch == change.path) return true;
  if (!watch.empty() && watch[0] == '@') return false;
  if (IsBelow(change.path, watch)) return true;
  return change.removed && IsBelow(watch, change.path);
}

}  // namespace qmin::fake
