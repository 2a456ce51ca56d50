#include "gateway/redis_client.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/user_store_metrics.h"

namespace recsys::gateway {
namespace {

absl::Status Invalid(absl::string_view url, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("bad Redis URL '", url, "': ", why, " (expected redis://host[:port][/db])"));
}

bool HostNameOk(absl::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
}

timeval SocketTimeout(absl::Duration d) {
  return absl::ToTimeval(std::max(d, absl::Milliseconds(1)));
}

// hiredis writes with write(2): a connection Redis closed would raise SIGPIPE,
// whose default action ends the process. The signal is blocked on this thread
// while a call runs and a SIGPIPE it raised is taken before unblocking, so no
// process-wide disposition changes.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~ScopedSigpipeBlock() {
    sigset_t pending;
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
      const timespec zero{0, 0};
      (void)sigtimedwait(&pipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
};

// Sends one command and reads its reply on a connected context.
absl::StatusOr<RedisReplyPtr> Roundtrip(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  void* reply = redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data());
  if (reply == nullptr) return absl::UnavailableError(c->errstr);
  return RedisReplyPtr(static_cast<redisReply*>(reply));
}

// hiredis' text for a read that timed out is errno's ("Resource temporarily
// unavailable"): say what it means.
bool TimedOut(const redisContext* c) {
  return c->err == REDIS_ERR_IO && absl::StrContains(c->errstr, "temporarily unavailable");
}
std::string IoError(const redisContext* c) {
  if (TimedOut(c)) return absl::StrCat("timeout (", c->errstr, ")");
  return c->errstr;
}

}  // namespace

std::string RedisEndpoint::ToString() const {
  const bool v6 = absl::StrContains(host, ':');
  return absl::StrCat(v6 ? "[" : "", host, v6 ? "]" : "", ":", port, "/", db);
}

absl::StatusOr<RedisEndpoint> ParseRedisUrl(absl::string_view url) {
  constexpr absl::string_view kScheme = "redis://";
  if (absl::StartsWith(url, "rediss://")) {
    return Invalid(url,
                   "TLS (rediss://) is not supported by hiredis 0.14: reach Redis over a "
                   "private network or a TLS tunnel");
  }
  if (!absl::StartsWith(url, kScheme)) return Invalid(url, "the scheme must be redis://");
  absl::string_view rest = url.substr(kScheme.size());
  if (rest.find_first_of("?#") != absl::string_view::npos) {
    return Invalid(url, "query and fragment are not supported");
  }
  if (rest.find('@') != absl::string_view::npos) {
    return Invalid(url,
                   "credentials in the URL are not accepted (flags show in the process "
                   "list): use --redis_password_file");
  }
  const size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  absl::string_view path = slash == absl::string_view::npos ? "" : rest.substr(slash + 1);
  RedisEndpoint e;
  absl::string_view port;
  if (absl::StartsWith(authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) return Invalid(url, "unclosed '[' in the host");
    e.host = std::string(authority.substr(1, close - 1));
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Invalid(url, "expected ':port' after ']'");
      port = after.substr(1);
      if (port.empty()) return Invalid(url, "empty port");
    }
    if (e.host.empty() || !std::all_of(e.host.begin(), e.host.end(), [](char c) {
          return absl::ascii_isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
        })) {
      return Invalid(url, "bad IPv6 address");
    }
  } else {
    const size_t colon = authority.find(':');
    e.host = std::string(authority.substr(0, colon));
    if (colon != absl::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return Invalid(url, "empty port");
    }
    if (!HostNameOk(e.host)) return Invalid(url, "missing or bad host");
  }
  if (!port.empty()) {
    int p = 0;
    if (!std::all_of(port.begin(), port.end(), absl::ascii_isdigit) || port.size() > 5 ||
        !absl::SimpleAtoi(port, &p) || p < 1 || p > 65535) {
      return Invalid(url, absl::StrCat("port '", port, "' is not in 1..65535"));
    }
    e.port = p;
  }
  if (!path.empty()) {
    int db = 0;
    if (!std::all_of(path.begin(), path.end(), absl::ascii_isdigit) || path.size() > 10 ||
        !absl::SimpleAtoi(path, &db) || db < 0) {
      return Invalid(url, absl::StrCat("database '", path, "' is not a number in 0..2^31-1"));
    }
    e.db = db;
  }
  return e;
}

void RedisReplyDeleter::operator()(redisReply* reply) const {
  if (reply != nullptr) freeReplyObject(reply);
}

absl::Status RedisErrorStatus(absl::string_view error_reply) {
  const std::string message = absl::StrCat("redis: ", error_reply);
  const absl::string_view code = error_reply.substr(0, error_reply.find(' '));
  if (code == "OOM") return absl::ResourceExhaustedError(message);
  for (absl::string_view transient : {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "NOREPLICAS",
                                      "TRYAGAIN", "CLUSTERDOWN", "NOAUTH", "WRONGPASS"}) {
    if (code == transient) return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

RedisPool::RedisPool(RedisPoolOptions options)
    : options_(std::move(options)), slots_(static_cast<size_t>(std::max(1, options_.size))) {
  for (Slot& s : slots_) free_.push_back(&s);
  if (options_.metrics != nullptr) options_.metrics->SetPoolSize(static_cast<int>(slots_.size()));
}

RedisPool::~RedisPool() {
  // Not Close: the metrics may be gone already at process exit.
  for (Slot& s : slots_) {
    if (s.context != nullptr) redisFree(s.context);
  }
}

RedisPool::Stats RedisPool::stats() const {
  Stats s;
  s.size = static_cast<int>(slots_.size());
  s.connected = connected_.load(std::memory_order_relaxed);
  s.reconnects = reconnects_.load(std::memory_order_relaxed);
  s.failures = failures_.load(std::memory_order_relaxed);
  return s;
}

RedisPool::Slot* RedisPool::Acquire(std::string* error) {
  absl::MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + options_.timeout;
  while (free_.empty()) {
    if (freed_.WaitWithDeadline(&mu_, deadline) && free_.empty()) {
      *error = absl::StrCat("all ", slots_.size(), " Redis connections stayed busy for ",
                            absl::FormatDuration(options_.timeout));
      return nullptr;
    }
  }
  // Prefer a connected slot: the free list is a stack, so recently used
  // (connected) slots are taken first.
  Slot* slot = free_.back();
  free_.pop_back();
  return slot;
}

void RedisPool::Release(Slot* slot) {
  absl::MutexLock lock(&mu_);
  free_.push_back(slot);
  freed_.Signal();
}

void RedisPool::Close(Slot* slot) {
  if (slot->context == nullptr) return;
  redisFree(slot->context);
  slot->context = nullptr;
  connected_.fetch_sub(1, std::memory_order_relaxed);
  if (options_.metrics != nullptr) options_.metrics->SetOpenConnections(connected_.load());
}

absl::Status RedisPool::Failed(const std::string& message) {
  failures_.fetch_add(1, std::memory_order_relaxed);
  return absl::UnavailableError(
      absl::StrCat("redis ", options_.endpoint.ToString(), ": ", message));
}

absl::Status RedisPool::Connect(Slot* slot) {
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    if (now < next_connect_) {
      return Failed(absl::StrCat(
          last_connect_error_, " (next connection attempt in ",
          absl::FormatDuration(absl::Ceil(next_connect_ - now, absl::Milliseconds(1))), ")"));
    }
  }
  const timeval tv = SocketTimeout(options_.timeout);
  redisContext* c =
      redisConnectWithTimeout(options_.endpoint.host.c_str(), options_.endpoint.port, tv);
  std::string error;
  if (c == nullptr) {
    error = "cannot allocate a connection";
  } else if (c->err != 0) {
    error = absl::StrCat("connect: ", IoError(c));
  } else if (redisSetTimeout(c, tv) != REDIS_OK) {
    error = absl::StrCat("set timeout: ", IoError(c));
  } else {
    (void)redisEnableKeepAlive(c);
    std::vector<std::vector<std::string>> setup;
    if (!options_.password.empty()) setup.push_back({"AUTH", options_.password});
    if (options_.endpoint.db != 0) setup.push_back({"SELECT", absl::StrCat(options_.endpoint.db)});
    for (const auto& command : setup) {
      absl::StatusOr<RedisReplyPtr> reply = Roundtrip(c, command);
      if (!reply.ok()) {
        error = absl::StrCat(command[0], ": ", IoError(c));
        break;
      }
      if ((*reply)->type == REDIS_REPLY_ERROR) {
        error = absl::StrCat(command[0], ": ", std::string((*reply)->str, (*reply)->len));
        break;
      }
    }
  }
  if (!error.empty()) {
    if (c != nullptr) redisFree(c);
    absl::MutexLock lock(&mu_);
    last_connect_error_ = error;
    next_connect_ = absl::Now() + options_.reconnect_backoff;
    return Failed(error);
  }
  slot->context = c;
  slot->generation = generation_.load();
  connected_.fetch_add(1, std::memory_order_relaxed);
  if (slot->ever_connected) {
    reconnects_.fetch_add(1, std::memory_order_relaxed);
    if (options_.metrics != nullptr) options_.metrics->CountReconnect();
  }
  slot->ever_connected = true;
  if (options_.metrics != nullptr) options_.metrics->SetOpenConnections(connected_.load());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<RedisReplyPtr>> RedisPool::Run(const std::vector<Command>& commands,
                                                          Retry retry) {
  bool closed_by_peer = false;
  absl::StatusOr<std::vector<RedisReplyPtr>> replies = RunOnce(commands, &closed_by_peer);
  if (!replies.ok() && closed_by_peer && retry == Retry::kIfStale) {
    replies = RunOnce(commands, &closed_by_peer);
  }
  return replies;
}

absl::StatusOr<std::vector<RedisReplyPtr>> RedisPool::RunOnce(const std::vector<Command>& commands,
                                                              bool* closed_by_peer) {
  *closed_by_peer = false;
  std::string busy;
  Slot* slot = Acquire(&busy);
  if (slot == nullptr) return Failed(busy);
  ScopedSigpipeBlock no_sigpipe;
  absl::Status status;
  std::vector<RedisReplyPtr> replies;
  // Opened before Redis closed another connection: as closed as that one.
  if (slot->context != nullptr && slot->generation != generation_.load()) Close(slot);
  if (slot->context == nullptr) status = Connect(slot);
  if (status.ok()) {
    redisContext* c = slot->context;
    for (const Command& command : commands) {
      std::vector<const char*> argv;
      std::vector<size_t> lengths;
      for (const std::string& a : command) {
        argv.push_back(a.data());
        lengths.push_back(a.size());
      }
      if (redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data()) !=
          REDIS_OK) {
        status = Failed(IoError(c));
        break;
      }
    }
    for (size_t i = 0; status.ok() && i < commands.size(); ++i) {
      void* reply = nullptr;
      if (redisGetReply(c, &reply) != REDIS_OK || reply == nullptr) {
        status = Failed(IoError(c));
        break;
      }
      replies.emplace_back(static_cast<redisReply*>(reply));
    }
    // A broken or timed-out connection cannot be reused (a late reply would
    // answer the next call): close it, the next call reconnects.
    if (!status.ok()) {
      if (!TimedOut(c)) {
        *closed_by_peer = true;
        generation_.fetch_add(1);
      }
      Close(slot);
    }
  }
  Release(slot);
  if (!status.ok()) return status;
  return replies;
}

}  // namespace recsys::gateway
