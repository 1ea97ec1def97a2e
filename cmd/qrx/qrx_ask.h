// The operator's say on an `ask` decision (qrx-broker --ask-program). A
// headless host has no prompt: a program of the operator's choosing gets
//   SOURCE TARGETS DEFAULT SERVICE+ARG
// (TARGETS comma-separated, DEFAULT empty when there is none) and prints the
// target it allows, or nothing to refuse. It runs beside the event loop and
// never blocks it; one that takes too long is killed and counts as "no".
#ifndef QMIN_CMD_QRX_ASK_H_
#define QMIN_CMD_QRX_ASK_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "event_loop.h"
#include "log.h"

namespace qmin::qrx {

class AskProgram {
 public:
  /// With the chosen target, or "" for a refusal.
  using Answer = std::function<void(const std::string& target)>;
  AskProgram(EventLoop& loop, Log& log, std::string path, std::chrono::seconds patience);
  ~AskProgram();
  AskProgram(const AskProgram&) = delete;
  AskProgram& operator=(const AskProgram&) = delete;

  void Ask(const std::string& source, const std::vector<std::string>& targets,
           const std::string& default_target, const std::string& service, Answer answer);
  /// A child ended; true if it was one of ours (its answer is given then).
  bool Reaped(pid_t pid, int status);

 private:
  struct Question {
    int fd = -1;
    std::string output;
    std::vector<std::string> targets;
    Answer answer;
    EventLoop::TimerId deadline = 0;
  };
  void Read(pid_t pid);

  EventLoop& loop_;
  Log& log_;
  std::string path_;
  std::chrono::seconds patience_;
  std::map<pid_t, Question> questions_;
};

}  // namespace qmin::qrx

#endif  // QMIN_CMD_QRX_ASK_H_
