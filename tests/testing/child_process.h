// Test helper: a real binary run as a child process, stdout and stderr on one
// pipe, read with a timeout so a hung child fails the test instead of hanging
// it; killed (SIGKILL) and reaped on destruction if still running.
// Header-only: only the test binaries that start our binaries include it.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace recsys::testing {

class ChildProcess {
 public:
  ChildProcess(const std::string& binary, const std::vector<std::string>& args) {
    int fds[2];
    if (pipe(fds) != 0) return;
    std::vector<char*> argv = {const_cast<char*>(binary.c_str())};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 1);
      dup2(fds[1], 2);
      close(fds[0]);
      close(fds[1]);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
  }
  ~ChildProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads output until it contains `text`; false on timeout or end of output.
  bool ReadUntil(const std::string& text, int timeout_ms = 60000) {
    while (!absl::StrContains(output_, text)) {
      if (!ReadSome(timeout_ms)) return false;
    }
    return true;
  }

  // The number right after the first `marker` in the output (e.g. "gRPC on
  // port "), waiting for it up to 60 s; 0 if it never comes.
  int NumberAfter(const std::string& marker) {
    while (true) {
      const size_t at = output_.find(marker);
      if (at != std::string::npos) {
        const size_t begin = at + marker.size();
        const size_t end = output_.find_first_not_of("0123456789", begin);
        int value = 0;
        if (end != std::string::npos &&
            absl::SimpleAtoi(output_.substr(begin, end - begin), &value)) {
          return value;
        }
      }
      if (!ReadSome(60000)) return 0;
    }
  }

  // Reads to end of output, then returns the exit code (-1 if killed by a signal).
  int Wait() {
    ReadUntil("\x01never\x01");
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // True while the process has not exited or been killed.
  bool Alive() {
    if (pid_ <= 0 || reaped_) return false;
    if (waitpid(pid_, nullptr, WNOHANG) == 0) return true;
    reaped_ = true;
    return false;
  }

  void Signal(int sig) { kill(pid_, sig); }
  const std::string& output() const { return output_; }

 private:
  // Appends the next chunk of output; false on timeout or end of output.
  bool ReadSome(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    const ssize_t n = read(fd_, buf, sizeof(buf));
    if (n <= 0) return false;
    output_.append(buf, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
  std::string output_;
};

}  // namespace recsys::testing
