// xsctl: a small xenstore client for tests, on lib/xenstore (and so on the
// real libxenstore): seed the test double, dump it, act as a guest.
//   xsctl [--domain N] COMMAND ARGS...
// --domain N connects to $XENSTORED_PATH.dN, the double's socket for domain N.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "cli.h"
#include "domid.h"
#include "files.h"
#include "text.h"
#include "xenstore.h"
#include "xenstore_watcher.h"

namespace {

const qmin::ToolSpec kTool = {
    "xsctl",
    "[-hv] [--domain N] read PATH | write PATH VALUE | mkdir PATH | rm PATH | ls PATH | "
    "dump [PATH] | getperms PATH | chmod PATH PERM... | watch PATH COUNT | "
    "introduce DOMID | release DOMID | seed FILE",
    "A xenstore client for tests.",
    {{"domain", 0, "N", "act as domain N through $XENSTORED_PATH.dN"}},
    1,
    64,
};

qmin::Status Dump(const qmin::Xenstore& xs, const std::string& path) {
  qmin::Result<std::string> value = xs.Read(path);
  if (!value) return value.error();
  qmin::WriteLine(STDOUT_FILENO, path + " = " + *value);
  qmin::Result<std::vector<std::string>> children = xs.Directory(path);
  if (!children) return children.error();
  std::sort(children->begin(), children->end());
  for (const std::string& child : *children) {
    if (qmin::Status status = Dump(xs, path == "/" ? "/" + child : path + "/" + child); !status)
      return status;
  }
  return {};
}

qmin::Result<std::vector<qmin::XenstorePerm>> ParsePerms(const std::vector<std::string>& words) {
  std::vector<qmin::XenstorePerm> perms;
  for (const std::string& word : words) {
    const auto domid =
        word.size() >= 2 ? qmin::ParseUnsigned(word.substr(1), 0xffff) : std::nullopt;
    const std::string kinds = "nrwb";
    if (!domid || kinds.find(word[0]) == std::string::npos)
      return qmin::InvalidError("parse permission " + word, "expected n|r|w|b and a domain id");
    perms.push_back(qmin::XenstorePerm{static_cast<unsigned>(*domid),
                                       static_cast<qmin::XenstorePerm::Access>(word[0])});
  }
  return perms;
}

// "PATH=VALUE" per line; blank lines and lines starting with # are skipped.
qmin::Status Seed(const qmin::Xenstore& xs, const std::string& file) {
  qmin::Result<std::string> text = qmin::ReadSmallFile(file, 1024 * 1024);
  if (!text) return text.error();
  for (std::string_view line : qmin::Split(*text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t equals = line.find('=');
    if (equals == std::string_view::npos)
      return qmin::InvalidError("parse " + file, "expected PATH=VALUE");
    if (qmin::Status status =
            xs.Write(std::string(line.substr(0, equals)), std::string(line.substr(equals + 1)));
        !status)
      return status;
  }
  return {};
}

qmin::Status Command(qmin::Xenstore& xs, const std::vector<std::string>& words) {
  const std::string& verb = words[0];
  const std::size_t operands = words.size() - 1;
  auto need = [&](std::size_t count) { return operands == count; };
  if (verb == "read" && need(1)) {
    qmin::Result<std::string> value = xs.Read(words[1]);
    if (!value) return value.error();
    qmin::WriteLine(STDOUT_FILENO, *value);
  } else if (verb == "write" && need(2)) {
    return xs.Write(words[1], words[2]);
  } else if (verb == "mkdir" && need(1)) {
    return xs.Mkdir(words[1]);
  } else if (verb == "rm" && need(1)) {
    return xs.Remove(words[1]);
  } else if (verb == "ls" && need(1)) {
    qmin::Result<std::vector<std::string>> names = xs.Directory(words[1]);
    if (!names) return names.error();
    for (const std::string& name : *names) qmin::WriteLine(STDOUT_FILENO, name);
  } else if (verb == "dump" && operands <= 1) {
    return Dump(xs, operands == 1 ? words[1] : "/");
  } else if (verb == "getperms" && need(1)) {
    qmin::Result<std::vector<qmin::XenstorePerm>> perms = xs.GetPermissions(words[1]);
    if (!perms) return perms.error();
    std::string line;
    for (const auto& perm : *perms)
      line += (line.empty() ? "" : " ") + std::string(1, static_cast<char>(perm.access)) +
              std::to_string(perm.domid);
    qmin::WriteLine(STDOUT_FILENO, line);
  } else if (verb == "chmod" && operands >= 2) {
    auto perms = ParsePerms(std::vector<std::string>(words.begin() + 2, words.end()));
    if (!perms) return perms.error();
    return xs.SetPermissions(words[1], *perms);
  } else if (verb == "watch" && need(2)) {
    const auto count = qmin::ParseUnsigned(words[2], 1000000);
    if (!count) return qmin::InvalidError("parse the command line", "COUNT must be a number");
    qmin::Result<qmin::XenstoreWatcher> watcher = qmin::XenstoreWatcher::Open();
    if (!watcher) return watcher.error();
    if (qmin::Status status = watcher->Watch(words[1], "xsctl"); !status) return status;
    for (std::uint64_t printed = 0; printed < *count;) {
      pollfd readable{watcher->fd(), POLLIN, 0};
      if (poll(&readable, 1, -1) < 0) return qmin::SystemError("wait for watch events", errno);
      qmin::Result<qmin::XenstoreWatcher::Drained> drained = watcher->Drain();
      if (!drained) return drained.error();
      for (const qmin::WatchEvent& event : drained->events)
        if (printed++ < *count) qmin::WriteLine(STDOUT_FILENO, event.path + " " + event.token);
    }
  } else if ((verb == "introduce" || verb == "release") && need(1)) {
    const auto domid = qmin::ParseDomainId(words[1]);
    if (!domid) return qmin::InvalidError("parse the command line", "DOMID must be a domain id");
    const unsigned id = *domid;
    return verb == "introduce" ? xs.IntroduceDomain(id, 0, 0) : xs.ReleaseDomain(id);
  } else if (verb == "seed" && need(1)) {
    return Seed(xs, words[1]);
  } else {
    return qmin::InvalidError("parse the command line",
                              "unknown command or wrong operands: " + verb);
  }
  return {};
}

qmin::Result<int> Run(const qmin::Args& args, qmin::Log& /*log*/) {
  if (args.Has("domain")) {
    const char* base = std::getenv("XENSTORED_PATH");
    if (base == nullptr) return qmin::InvalidError("act as a domain", "XENSTORED_PATH is not set");
    const std::string socket = std::string(base) + ".d" + args.Get("domain");
    setenv("XENSTORED_PATH", socket.c_str(), 1);
  }
  qmin::Result<qmin::Xenstore> xs = qmin::Xenstore::Open();
  if (!xs) return xs.error();
  if (qmin::Status done = Command(*xs, args.positionals()); !done) return done.error();
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return qmin::RunTool(kTool, argc, argv, Run); }
