// Progress lines on stderr for long steps: "step 3/10 (30%), elapsed 1.2s, ETA 2.8s".
// Thread-safe; logs at most every `interval`, and at completion only if the
// step logged progress on the way (a quick step stays silent; its caller's
// one line per phase says it ran) or the verbosity is 1 or more.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace recsys {

class Progress {
 public:
  Progress(std::string step, int64_t total, absl::Duration interval = absl::Seconds(2));
  // Records `n` more units done; may log.
  void Add(int64_t n = 1);
  // Logs the final line with the total elapsed time (see above for when).
  void Done();
  absl::Duration elapsed() const { return absl::Now() - start_; }

 private:
  const std::string step_;
  const int64_t total_;
  const absl::Duration interval_;
  const absl::Time start_;
  std::atomic<int64_t> done_{0};
  absl::Mutex mu_;
  absl::Time last_log_ ABSL_GUARDED_BY(mu_);
  bool logged_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace recsys
