// The data model of the xenstored test double: a tree of nodes with Xen's
// permission rules, transactions and watch matching, free of any I/O so that
// unit tests can drive it directly. Errors are errno values, as on the wire.
#ifndef QMIN_TEST_FAKES_XENSTORE_TREE_H_
#define QMIN_TEST_FAKES_XENSTORE_TREE_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace qmin::fake {

struct Perm {
  unsigned domid = 0;
  char access = 'n';  ///< 'n' none, 'r' read, 'w' write, 'b' both
  bool operator==(const Perm&) const = default;
};

/// "r5" -> {5,'r'}; false on anything else.
bool ParsePerm(std::string_view text, Perm& perm);
std::string FormatPerm(const Perm& perm);

struct Node {
  std::string value;
  std::vector<Perm> perms;  ///< perms[0]: owner, and the access of everyone not listed
};

/// Every change a call made, for firing watches. `removed` marks a removal,
/// which also fires watches set below the removed path.
struct Change {
  std::string path;
  bool removed = false;
};

class Tree {
 public:
  Tree();

  /// Turns `path` into an absolute path for `caller` (relative paths live
  /// under /local/domain/<caller>) and checks it. 0 or EINVAL.
  static int Resolve(unsigned caller, std::string_view path, std::string& absolute);

  int Read(unsigned caller, const std::string& path, std::string& value) const;
  int Write(unsigned caller, const std::string& path, std::string_view value,
            std::vector<Change>& changes);
  int Mkdir(unsigned caller, const std::string& path, std::vector<Change>& changes);
  int Remove(unsigned caller, const std::string& path, std::vector<Change>& changes);
  int Directory(unsigned caller, const std::string& path, std::vector<std::string>& names) const;
  int GetPerms(unsigned caller, const std::string& path, std::vector<Perm>& perms) const;
  int SetPerms(unsigned caller, const std::string& path, const std::vector<Perm>& perms,
               std::vector<Change>& changes);

  bool CanRead(unsigned caller, const std::string& path) const;
  bool Exists(const std::string& path) const { return nodes_.count(path) != 0; }
  /// Bumped by every change: a transaction started at another generation conflicts.
  std::uint64_t generation() const { return generation_; }

  /// "path = \"value\" (perms)" per node, sorted, for assertions in tests.
  std::string Dump() const;

 private:
  char AccessOf(unsigned caller, const Node& node) const;
  bool Allows(unsigned caller, const std::string& path, char needed) const;
  int Create(unsigned caller, const std::string& path, std::vector<Change>& changes);

  std::map<std::string, Node> nodes_;
  std::uint64_t generation_ = 0;
};

/// True when a watch on `watch` (absolute, or "@name") should fire for `change`.
bool WatchMatches(const std::string& watch, const Change& change);

}  // namespace qmin::fake

#endif  // QMIN_TEST_FAKES_XENSTORE_TREE_H_
