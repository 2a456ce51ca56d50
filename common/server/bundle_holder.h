// BundleHolder: owns the model bundle a server is serving and hot-swaps it when
// the registry's `production` alias moves.
//
//   BundleHolderOptions opts;
//   opts.registry_root = "/models"; opts.model_name = "movielens";
//   opts.metrics = metrics.get();
//   opts.on_change = [&](const std::string& v) { SetServing(server.get(), kService, true); };
//   BundleHolder holder(std::move(opts));
//   RETURN_IF_ERROR(holder.Start());
//   ...in a handler (take it once, keep it to the end of the request):
//   std::shared_ptr<const ModelBundle> bundle = holder.Current();
//   if (bundle == nullptr) return absl::UnavailableError("no model bundle loaded");
//
// Lifecycle of a version: the polling thread reads the alias; a version different
// from the serving one is loaded aside (the serving bundle keeps answering during
// the load), then the pointer is swapped under a short lock. Requests in flight keep
// the old snapshot until they drop it. A version that fails to load (or whose
// manifest names another version) is refused with one LOG(ERROR) naming it and the
// reason, counted, and remembered: it is not loaded again until the alias moves to
// another version. While nothing is serving yet, the polling thread retries it
// with exponential backoff (one poll interval, doubling, at most 5 minutes), so a
// transient failure at start-up heals without a hostile bundle being reloaded in
// a loop; PollOnce (SIGHUP) retries at once. A loader that throws (bad_alloc or
// anything else) is a refusal like any error: it never takes the process down.
// A holder never goes back to "no bundle".
//
// Threading: Current(), version(), stats(), WaitForBundle() are safe from any thread.
// PollOnce() may be called from any thread (polls are serialized); on_change runs
// on the polling thread, outside the holder's locks, and must not call Stop() or
// PollOnce() (it runs inside a poll).
// Cost: Current() is a reader lock plus a shared_ptr copy (one atomic increment);
// a poll reads one small file; a load costs ModelBundle::Load (O(bundle size))
// and briefly needs memory for two bundles.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/bundle/model_bundle.h"

namespace recsys {

class ServerMetrics;

using BundleLoader =
    std::function<absl::StatusOr<std::shared_ptr<const ModelBundle>>(const std::string& dir)>;

// Returns the bundle to serve a request with (null = none loaded yet). What a
// service is given instead of the holder itself (see BundleServer).
using BundleSource = std::function<std::shared_ptr<const ModelBundle>()>;

struct BundleHolderOptions {
  // Registry root directory and model family: bundles live in <root>/<name>/<version>.
  std::string registry_root;
  std::string model_name;
  // Time between two reads of the production alias.
  absl::Duration poll_interval = absl::Seconds(10);
  // Loads and verifies one bundle directory. Empty = ModelBundle::Load.
  BundleLoader loader;
  // Returns the version the alias points at. Empty = Registry(root, name).Production().
  std::function<absl::StatusOr<std::string>()> production_version;
  // Called after every swap with the version now serving (never with ""; a holder
  // never unloads). Use it to flip gRPC health to SERVING.
  std::function<void(const std::string& version)> on_change;
  // Not owned, may be null; must outlive the holder. Receives load counts and
  // durations and the serving version (recsys_bundle_* families).
  ServerMetrics* metrics = nullptr;
  // Keep the bundle a swap replaced (one), so that moving the alias back to it
  // (a rollback) is a pointer swap instead of a load: no load work competing
  // with requests, no cold pages. Costs the memory of a second bundle (its
  // mapped pages stay resident while touched); off halves the steady-state
  // bundle memory.
  bool keep_previous = true;
};

struct BundleHolderStats {
  int64_t loads_ok = 0;
  int64_t loads_failed = 0;
  // Swaps back to the kept previous bundle (keep_previous), no load.
  int64_t swaps_to_previous = 0;
  // The kept previous version ("" if none).
  std::string previous_version;
  // Wall time of the last successful load (ZeroDuration() before the first).
  absl::Duration last_load_duration = absl::ZeroDuration();
  // The serving version, "" before the first load.
  std::string version;
  // The version last refused and why ("" / OK if none since the last swap).
  std::string failed_version;
  absl::Status failed_status;
};

class BundleHolder {
 public:
  explicit BundleHolder(BundleHolderOptions options);
  // Stops the polling thread.
  ~BundleHolder();
  BundleHolder(const BundleHolder&) = delete;
  BundleHolder& operator=(const BundleHolder&) = delete;

  // Starts the polling thread, which polls at once and then every poll_interval
  // until Stop(). Returns without waiting for a load (see WaitForBundle), so the
  // server can start and report NOT_SERVING meanwhile. At most once per holder:
  // FailedPrecondition on a second call.
  absl::Status Start();
  // Wakes and joins the polling thread (an in-progress load finishes first).
  // Idempotent; the holder keeps serving its current bundle afterwards.
  void Stop();

  // One synchronous poll on the caller's thread: reads the alias and, if it moved,
  // loads and swaps. OK when the holder serves the alias' version afterwards;
  // otherwise the alias read error or the (possibly remembered) load error.
  absl::Status PollOnce();

  // Blocks until a bundle is serving or `timeout` passes; true if one is serving.
  bool WaitForBundle(absl::Duration timeout) const;

  // The serving bundle; null until the first successful load.
  std::shared_ptr<const ModelBundle> Current() const;
  // The serving version, "" until the first successful load.
  std::string version() const;
  BundleHolderStats stats() const;

 private:
  void Run();
  // PollOnce's body; `scheduled` polls (the thread's) honour the retry backoff.
  absl::Status Poll(bool scheduled);
  absl::StatusOr<std::string> ReadAlias() const;

  const BundleHolderOptions options_;

  // Serializes polls (the thread's and PollOnce callers'); held during a load.
  absl::Mutex poll_mu_;
  std::string last_alias_error_ ABSL_GUARDED_BY(poll_mu_);

  mutable absl::Mutex mu_;
  std::shared_ptr<const ModelBundle> current_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const ModelBundle> previous_ ABSL_GUARDED_BY(mu_);  // keep_previous
  BundleHolderStats stats_ ABSL_GUARDED_BY(mu_);
  // Consecutive refusals of stats_.failed_version, and when a scheduled poll
  // may retry it (only while nothing is serving).
  int failed_attempts_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  absl::Mutex thread_mu_;
  bool started_ ABSL_GUARDED_BY(thread_mu_) = false;
  std::thread thread_ ABSL_GUARDED_BY(thread_mu_);
  absl::Notification stop_;
};

}  // namespace recsys
