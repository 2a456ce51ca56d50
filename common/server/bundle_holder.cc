#include "common/server/bundle_holder.h"

#include <algorithm>
#include <exception>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/bundle/registry.h"
#include "common/log.h"
#include "common/server/metrics.h"

namespace recsys {
namespace {

// Longest wait between two retries of a refused version while nothing serves.
constexpr absl::Duration kMaxRetryBackoff = absl::Minutes(5);

// Manifest created_at (RFC 3339), or InfinitePast() if absent or unparsable.
absl::Time CreatedAt(const ModelBundle& bundle) {
  absl::Time t;
  std::string err;
  if (bundle.manifest.created_at().empty() ||
      !absl::ParseTime(absl::RFC3339_full, bundle.manifest.created_at(), &t, &err)) {
    return absl::InfinitePast();
  }
  return t;
}

}  // namespace

BundleHolder::BundleHolder(BundleHolderOptions options) : options_(std::move(options)) {}

BundleHolder::~BundleHolder() { Stop(); }

absl::Status BundleHolder::Start() {
  absl::MutexLock lock(&thread_mu_);
  if (started_) return absl::FailedPreconditionError("BundleHolder::Start called twice");
  started_ = true;
  LOG(INFO) << "watching " << options_.registry_root << "/" << options_.model_name
            << "/production every " << options_.poll_interval;
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void BundleHolder::Stop() {
  absl::MutexLock lock(&thread_mu_);
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void BundleHolder::Run() {
  do {
    Poll(/*scheduled=*/true).IgnoreError();  // Poll logs; the old bundle keeps serving
  } while (!stop_.WaitForNotificationWithTimeout(options_.poll_interval));
}

absl::Status BundleHolder::PollOnce() { return Poll(/*scheduled=*/false); }

absl::StatusOr<std::string> BundleHolder::ReadAlias() const {
  if (options_.production_version) return options_.production_version();
  return Registry(options_.registry_root, options_.model_name).Production();
}

absl::Status BundleHolder::Poll(bool scheduled) {
  absl::MutexLock poll_lock(&poll_mu_);

  absl::StatusOr<std::string> alias = ReadAlias();
  if (!alias.ok()) {
    // Logged when the error changes, not every poll.
    std::string text = alias.status().ToString();
    if (text != last_alias_error_) {
      LOG(WARNING) << "cannot read the production alias of " << options_.registry_root << "/"
                   << options_.model_name << ": " << text;
      last_alias_error_ = text;
    }
    return alias.status();
  }
  last_alias_error_.clear();
  const std::string& wanted = *alias;

  std::string serving;
  std::shared_ptr<const ModelBundle> replaced;  // freed outside the lock
  bool swapped_back = false;
  {
    absl::MutexLock lock(&mu_);
    serving = stats_.version;
    if (wanted == serving) return absl::OkStatus();
    // Back to the kept previous version (a rollback): swap, no load.
    if (previous_ != nullptr && stats_.previous_version == wanted) {
      std::swap(current_, previous_);
      stats_.previous_version = serving;
      stats_.version = wanted;
      ++stats_.swaps_to_previous;
      stats_.failed_version.clear();
      stats_.failed_status = absl::OkStatus();
      swapped_back = true;
    }
    // A refused version is not reloaded until the alias moves, unless nothing is
    // serving yet (then a transient failure must be able to heal).
    if (!serving.empty() && wanted == stats_.failed_version) return stats_.failed_status;
    // With nothing serving, the scheduled polls retry a refused version with
    // exponential backoff (an explicit PollOnce, e.g. SIGHUP, retries at once).
    if (!swapped_back && scheduled && wanted == stats_.failed_version && absl::Now() < retry_at_) {
      return stats_.failed_status;
    }
  }
  if (swapped_back) {
    LOG(INFO) << "serving bundle " << options_.model_name << " version " << wanted
              << " again (kept in memory: no load; replaced " << serving << ")";
    if (options_.metrics != nullptr) {
      const std::shared_ptr<const ModelBundle> now = Current();
      options_.metrics->SetBundle(
          now->manifest.name().empty() ? options_.model_name : now->manifest.name(), wanted,
          CreatedAt(*now));
    }
    if (options_.on_change) options_.on_change(wanted);
    return absl::OkStatus();
  }

  const std::string dir = Registry(options_.registry_root, options_.model_name).VersionDir(wanted);
  LOG(INFO) << "loading bundle " << options_.model_name << " version " << wanted << " from "
            << dir << (serving.empty() ? "" : absl::StrCat(" (serving ", serving, ")"));
  const absl::Time start = absl::Now();
  // A loader must never take the process down: whatever a hostile or broken
  // bundle makes it throw is a refused version like any other error.
  absl::StatusOr<std::shared_ptr<const ModelBundle>> loaded =
      absl::InternalError("the loader did not run");
  try {
    loaded = options_.loader ? options_.loader(dir) : ModelBundle::Load(dir);
  } catch (const std::bad_alloc&) {
    loaded = absl::ResourceExhaustedError(
        absl::StrCat(dir, ": loading ran out of memory (a corrupt size in the bundle?)"));
  } catch (const std::exception& e) {
    loaded = absl::InternalError(absl::StrCat(dir, ": loading threw: ", e.what()));
  } catch (...) {
    loaded = absl::InternalError(absl::StrCat(dir, ": loading threw an unknown exception"));
  }
  const absl::Duration load_time = absl::Now() - start;

  absl::Status status = loaded.status();
  if (status.ok() && *loaded == nullptr) {
    status = absl::InternalError("the loader returned no bundle");
  }
  if (status.ok() && !(*loaded)->manifest.version().empty() &&
      (*loaded)->manifest.version() != wanted) {
    status = absl::FailedPreconditionError(absl::StrCat(
        dir, " holds version ", (*loaded)->manifest.version(), ", not ", wanted));
  }
  if (!status.ok()) {
    LOG(ERROR) << "refusing bundle " << options_.model_name << " version " << wanted << " ("
               << dir << "): " << status
               << (serving.empty()
                       ? "; no bundle is serving yet (NOT_SERVING), retrying with backoff"
                       : absl::StrCat("; still serving ", serving,
                                      ", not retried until the alias moves"));
    {
      absl::MutexLock lock(&mu_);
      ++stats_.loads_failed;
      failed_attempts_ = wanted == stats_.failed_version ? failed_attempts_ + 1 : 1;
      retry_at_ = absl::Now() + std::min(options_.poll_interval * (int64_t{1} << std::min(
                                                                   failed_attempts_ - 1, 20)),
                                         std::max(options_.poll_interval, kMaxRetryBackoff));
      stats_.failed_version = wanted;
      stats_.failed_status = status;
    }
    if (options_.metrics != nullptr) options_.metrics->RecordBundleLoad(false, load_time);
    return status;
  }

  std::shared_ptr<const ModelBundle> bundle = *std::move(loaded);
  const std::string name =
      bundle->manifest.name().empty() ? options_.model_name : bundle->manifest.name();
  const absl::Time created_at = CreatedAt(*bundle);
  std::shared_ptr<const ModelBundle> old;
  {
    absl::MutexLock lock(&mu_);
    old = std::move(current_);
    if (options_.keep_previous && old != nullptr) {
      // The replaced bundle is kept; the one kept before it is dropped.
      replaced = std::move(previous_);
      previous_ = std::move(old);
      stats_.previous_version = serving;
    }
    current_ = std::move(bundle);
    ++stats_.loads_ok;
    stats_.last_load_duration = load_time;
    stats_.version = wanted;
    stats_.failed_version.clear();
    stats_.failed_status = absl::OkStatus();
  }
  old.reset();  // outside the lock: freeing a bundle can take a while
  replaced.reset();
  LOG(INFO) << "serving bundle " << name << " version " << wanted << " (loaded in " << load_time
            << (serving.empty() ? "" : absl::StrCat(", replaced ", serving)) << ")";
  if (options_.metrics != nullptr) {
    options_.metrics->RecordBundleLoad(true, load_time);
    options_.metrics->SetBundle(name, wanted, created_at);
  }
  if (options_.on_change) options_.on_change(wanted);
  return absl::OkStatus();
}

bool BundleHolder::WaitForBundle(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto loaded = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return current_ != nullptr; };
  return mu_.AwaitWithTimeout(absl::Condition(&loaded), timeout);
}

std::shared_ptr<const ModelBundle> BundleHolder::Current() const {
  absl::ReaderMutexLock lock(&mu_);
  return current_;
}

std::string BundleHolder::version() const {
  absl::ReaderMutexLock lock(&mu_);
  return stats_.version;
}

BundleHolderStats BundleHolder::stats() const {
  absl::ReaderMutexLock lock(&mu_);
  return stats_;
}

}  // namespace recsys
