// Test helpers of the retrieval service tests: a promoted toy registry and toy
// user histories (header-only: only *_test.cc files are compiled into the binary).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/bundle/model_bundle.h"
#include "common/bundle/registry.h"
#include "common/data/loader.h"
#include "common/eval/split.h"
#include "common/log.h"
#include "common/retrieval/pool.h"
#include "tests/testing/toy_registry.h"

namespace recsys::retrieval::testing {

// Refused-bundle and bad-input tests log on purpose; keeps the output readable.
class ScopedLogSeverity {
 public:
  explicit ScopedLogSeverity(LogSeverity s) : old_(MinLogSeverity()) { SetMinLogSeverity(s); }
  ~ScopedLogSeverity() { SetMinLogSeverity(old_); }
  ScopedLogSeverity(const ScopedLogSeverity&) = delete;
  ScopedLogSeverity& operator=(const ScopedLogSeverity&) = delete;

 private:
  LogSeverity old_;
};

struct ToyRegistry {
  std::string root;           // <tmp>/recsys_<name>_<pid>
  std::string registry_root;  // root + "/registry"
  std::string name = "toy";
  std::string version;  // the promoted version
  std::string bundle_dir;
};

// Trains the toy bundle (~30 ms) into a fresh temp dir and promotes it.
inline absl::StatusOr<ToyRegistry> MakeToyRegistry(const std::string& name) {
  ToyRegistry t;
  t.root = recsys::testing::FreshTempDir(name);
  t.registry_root = t.root + "/registry";
  ScopedLogSeverity quiet(LogSeverity::kWarning);  // the trainer's leaderboard
  absl::StatusOr<offline::TrainResult> trained = recsys::testing::TrainToyBundle(t.root);
  if (!trained.ok()) return trained.status();
  t.version = trained->version;
  t.bundle_dir = trained->bundle_dir;
  absl::Status s = Registry(t.registry_root, t.name).Promote(t.version, /*force=*/true);
  if (!s.ok()) return s;
  return t;
}

// Trains and publishes one more toy version into `t`'s registry (not promoted).
inline absl::StatusOr<offline::TrainResult> TrainAnotherToyVersion(const ToyRegistry& t) {
  ScopedLogSeverity quiet(LogSeverity::kWarning);
  return recsys::testing::TrainToyBundle(t.root);
}

// One history event with an external id.
struct ToyEvent {
  std::string item_id;
  int64_t timestamp_s;
};

// Every event of toy user `user` ("u0".."u89"), oldest first.
inline std::vector<ToyEvent> ToyUserEvents(const ToyRegistry& t, const std::string& user) {
  absl::StatusOr<Dataset> data = LoadDataset(t.root + "/data", LoadOptions{});
  EXPECT_TRUE(data.ok()) << data.status();
  std::vector<ToyEvent> out;
  if (!data.ok()) return out;
  const std::optional<int32_t> u = data->users.Find(user);
  EXPECT_TRUE(u.has_value()) << user;
  if (!u) return out;
  LeaveLastOutSplit split(*data);
  for (const Interaction& e : split.user_events(*u)) {
    out.push_back(ToyEvent{data->items.Name(e.item), e.timestamp_s});
  }
  return out;
}

// The trainer's sequential pool for a history in bundle item indices: the
// retrieval library's RetrievePool with the bundle's quotas and max_pool.
inline std::vector<PooledCandidate> OfflinePool(const ModelBundle& bundle,
                                                std::vector<Interaction> history, int64_t as_of_s,
                                                std::span<const ItemIndex> exclude = {}) {
  UserState state = BuildUserState(bundle, std::move(history), as_of_s, exclude);
  std::vector<std::pair<SourceId, absl::Status>> failed;
  std::vector<PooledCandidate> pool = RetrievePool(
      DefaultRetrievers(), bundle, state, bundle.params.quotas, bundle.params.max_pool, &failed);
  for (const auto& [id, status] : failed) ADD_FAILURE() << SourceName(id) << ": " << status;
  return pool;
}

}  // namespace recsys::retrieval::testing
