#include "common/progress.h"

#include "absl/strings/str_format.h"
#include "common/log.h"
#include "common/vlog.h"

namespace recsys {

Progress::Progress(std::string step, int64_t total, absl::Duration interval)
    : step_(std::move(step)), total_(total), interval_(interval), start_(absl::Now()) {
  absl::MutexLock lock(&mu_);
  last_log_ = start_;
}

void Progress::Add(int64_t n) {
  const int64_t done = done_.fetch_add(n) + n;
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  if (now - last_log_ < interval_) return;
  last_log_ = now;
  logged_ = true;
  const double secs = absl::ToDoubleSeconds(now - start_);
  const double eta = done > 0 ? secs * static_cast<double>(total_ - done) / done : 0.0;
  LOG(INFO) << absl::StrFormat("%s: %d/%d (%.0f%%), elapsed %.1fs, ETA %.1fs", step_, done,
                               total_, total_ ? 100.0 * done / total_ : 100.0, secs, eta);
}

void Progress::Done() {
  {
    absl::MutexLock lock(&mu_);
    if (!logged_ && Verbosity() < 1) return;
  }
  LOG(INFO) << absl::StrFormat("%s: done in %.2fs", step_, absl::ToDoubleSeconds(elapsed()));
}

}  // namespace recsys
