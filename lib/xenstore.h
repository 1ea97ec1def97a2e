// xenstore through the real libxenstore, with RAII handles and Result errors.
// xs_open() takes $XENSTORED_PATH (a UNIX socket: xenstored in dom0, the test
// double in tests) before /dev/xen/xenbus, so the same code runs in both.
// Everything a guest can write is hostile: callers validate what they read.
//
// Debian's static libxenstore.a is built without USE_PTHREAD: a request reads
// exactly one message back and fails (closing the connection) if that message
// is a watch event. So a connection that has watches must not make requests:
// watches live in XenstoreWatcher (xenstore_watcher.h), which speaks the wire
// protocol on a connection of its own; this class only reads and writes.
#ifndef QMIN_LIB_XENSTORE_H_
#define QMIN_LIB_XENSTORE_H_

#include <functional>
#include <string>
#include <vector>

#include "error.h"

struct xs_handle;

namespace qmin {

/// What failed when xenstore cannot be reached, with the usual cause: the
/// message then names the fix.
inline constexpr const char* kConnectXenstore = "connect to xenstore (is xenstored running?)";

struct XenstorePerm {
  enum class Access : char { kNone = 'n', kRead = 'r', kWrite = 'w', kBoth = 'b' };
  unsigned domid = 0;
  Access access = Access::kNone;
  bool operator==(const XenstorePerm&) const = default;
};

struct WatchEvent {
  std::string path;
  std::string token;
};

class Xenstore;

/// An open transaction; aborted on destruction unless committed.
class Transaction {
 public:
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

 private:
  friend class Xenstore;
  Transaction(xs_handle* handle, unsigned id) : handle_(handle), id_(id) {}
  xs_handle* handle_;
  unsigned id_;  ///< 0 once committed or aborted
};

class Xenstore {
 public:
  /// Connects as xs_open(0) does. Errors exit 111.
  static Result<Xenstore> Open();

  Xenstore(Xenstore&& other) noexcept;
  Xenstore& operator=(Xenstore&&) = delete;
  Xenstore(const Xenstore&) = delete;
  ~Xenstore();

  // Paths may be absolute or relative to the caller's /local/domain/<id>.
  // Each call may run inside `tx`; nullptr means outside any transaction.
  Result<std::string> Read(const std::string& path, const Transaction* tx = nullptr) const;
  Status Write(const std::string& path, const std::string& value,
               const Transaction* tx = nullptr) const;
  Status Mkdir(const std::string& path, const Transaction* tx = nullptr) const;
  /// Removes a node and everything below it; a missing node is not an error.
  Status Remove(const std::string& path, const Transaction* tx = nullptr) const;
  Result<std::vector<std::string>> Directory(const std::string& path,
                                             const Transaction* tx = nullptr) const;
  Result<std::vector<XenstorePerm>> GetPermissions(const std::string& path,
                                                   const Transaction* tx = nullptr) const;
  Status SetPermissions(const std::string& path, const std::vector<XenstorePerm>& perms,
                        const Transaction* tx = nullptr) const;

  // Watches: XenstoreWatcher (xenstore_watcher.h), on a connection of its own.

  Result<std::string> DomainPath(unsigned domid) const;
  /// What the toolstack does when a domain is born or dies; fires
  /// @introduceDomain / @releaseDomain. dom0 only.
  Status IntroduceDomain(unsigned domid, unsigned long mfn, unsigned event_channel) const;
  Status ReleaseDomain(unsigned domid) const;

  Result<Transaction> Begin() const;
  /// Commits; a conflict comes back with errnum EAGAIN: run the work again.
  Status Commit(Transaction& tx) const;
  /// Runs `work` in a transaction and commits, retrying on conflict up to
  /// `attempts` times.
  Status InTransaction(const std::function<Status(const Transaction&)>& work,
                       int attempts = 10) const;

 private:
  explicit Xenstore(xs_handle* handle) : handle_(handle) {}
  static unsigned TxId(const Transaction* tx) { return tx == nullptr ? 0 : tx->id_; }

  xs_handle* handle_;
};

}  // namespace qmin

#endif  // QMIN_LIB_XENSTORE_H_
