#include "xenstore_wire.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern "C" {
#include <xen/io/xs_wire.h>
}

#include "domid.h"
#include "text.h"

namespace qmin::fake {
namespace {

constexpr std::size_t kHeaderSize = sizeof(xsd_sockmsg);

std::string ErrorName(int err) {
  for (const auto& entry : xsd_errors)
    if (entry.errnum == err) return entry.errstring;
  return "EINVAL";
}

std::vector<std::string> SplitNul(const std::string& body) {
  std::vector<std::string> args;
  std::size_t start = 0;
  while (start < body.size()) {
    std::size_t end = body.find('\0', start);
    if (end == std::string::npos) end = body.size();
    args.push_back(body.substr(start, end - start));
    start = end + 1;
  }
  return args;
}

bool WriteAll(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t wrote = write(fd, data.data() + done, data.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) return false;
    done += static_cast<std::size_t>(wrote);
  }
  return true;
}

// The path an event reports: relative when the watch was set relative.
std::string EventPath(const std::string& changed, const Watch& watch, unsigned domid) {
  if (watch.given.empty() || watch.given[0] == '/' || watch.given[0] == '@') return changed;
  const std::string home = "/local/domain/" + std::to_string(domid) + "/";
  return changed.rfind(home, 0) == 0 ? changed.substr(home.size()) : changed;
}

}  // namespace

Server::Server(std::string socket_path) : socket_path_(std::move(socket_path)) {}

Server::~Server() {
  for (const Listener& listener : listeners_) {
    close(listener.fd);
    unlink(listener.path.c_str());
  }
  for (const auto& [fd, connection] : connections_) close(fd);
}

// Binds under a temporary name and renames into place once listening, so a
// client that sees the socket file can connect to it.
bool Server::OpenListener(unsigned domid, const std::string& path) {
  const std::string temporary = path + ".new";
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (temporary.size() >= sizeof address.sun_path) {
    errno = ENAMETOOLONG;
    return false;
  }
  std::memcpy(address.sun_path, temporary.c_str(), temporary.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  unlink(temporary.c_str());
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || listen(fd, 64) != 0 ||
      rename(temporary.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    close(fd);
    unlink(temporary.c_str());
    errno = saved;
    return false;
  }
  listeners_.push_back(Listener{fd, domid, path});
  return true;
}

bool Server::Listen() { return OpenListener(0, socket_path_); }

bool Server::Run(const volatile sig_atomic_t& stop_requested) {
  while (stop_requested == 0) {
    std::vector<pollfd> fds;
    for (const Listener& listener : listeners_) fds.push_back(pollfd{listener.fd, POLLIN, 0});
    for (const auto& [fd, connection] : connections_) fds.push_back(pollfd{fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    const std::size_t listener_count = listeners_.size();
    const std::vector<Listener> listeners = listeners_;  // Release() may change the list
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      if (i < listener_count) {
        Accept(listeners[i]);
      } else if (auto it = connections_.find(fds[i].fd); it != connections_.end()) {
        ReadFrom(*it->second);
      }
    }
    for (int fd : closing_) Close(fd);
    closing_.clear();
  }
  return true;
}

void Server::Accept(const Listener& listener) {
  const int fd = accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return;
  auto connection = std::make_unique<Connection>();
  connection->fd = fd;
  connection->domid = listener.domid;
  connections_[fd] = std::move(connection);
}

void Server::ReadFrom(Connection& connection) {
  char buffer[8192];
  const ssize_t got = read(connection.fd, buffer, sizeof buffer);
  if (got <= 0) {
    if (got < 0 && errno == EINTR) return;
    closing_.push_back(connection.fd);
    return;
  }
  connection.input.append(buffer, static_cast<std::size_t>(got));
  while (connection.input.size() >= kHeaderSize) {
    xsd_sockmsg header{};
    std::memcpy(&header, connection.input.data(), kHeaderSize);
    // Like xenstored, a message beyond the protocol's limit ends the connection.
    if (header.len > XENSTORE_PAYLOAD_MAX) {
      closing_.push_back(connection.fd);
      return;
    }
    if (connection.input.size() < kHeaderSize + header.len) return;
    const std::string body = connection.input.substr(kHeaderSize, header.len);
    connection.input.erase(0, kHeaderSize + header.len);
    Handle(connection, header.type, header.req_id, header.tx_id, body);
  }
}

void Server::Reply(Connection& connection, std::uint32_t type, std::uint32_t req_id,
                   std::uint32_t tx_id, const std::string& body) {
  xsd_sockmsg header{type, req_id, tx_id, static_cast<std::uint32_t>(body.size())};
  std::string message(reinterpret_cast<const char*>(&header), kHeaderSize);
  message += body;
  if (!WriteAll(connection.fd, message)) closing_.push_back(connection.fd);
}

void Server::ReplyError(Connection& connection, std::uint32_t req_id, std::uint32_t tx_id,
                        int err) {
  Reply(connection, XS_ERROR, req_id, tx_id, ErrorName(err) + std::string(1, '\0'));
}

void Server::SendEvent(Connection& connection, const std::string& path, const Watch& watch) {
  Reply(connection, XS_WATCH_EVENT, 0, 0, path + '\0' + watch.token + '\0');
}

void Server::Fire(const std::vector<Change>& changes) {
  for (const Change& change : changes) {
    for (auto& [fd, connection] : connections_) {
      for (const Watch& watch : connection->watches) {
        if (!WatchMatches(watch.path, change)) continue;
        // A removal below the watch is reported at the watch's own path.
        const bool parent_removed = change.removed && watch.path.size() > change.path.size();
        const std::string path = parent_removed ? watch.path : change.path;
        if (connection->domid != 0 && tree_.Exists(path) && !tree_.CanRead(connection->domid, path))
          continue;
        SendEvent(*connection, EventPath(path, watch, connection->domid), watch);
      }
    }
  }
}

void Server::FireSpecial(const std::string& name) {
  for (auto& [fd, connection] : connections_)
    for (const Watch& watch : connection->watches)
      if (watch.path == name) SendEvent(*connection, name, watch);
}

void Server::Introduce(unsigned domid) {
  const std::string path = socket_path_ + ".d" + std::to_string(domid);
  bool known = false;
  for (const Listener& listener : listeners_) known = known || listener.domid == domid;
  if (!known) OpenListener(domid, path);
  FireSpecial("@introduceDomain");
}

void Server::Release(unsigned domid) {
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    if (it->domid == domid && domid != 0) {
      close(it->fd);
      unlink(it->path.c_str());
      it = listeners_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [fd, connection] : connections_)
    if (connection->domid == domid && domid != 0) closing_.push_back(fd);
  FireSpecial("@releaseDomain");
}

bool Server::IsIntroduced(unsigned domid) const {
  if (domid == 0) return true;
  for (const Listener& listener : listeners_)
    if (listener.domid == domid) return true;
  return false;
}

void Server::Close(int fd) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  for (auto tx = transactions_.begin(); tx != transactions_.end();)
    tx = tx->second.owner_fd == fd ? transactions_.erase(tx) : std::next(tx);
  close(fd);
  connections_.erase(it);
}

Tree* Server::TreeFor(std::uint32_t tx_id, int fd) {
  if (tx_id == 0) return &tree_;
  auto it = transactions_.find(tx_id);
  if (it == transactions_.end() || it->second.owner_fd != fd) return nullptr;
  return &it->second.tree;
}

void Server::Handle(Connection& connection, std::uint32_t type, std::uint32_t req_id,
                    std::uint32_t tx_id, const std::string& body) {
  // Every request is NUL-separated strings, except WRITE's raw value.
  const std::vector<std::string> args = SplitNul(body);
  Dispatch(connection, type, req_id, tx_id, args, body);
}

void Server::Dispatch(Connection& connection, std::uint32_t type, std::uint32_t req_id,
                      std::uint32_t tx_id, const std::vector<std::string>& args,
                      const std::string& body) {
  const std::string kOk("OK\0", 3);
  const unsigned caller = connection.domid;
  Tree* tree = TreeFor(tx_id, connection.fd);
  if (tree == nullptr) return ReplyError(connection, req_id, tx_id, ENOENT);
  std::vector<Change> changes;
  std::string path;
  const bool path_op = type == XS_READ || type == XS_WRITE || type == XS_MKDIR || type == XS_RM ||
                       type == XS_DIRECTORY || type == XS_GET_PERMS || type == XS_SET_PERMS;
  if (path_op) {
    if (args.empty()) return ReplyError(connection, req_id, tx_id, EINVAL);
    if (int err = Tree::Resolve(caller, args[0], path); err != 0)
      return ReplyError(connection, req_id, tx_id, err);
  }
  int err = 0;
  std::string reply = kOk;
  switch (type) {
    case XS_READ:
      err = tree->Read(caller, path, reply);
      break;
    case XS_WRITE: {
      const std::size_t nul = body.find('\0');
      if (nul == std::string::npos) return ReplyError(connection, req_id, tx_id, EINVAL);
      err = tree->Write(caller, path, std::string_view(body).substr(nul + 1), changes);
      break;
    }
    case XS_MKDIR:
      err = tree->Mkdir(caller, path, changes);
      break;
    case XS_RM:
      err = tree->Remove(caller, path, changes);
      break;
    case XS_DIRECTORY: {
      std::vector<std::string> names;
      err = tree->Directory(caller, path, names);
      reply.clear();
      for (const std::string& name : names) reply += name + '\0';
      break;
    }
    case XS_GET_PERMS: {
      std::vector<Perm> perms;
      err = tree->GetPerms(caller, path, perms);
      reply.clear();
      for (const Perm& perm : perms) reply += FormatPerm(perm) + '\0';
      break;
    }
    case XS_SET_PERMS: {
      std::vector<Perm> perms;
      for (std::size_t i = 1; i < args.size(); ++i) {
        Perm perm;
        if (!ParsePerm(args[i], perm)) return ReplyError(connection, req_id, tx_id, EINVAL);
        perms.push_back(perm);
      }
      err = tree->SetPerms(caller, path, perms, changes);
      break;
    }
    case XS_WATCH:
    case XS_UNWATCH: {
      if (args.size() < 2) return ReplyError(connection, req_id, tx_id, EINVAL);
      Watch watch{args[0], args[1], args[0]};
      if (args[0] == "@introduceDomain" || args[0] == "@releaseDomain") {
        watch.path = args[0];
      } else if ((err = Tree::Resolve(caller, args[0], watch.path)) != 0) {
        break;
      }
      auto& watches = connection.watches;
      if (type == XS_WATCH) {
        watches.push_back(watch);
        Reply(connection, type, req_id, tx_id, kOk);
        return SendEvent(connection, watch.given, watch);  // the initial event
      }
      const std::size_t before = watches.size();
      std::erase_if(watches, [&](const Watch& w) {
        return w.given == watch.given && w.token == watch.token;
      });
      err = watches.size() == before ? ENOENT : 0;
      break;
    }
    case XS_RESET_WATCHES:
      connection.watches.clear();
      break;
    case XS_TRANSACTION_START: {
      if (tx_id != 0) return ReplyError(connection, req_id, tx_id, EBUSY);
      const std::uint32_t id = next_transaction_++;
      transactions_[id] = Transaction{tree_, tree_.generation(), {}, connection.fd};
      reply = std::to_string(id) + '\0';
      break;
    }
    case XS_TRANSACTION_END: {
      if (tx_id == 0 || args.empty()) return ReplyError(connection, req_id, tx_id, EINVAL);
      Transaction transaction = std::move(transactions_.at(tx_id));
      transactions_.erase(tx_id);
      if (args[0] == "T") {
        if (transaction.base_generation != tree_.generation()) {
          err = EAGAIN;
        } else {
          tree_ = std::move(transaction.tree);
          changes = std::move(transaction.changes);
        }
      }
      Reply(connection, err == 0 ? type : std::uint32_t{XS_ERROR}, req_id, tx_id,
            err == 0 ? kOk : ErrorName(err) + std::string(1, '\0'));
      return Fire(changes);
    }
    case XS_INTRODUCE:
    case XS_RELEASE:
    case XS_IS_DOMAIN_INTRODUCED:
    case XS_GET_DOMAIN_PATH: {
      const auto domid = args.empty() ? std::nullopt : ParseDomainId(args[0]);
      if (!domid) return ReplyError(connection, req_id, tx_id, EINVAL);
      if ((type == XS_INTRODUCE || type == XS_RELEASE) && caller != 0)
        return ReplyError(connection, req_id, tx_id, EACCES);
      if (type == XS_GET_DOMAIN_PATH) reply = "/local/domain/" + std::to_string(*domid) + '\0';
      if (type == XS_IS_DOMAIN_INTRODUCED)
        reply = IsIntroduced(*domid) ? std::string("T\0", 2) : std::string("F\0", 2);
      // As in xenstored, the domain exists (and its watches fire) before the
      // reply, so a caller can use the domain's socket once it has the reply.
      if (type == XS_INTRODUCE) Introduce(*domid);
      if (type == XS_RELEASE) Release(*domid);
      Reply(connection, type, req_id, tx_id, reply);
      return;
    }
    default:
      err = ENOSYS;
      break;
  }
  if (err != 0) return ReplyError(connection, req_id, tx_id, err);
  Reply(connection, type, req_id, tx_id, reply);
  if (tx_id != 0) {
    auto& pending = transactions_.at(tx_id).changes;
    pending.insert(pending.end(), changes.begin(), changes.end());
  } else {
    Fire(changes);
  }
}

}  // namespace qmin::fake
