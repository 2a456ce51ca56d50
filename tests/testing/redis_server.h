// A real redis-server for tests: a free loopback port, its own directory, the
// configuration we ship (deploy/redis/redis.conf: append-only file fsynced on
// every write) with --appendonly yes --appendfsync always spelled out.
// Tests skip (GTEST_SKIP) when RedisServer::Available() is false.
//
//   RedisServer redis(dir);
//   ASSERT_TRUE(redis.Start());
//   ... redis.Kill(); ASSERT_TRUE(redis.Start());  // same port and data
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace recsys::testing {

class RedisServer {
 public:
  static constexpr char kBinary[] = "/usr/bin/redis-server";
  static bool Available();

  // Picks a free port; nothing runs until Start. `dir` is created if needed.
  // `extra_args` go last on the command line (e.g. {"--replicaof", ...}).
  explicit RedisServer(std::string dir, std::vector<std::string> extra_args = {});
  // Kills the server if it runs.
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts redis-server (loading what its AOF holds) and waits until it
  // answers PING (at most 20 s). False if it did not.
  bool Start();
  // SIGKILL, then waits for the process to end.
  void Kill();
  // SIGSTOP / SIGCONT: a server that accepts connections but never answers.
  void Pause();
  void Resume();
  bool running() const { return pid_ > 0; }

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  // redis://127.0.0.1:PORT/0
  std::string url() const;

 private:
  std::string dir_;
  std::vector<std::string> extra_args_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace recsys::testing
