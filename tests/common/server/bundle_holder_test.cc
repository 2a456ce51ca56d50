#include "common/server/bundle_holder.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/server/bundle_server.h"
#include "common/server/metrics.h"
#include "recsys/v1/retrieval.grpc.pb.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;

// An in-memory registry: an alias, and per version either a bundle or an error.
struct FakeRegistry {
  absl::StatusOr<std::string> alias = absl::NotFoundError("nothing promoted");
  std::map<std::string, absl::Status> broken;  // version -> load error
  std::vector<std::string> loaded_dirs;        // every loader call, in order

  BundleLoader Loader() {
    return [this](const std::string& dir) -> absl::StatusOr<std::shared_ptr<const ModelBundle>> {
      loaded_dirs.push_back(dir);
      std::string version = fs::path(dir).filename().string();
      auto it = broken.find(version);
      if (it != broken.end()) return it->second;
      auto bundle = std::make_shared<ModelBundle>();
      bundle->manifest.set_name("movielens");
      bundle->manifest.set_version(version);
      bundle->manifest.set_created_at("2026-01-02T03:04:05Z");
      return std::shared_ptr<const ModelBundle>(std::move(bundle));
    };
  }

  BundleHolderOptions Options(std::vector<std::string>* changes) {
    BundleHolderOptions o;
    o.registry_root = "/registry";
    o.model_name = "movielens";
    o.poll_interval = absl::Hours(1);  // tests poll by hand
    o.loader = Loader();
    o.production_version = [this] { return alias; };
    o.on_change = [changes](const std::string& v) { changes->push_back(v); };
    return o;
  }
};

// Refused-bundle tests log an ERROR on purpose; keep the output readable.
class ScopedLogSeverity {
 public:
  explicit ScopedLogSeverity(LogSeverity s) : old_(MinLogSeverity()) { SetMinLogSeverity(s); }
  ~ScopedLogSeverity() { SetMinLogSeverity(old_); }

 private:
  LogSeverity old_;
};

// The first poll loads the production version from <root>/<name>/<version> and announces it.
TEST(BundleHolderTest, FirstPollLoadsProductionAndCallsOnChange) {
  FakeRegistry reg;
  reg.alias = "v1";
  std::vector<std::string> changes;
  BundleHolder holder(reg.Options(&changes));
  EXPECT_EQ(holder.Current(), nullptr);
  EXPECT_EQ(holder.version(), "");

  ASSERT_TRUE(holder.PollOnce().ok());
  ASSERT_NE(holder.Current(), nullptr);
  EXPECT_EQ(holder.Current()->manifest.version(), "v1");
  EXPECT_EQ(holder.version(), "v1");
  EXPECT_EQ(changes, std::vector<std::string>{"v1"});
  EXPECT_EQ(reg.loaded_dirs, std::vector<std::string>{"/registry/movielens/v1"});
  EXPECT_EQ(holder.stats().loads_ok, 1);
  EXPECT_TRUE(holder.WaitForBundle(absl::ZeroDuration()));
}

// An unchanged alias costs no reload and no on_change.
TEST(BundleHolderTest, UnchangedAliasDoesNotReload) {
  FakeRegistry reg;
  reg.alias = "v1";
  std::vector<std::string> changes;
  BundleHolder holder(reg.Options(&changes));
  ASSERT_TRUE(holder.PollOnce().ok());
  ASSERT_TRUE(holder.PollOnce().ok());
  ASSERT_TRUE(holder.PollOnce().ok());
  EXPECT_EQ(reg.loaded_dirs.size(), 1u);
  EXPECT_EQ(changes.size(), 1u);
}

// A moved alias swaps the bundle; a request holding the old snapshot keeps it intact.
TEST(BundleHolderTest, SwapsWhenAliasMovesAndInFlightRequestKeepsOldSnapshot) {
  FakeRegistry reg;
  reg.alias = "v1";
  std::vector<std::string> changes;
  BundleHolder holder(reg.Options(&changes));
  ASSERT_TRUE(holder.PollOnce().ok());
  std::shared_ptr<const ModelBundle> in_flight = holder.Current();

  reg.alias = "v2";
  ASSERT_TRUE(holder.PollOnce().ok());
  EXPECT_EQ(holder.Current()->manifest.version(), "v2");
  EXPECT_EQ(in_flight->manifest.version(), "v1");
  EXPECT_EQ(changes, (std::vector<std::string>{"v1", "v2"}));

  // Rollback to the version just replaced: the kept bundle is swapped back in,
  // no load, and the change is announced like any other.
  reg.alias = "v1";
  ASSERT_TRUE(holder.PollOnce().ok());
  EXPECT_EQ(holder.version(), "v1");
  EXPECT_EQ(holder.Current(), in_flight);  // the very same bundle
  EXPECT_EQ(holder.stats().loads_ok, 2);
  EXPECT_EQ(holder.stats().swaps_to_previous, 1);
  EXPECT_EQ(holder.stats().previous_version, "v2");
  EXPECT_EQ(changes, (std::vector<std::string>{"v1", "v2", "v1"}));
  EXPECT_EQ(reg.loaded_dirs.size(), 2u);

  // Only one previous bundle is kept: v3 replaces v1 (kept), v2 is dropped and
  // has to be loaded again.
  reg.alias = "v3";
  ASSERT_TRUE(holder.PollOnce().ok());
  reg.alias = "v2";
  ASSERT_TRUE(holder.PollOnce().ok());
  EXPECT_EQ(holder.stats().loads_ok, 4);
  EXPECT_EQ(holder.stats().previous_version, "v3");
}

// keep_previous off: every change, a rollback included, is a load.
TEST(BundleHolderTest, WithoutKeepPreviousRollbackLoads) {
  FakeRegistry reg;
  reg.alias = "v1";
  std::vector<std::string> changes;
  BundleHolderOptions options = reg.Options(&changes);
  options.keep_previous = false;
  BundleHolder holder(std::move(options));
  ASSERT_TRUE(holder.PollOnce().ok());
  reg.alias = "v2";
  ASSERT_TRUE(holder.PollOnce().ok());
  reg.alias = "v1";
  ASSERT_TRUE(holder.PollOnce().ok());
  EXPECT_EQ(holder.version(), "v1");
  EXPECT_EQ(holder.stats().loads_ok, 3);
  EXPECT_EQ(holder.stats().swaps_to_previous, 0);
  EXPECT_EQ(holder.stats().previous_version, "");
}

// A broken version is refused, the old bundle keeps serving, and it is not retried until
// the alias moves again.
TEST(BundleHolderTest, BrokenVersionIsRefusedAndOldKeepsServing) {
  ScopedLogSeverity quiet(LogSeverity::kFatal);
  FakeRegistry reg;
  reg.alias = "v1";
  reg.broken["v2"] = absl::DataLossError("checksum mismatch in ranker.arr");
  std::vector<std::string> changes;
  BundleHolder holder(reg.Options(&changes));
  ASSERT_TRUE(holder.PollOnce().ok());

  reg.alias = "v2";
  absl::Status s = holder.PollOnce();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(s.message(), "checksum mismatch"));
  EXPECT_EQ(holder.version(), "v1");
  EXPECT_EQ(holder.Current()->manifest.version(), "v1");
  EXPECT_EQ(changes, std::vector<std::string>{"v1"});
  BundleHolderStats stats = holder.stats();
  EXPECT_EQ(stats.loads_failed, 1);
  EXPECT_EQ(stats.failed_version, "v2");

  // Polling again does not reload the known-bad version but still reports it.
  EXPECT_EQ(holder.PollOnce().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(reg.loaded_dirs.size(), 2u);
  EXPECT_EQ(holder.stats().loads_failed, 1);

  // A fixed-forward version loads.
  reg.alias = "v3";
  ASSERT_TRUE(holder.PollOnce().ok());
  EXPECT_EQ(holder.version(), "v3");
  EXPECT_EQ(changes, (std::vector<std::string>{"v1", "v3"}));
  EXPECT_EQ(holder.stats().failed_version, "");
}

// With nothing serving yet, a failed version is retried every poll so a transient error heals.
TEST(BundleHolderTest, InitialFailureIsRetriedUntilOneLoads) {
  ScopedLogSeverity quiet(LogSeverity::kFatal);
  FakeRegistry reg;
  reg.alias = "v1";
  reg.broken["v1"] = absl::UnavailableError("disk not mounted yet");
  std::vector<std::string> changes;
  BundleHolder holder(reg.Options(&changes));
  EXPECT_FALSE(holder.PollOnce().ok());
  EXPECT_FALSE(holder.PollOnce().ok());
  EXPECT_EQ(reg.loaded_dirs.size(), 2u);
  EXPECT_EQ(holder.Current(), nullptr);
  EXPECT_FALSE(holder.WaitForBundle(absl::ZeroDuration()));

  reg.broken.clear();
  ASSERT_TRUE(holder.PollOnce().ok());
  EXPECT_EQ(holder.version(), "v1");
  EXPECT_EQ(changes, std::vector<std::string>{"v1"});
}

// A loader that throws (a hostile bundle making an allocation fail, or any
// library exception) is a refusal like any error: the process stays up and the
// serving bundle keeps serving.
TEST(BundleHolderTest, LoaderExceptionsAreRefusalsNotCrashes) {
  ScopedLogSeverity quiet(LogSeverity::kFatal);
  FakeRegistry reg;
  reg.alias = "v1";
  std::vector<std::string> changes;
  BundleHolderOptions options = reg.Options(&changes);
  BundleLoader fine = options.loader;
  options.loader = [fine](const std::string& dir)
      -> absl::StatusOr<std::shared_ptr<const ModelBundle>> {
    const std::string version = fs::path(dir).filename().string();
    if (version == "v2") throw std::bad_alloc();
    if (version == "v3") throw std::runtime_error("index file is garbage");
    return fine(dir);
  };
  BundleHolder holder(std::move(options));
  ASSERT_TRUE(holder.PollOnce().ok());
  reg.alias = "v2";
  absl::Status s = holder.PollOnce();
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_EQ(holder.version(), "v1");
  reg.alias = "v3";
  s = holder.PollOnce();
  EXPECT_TRUE(absl::IsInternal(s)) << s;
  EXPECT_NE(s.message().find("index file is garbage"), std::string::npos) << s;
  EXPECT_EQ(holder.version(), "v1");
  EXPECT_EQ(holder.stats().loads_failed, 2);
}

// With nothing serving, the polling thread retries a refused version with
// exponential backoff, not at every poll: a hostile production bundle is not
// reloaded in a loop. (At a 5 ms poll, one second would be ~200 loads without
// backoff; with it, about 8.)
TEST(BundleHolderTest, ScheduledPollsBackOffFromARefusedVersion) {
  ScopedLogSeverity quiet(LogSeverity::kFatal);
  FakeRegistry reg;
  reg.alias = "v1";
  reg.broken["v1"] = absl::DataLossError("crafted header");
  std::vector<std::string> changes;
  BundleHolderOptions options = reg.Options(&changes);
  options.poll_interval = absl::Milliseconds(5);
  BundleHolder holder(std::move(options));
  ASSERT_TRUE(holder.Start().ok());
  absl::SleepFor(absl::Seconds(1));
  holder.Stop();
  EXPECT_GE(reg.loaded_dirs.size(), 2u);
  EXPECT_LE(reg.loaded_dirs.size(), 30u);
  EXPECT_EQ(holder.Current(), nullptr);
  // An explicit poll (what SIGHUP does) retries at once.
  const size_t before = reg.loaded_dirs.size();
  EXPECT_FALSE(holder.PollOnce().ok());
  EXPECT_EQ(reg.loaded_dirs.size(), before + 1);
}

// No alias yet: the poll reports it, nothing is loaded; the alias appearing later loads.
TEST(BundleHolderTest, MissingAliasThenPromoted) {
  ScopedLogSeverity quiet(LogSeverity::kFatal);
  FakeRegistry reg;
  std::vector<std::string> changes;
  BundleHolder holder(reg.Options(&changes));
  EXPECT_EQ(holder.PollOnce().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(reg.loaded_dirs.empty());

  reg.alias = "v1";
  ASSERT_TRUE(holder.PollOnce().ok());
  EXPECT_EQ(holder.version(), "v1");
}

// A directory whose manifest names a different version is refused (a mixed-up registry).
TEST(BundleHolderTest, ManifestVersionMismatchIsRefused) {
  ScopedLogSeverity quiet(LogSeverity::kFatal);
  FakeRegistry reg;
  reg.alias = "v1";
  std::vector<std::string> changes;
  BundleHolderOptions o = reg.Options(&changes);
  o.loader = [](const std::string&) -> absl::StatusOr<std::shared_ptr<const ModelBundle>> {
    auto b = std::make_shared<ModelBundle>();
    b->manifest.set_version("v0");
    return std::shared_ptr<const ModelBundle>(std::move(b));
  };
  BundleHolder holder(std::move(o));
  EXPECT_EQ(holder.PollOnce().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(holder.Current(), nullptr);
  EXPECT_TRUE(changes.empty());
}

// Loads and swaps show up in the recsys_bundle_* families; the old version's info is removed.
TEST(BundleHolderTest, ReportsLoadsToServerMetrics) {
  ScopedLogSeverity quiet(LogSeverity::kFatal);
  std::unique_ptr<ServerMetrics> metrics = ServerMetrics::CreateWithoutExposer();
  FakeRegistry reg;
  reg.alias = "v1";
  reg.broken["v2"] = absl::DataLossError("truncated");
  std::vector<std::string> changes;
  BundleHolderOptions o = reg.Options(&changes);
  o.metrics = metrics.get();
  BundleHolder holder(std::move(o));
  ASSERT_TRUE(holder.PollOnce().ok());
  reg.alias = "v2";
  EXPECT_FALSE(holder.PollOnce().ok());
  reg.alias = "v3";
  ASSERT_TRUE(holder.PollOnce().ok());

  std::string text = metrics->SerializeText();
  EXPECT_TRUE(absl::StrContains(text, "recsys_bundle_info{name=\"movielens\",version=\"v3\"} 1"))
      << text;
  EXPECT_FALSE(absl::StrContains(text, "version=\"v1\"")) << text;
  EXPECT_TRUE(absl::StrContains(text, "recsys_bundle_loads_total{result=\"ok\"} 2")) << text;
  EXPECT_TRUE(absl::StrContains(text, "recsys_bundle_loads_total{result=\"error\"} 1")) << text;
  // 2026-01-02T03:04:05Z
  EXPECT_TRUE(absl::StrContains(text, "recsys_bundle_created_timestamp_seconds 1767323045"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "recsys_bundle_load_seconds ")) << text;
}

// Without an injected alias reader the holder follows <root>/<name>/production on disk.
TEST(BundleHolderTest, ReadsTheRegistryAliasFile) {
  std::string root = ::testing::TempDir() + "bundle_holder_test-XXXXXX";
  ASSERT_NE(::mkdtemp(root.data()), nullptr);
  fs::create_directories(root + "/movielens");
  std::ofstream(root + "/movielens/production") << "v7\n";

  FakeRegistry reg;
  std::vector<std::string> changes;
  BundleHolderOptions o = reg.Options(&changes);
  o.registry_root = root;
  o.production_version = nullptr;
  BundleHolder holder(std::move(o));
  ASSERT_TRUE(holder.PollOnce().ok());
  EXPECT_EQ(holder.version(), "v7");
  EXPECT_EQ(reg.loaded_dirs, std::vector<std::string>{root + "/movielens/v7"});
  fs::remove_all(root);
}

// The background thread loads at once on Start(); Stop() returns without waiting out the
// (hour-long) poll interval.
TEST(BundleHolderTest, StartLoadsInBackgroundAndStopJoinsPromptly) {
  FakeRegistry reg;
  reg.alias = "v1";
  std::vector<std::string> changes;
  BundleHolder holder(reg.Options(&changes));
  ASSERT_TRUE(holder.Start().ok());
  EXPECT_EQ(holder.Start().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(holder.WaitForBundle(absl::Seconds(30)));
  const absl::Time start = absl::Now();
  holder.Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(holder.version(), "v1");
  holder.Stop();  // idempotent
}

// A service that keeps the bundle source BundleServer gave it.
class SourceService : public v1::Retrieval::CallbackService {
 public:
  explicit SourceService(BundleSource source) : source(std::move(source)) {}
  BundleSource source;
};

class TestBundleServer : public BundleServer<SourceService> {
 public:
  static std::unique_ptr<TestBundleServer> Start(BundleHolderOptions bundle, FirstBundleHook hook) {
    std::unique_ptr<TestBundleServer> self(new TestBundleServer());
    ServerOptions server;
    server.address = "127.0.0.1:0";
    absl::Status s = self->Init(
        server, std::move(bundle), /*start_polling=*/false, "recsys.v1.Retrieval", "test",
        /*metrics=*/nullptr,
        [](BundleSource source) { return std::make_unique<SourceService>(std::move(source)); },
        std::move(hook));
    EXPECT_TRUE(s.ok()) << s;
    return self;
  }

 private:
  TestBundleServer() = default;
};

// The first-bundle hook runs once, with the first bundle, before the service's
// source returns any bundle; later swaps reach the service without it.
TEST(BundleServerTest, FirstBundleHookRunsOnceBeforeTheServiceSeesABundle) {
  FakeRegistry reg;
  reg.alias = "v1";
  std::vector<std::string> changes;
  std::vector<std::string> hooked;
  TestBundleServer* raw = nullptr;
  bool source_empty_in_hook = false;
  bool has_bundle_in_hook = true;
  auto server = TestBundleServer::Start(reg.Options(&changes), [&](const ModelBundle& first) {
    hooked.push_back(first.manifest.version());
    source_empty_in_hook = raw->service().source() == nullptr;
    has_bundle_in_hook = raw->has_bundle();
  });
  raw = server.get();
  ASSERT_GT(server->port(), 0);  // listening before any bundle
  EXPECT_FALSE(server->has_bundle());
  EXPECT_EQ(server->service().source(), nullptr);

  ASSERT_TRUE(server->holder().PollOnce().ok());
  EXPECT_EQ(hooked, std::vector<std::string>{"v1"});
  EXPECT_TRUE(source_empty_in_hook);
  EXPECT_FALSE(has_bundle_in_hook);
  EXPECT_TRUE(server->has_bundle());
  ASSERT_NE(server->service().source(), nullptr);
  EXPECT_EQ(server->service().source()->manifest.version(), "v1");
  EXPECT_EQ(changes, std::vector<std::string>{"v1"});

  reg.alias = "v2";
  ASSERT_TRUE(server->holder().PollOnce().ok());
  EXPECT_EQ(hooked, std::vector<std::string>{"v1"});
  EXPECT_EQ(server->service().source()->manifest.version(), "v2");
  EXPECT_EQ(changes, (std::vector<std::string>{"v1", "v2"}));
  server->Shutdown(absl::Seconds(5));
  EXPECT_TRUE(server->has_bundle());
}

}  // namespace
}  // namespace recsys
