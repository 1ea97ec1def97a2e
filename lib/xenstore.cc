#include "xenstore.h"

#include <cerrno>
#include <cstdlib>
#include <memory>

extern "C" {
#include <xenstore.h>
}

namespace qmin {
namespace {

Error XenstoreError(const std::string& verb, const std::string& path) {
  // libxenstore leaves errno 0 on some short reads; report something true.
  return SystemError(verb + " xenstore " + path, errno != 0 ? errno : EIO);
}

template <typename T>
struct FreeDeleter {
  void operator()(T* pointer) const {
    std::free(pointer);
  }  // NOLINT: libxenstore allocates with malloc
};

}  // namespace

Transaction::Transaction(Transaction&& other) noexcept : handle_(other.handle_), id_(other.id_) {
  other.id_ = 0;
}

Transaction::~Transaction() {
  if (id_ != 0) xs_transaction_end(handle_, id_, true);
}

Result<Xenstore> Xenstore::Open() {
  errno = 0;
  xs_handle* handle = xs_open(0);
  if (handle == nullptr) return SystemError(kConnectXenstore, errno != 0 ? errno : ENOENT);
  return Xenstore(handle);
}

Xenstore::Xenstore(Xenstore&& other) noexcept : handle_(other.handle_) { other.handle_ = nullptr; }

Xenstore::~Xenstore() {
  if (handle_ != nullptr) xs_close(handle_);
}

Result<std::string> Xenstore::Read(const std::string& path, const Transaction* tx) const {
  unsigned int length = 0;
  errno = 0;
  std::unique_ptr<char, FreeDeleter<char>> value(
      static_cast<char*>(xs_read(handle_, TxId(tx), path.c_str(), &length)));
  if (!value) return XenstoreError("read", path);
  return std::string(value.get(), length);
}

Status Xenstore::Write(const std::string& path, const std::string& value,
                       const Transaction* tx) const {
  errno = 0;
  if (!xs_write(handle_, TxId(tx), path.c_str(), value.data(), static_cast<unsigned>(value.size())))
    return XenstoreError("write", path);
  return {};
}

Status Xenstore::Mkdir(const std::string& path, const Transaction* tx) const {
  errno = 0;
  if (!xs_mkdir(handle_, TxId(tx), path.c_str())) return XenstoreError("create", path);
  return {};
}

Status Xenstore::Remove(const std::string& path, const Transaction* tx) const {
  errno = 0;
  if (!xs_rm(handle_, TxId(tx), path.c_str()) && errno != ENOENT)
    return XenstoreError("remove", path);
  return {};
}

Result<std::vector<std::string>> Xenstore::Directory(const std::string& path,
                                                     const Transaction* tx) const {
  unsigned int count = 0;
  errno = 0;
  std::unique_ptr<char*, FreeDeleter<char*>> names(
      xs_directory(handle_, TxId(tx), path.c_str(), &count));
  if (!names) return XenstoreError("list", path);
  return std::vector<std::string>(names.get(), names.get() + count);
}

Result<std::vector<XenstorePerm>> Xenstore::GetPermissions(const std::string& path,
                                                           const Transaction* tx) const {
  unsigned int count = 0;
  errno = 0;
  std::unique_ptr<xs_permissions, FreeDeleter<xs_permissions>> perms(
      xs_get_permissions(handle_, TxId(tx), path.c_str(), &count));
  if (!perms) return XenstoreError("get permissions of", path);
  std::vector<XenstorePerm> result;
  for (unsigned i = 0; i < count; ++i) {
    const xs_permissions& perm = perms.get()[i];
    XenstorePerm::Access access = XenstorePerm::Access::kNone;
    if ((perm.perms & XS_PERM_READ) && (perm.perms & XS_PERM_WRITE))
      access = XenstorePerm::Access::kBoth;
    else if (perm.perms & XS_PERM_READ)
      access = XenstorePerm::Access::kRead;
    else if (perm.perms & XS_PERM_WRITE)
      access = XenstorePerm::Access::kWrite;
    result.push_back(XenstorePerm{perm.id, access});
  }
  return result;
}

Status Xenstore::SetPermissions(const std::string& path, const std::vector<XenstorePerm>& perms,
                                const Transaction* tx) const {
  std::vector<xs_permissions> raw;
  for (const XenstorePerm& perm : perms) {
    unsigned bits = XS_PERM_NONE;
    if (perm.access == XenstorePerm::Access::kRead || perm.access == XenstorePerm::Access::kBoth)
      bits |= XS_PERM_READ;
    if (perm.access == XenstorePerm::Access::kWrite || perm.access == XenstorePerm::Access::kBoth)
      bits |= XS_PERM_WRITE;
    raw.push_back(xs_permissions{perm.domid, bits});
  }
  errno = 0;
  if (!xs_set_permissions(handle_, TxId(tx), path.c_str(), raw.data(),
                          static_cast<unsigned>(raw.size())))
    return XenstoreError("set permissions of", path);
  return {};
}

Result<std::string> Xenstore::DomainPath(unsigned domid) const {
  errno = 0;
  std::unique_ptr<char, FreeDeleter<char>> path(xs_get_domain_path(handle_, domid));
  if (!path)
    return SystemError("get the xenstore path of domain " + std::to_string(domid),
                       errno != 0 ? errno : EIO);
  return std::string(path.get());
}

Status Xenstore::IntroduceDomain(unsigned domid, unsigned long mfn, unsigned event_channel) const {
  errno = 0;
  if (!xs_introduce_domain(handle_, domid, mfn, event_channel))
    return SystemError("introduce domain " + std::to_string(domid), errno != 0 ? errno : EIO);
  return {};
}

Status Xenstore::ReleaseDomain(unsigned domid) const {
  errno = 0;
  if (!xs_release_domain(handle_, domid))
    return SystemError("release domain " + std::to_string(domid), errno != 0 ? errno : EIO);
  return {};
}

Result<Transaction> Xenstore::Begin() const {
  errno = 0;
  const xs_transaction_t id = xs_transaction_start(handle_);
  if (id == XBT_NULL) return SystemError("start a xenstore transaction", errno != 0 ? errno : EIO);
  return Transaction(handle_, id);
}

Status Xenstore::Commit(Transaction& tx) const {
  const unsigned id = tx.id_;
  tx.id_ = 0;  // ended either way: xenstored forgets a transaction that failed to commit
  errno = 0;
  if (!xs_transaction_end(handle_, id, false))
    return SystemError("commit a xenstore transaction", errno != 0 ? errno : EIO);
  return {};
}

Status Xenstore::InTransaction(const std::function<Status(const Transaction&)>& work,
                               int attempts) const {
  for (int attempt = 1;; ++attempt) {
    Result<Transaction> tx = Begin();
    if (!tx) return tx.error();
    if (Status status = work(*tx); !status) return status;
    Status committed = Commit(*tx);
    if (committed || committed.error().errnum != EAGAIN || attempt >= attempts) return committed;
  }
}

}  // namespace qmin
