// The xenstored test double's server: xenstore's wire protocol (xs_wire.h) on
// UNIX sockets, so that the real libxenstore in our binaries talks to it via
// XENSTORED_PATH. The socket at `socket_path` is dom0's; INTRODUCE of domain N
// opens `socket_path`.dN, where a connection acts as domain N (unprivileged,
// permissions enforced). RELEASE closes it and its connections.
#ifndef QMIN_TEST_FAKES_XENSTORE_WIRE_H_
#define QMIN_TEST_FAKES_XENSTORE_WIRE_H_

#include <csignal>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "xenstore_tree.h"

namespace qmin::fake {

struct Watch {
  std::string path;  ///< absolute, or "@introduceDomain"/"@releaseDomain"
  std::string token;
  std::string given;  ///< as the client wrote it; events report paths in the same form
};

struct Connection {
  int fd = -1;
  unsigned domid = 0;
  std::string input;
  std::vector<Watch> watches;
};

struct Transaction {
  Tree tree;
  std::uint64_t base_generation = 0;
  std::vector<Change> changes;
  int owner_fd = -1;
};

class Server {
 public:
  explicit Server(std::string socket_path);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Listens on dom0's socket; false with errno on failure.
  bool Listen();
  /// Serves until SIGTERM/SIGINT; false with errno on a poll failure.
  bool Run(const volatile sig_atomic_t& stop_requested);

 private:
  struct Listener {
    int fd = -1;
    unsigned domid = 0;
    std::string path;
  };

  bool OpenListener(unsigned domid, const std::string& path);
  void Accept(const Listener& listener);
  void ReadFrom(Connection& connection);
  void Handle(Connection& connection, std::uint32_t type, std::uint32_t req_id, std::uint32_t tx_id,
              const std::string& body);
  void Reply(Connection& connection, std::uint32_t type, std::uint32_t req_id, std::uint32_t tx_id,
             const std::string& body);
  void ReplyError(Connection& connection, std::uint32_t req_id, std::uint32_t tx_id, int err);
  void Fire(const std::vector<Change>& changes);
  void FireSpecial(const std::string& name);
  void SendEvent(Connection& connection, const std::string& path, const Watch& watch);
  void Introduce(unsigned domid);
  void Release(unsigned domid);
  void Close(int fd);
  bool IsIntroduced(unsigned domid) const;
  Tree* TreeFor(std::uint32_t tx_id, int fd);
  void Dispatch(Connection& connection, std::uint32_t type, std::uint32_t req_id,
                std::uint32_t tx_id, const std::vector<std::string>& args, const std::string& body);

  std::string socket_path_;
  Tree tree_;
  std::vector<Listener> listeners_;
  std::map<int, std::unique_ptr<Connection>> connections_;
  std::map<std::uint32_t, Transaction> transactions_;
  std::uint32_t next_transaction_ = 1;
  std::vector<int> closing_;
};

}  // namespace qmin::fake

#endif  // QMIN_TEST_FAKES_XENSTORE_WIRE_H_
