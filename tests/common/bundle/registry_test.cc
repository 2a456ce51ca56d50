#include "common/bundle/registry.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/bundle/array_file.h"
#include "common/io/file.h"
#include "common/io/sha256.h"
#include "common/log.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;

std::string MakeTempDir() {
  std::string templ = ::testing::TempDir() + "registry_test-XXXXXX";
  EXPECT_NE(::mkdtemp(templ.data()), nullptr);
  return templ;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void AddRow(v1::BundleManifest* m, const std::string& model, double ndcg) {
  v1::LeaderboardRow* row = m->add_leaderboard();
  row->set_split("test");
  row->set_model(model);
  row->set_k(10);
  row->set_ndcg(ndcg);
  row->set_recall(ndcg * 2);
}

// Quiets the registry's per-promotion INFO lines in loops.
class ScopedLogSeverity {
 public:
  explicit ScopedLogSeverity(LogSeverity s) : old_(MinLogSeverity()) { SetMinLogSeverity(s); }
  ~ScopedLogSeverity() { SetMinLogSeverity(old_); }

 private:
  LogSeverity old_;
};

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir();
    reg_ = std::make_unique<Registry>(root_, "movielens");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // Commits `version` holding two small arrays, with optional test NDCG@10 rows.
  void Commit(const std::string& version, std::optional<double> two_stage,
              std::optional<double> als = std::nullopt) {
    auto staging = reg_->BeginVersion();
    ASSERT_TRUE(staging.ok()) << staging.status();
    const std::vector<float> f = {1.0f, 2.0f, 3.0f};
    ASSERT_TRUE(WriteFloatArray(*staging + "/als_items.arr", {3}, f.data()).ok());
    ASSERT_TRUE(WriteStringArray(*staging + "/titles.arr", {"a", version}).ok());
    v1::BundleManifest m;
    m.set_version(version);
    m.set_kind("evaluation");
    if (two_stage) AddRow(&m, "two_stage", *two_stage);
    if (als) AddRow(&m, "als", *als);
    const absl::Status s = reg_->CommitVersion(*staging, m);
    ASSERT_TRUE(s.ok()) << s;
  }

  std::vector<std::string> HistoryLines() {
    std::vector<std::string> lines =
        absl::StrSplit(ReadText(reg_->ModelDir() + "/production.history"), '\n',
                       absl::SkipEmpty());
    return lines;
  }

  std::string root_;
  std::unique_ptr<Registry> reg_;
};

// Version ids are UTC timestamps plus 6 hex digits of salt, and sort by time.
TEST_F(RegistryTest, VersionIdsAreSortable) {
  const absl::Time t = absl::FromUnixSeconds(1795923900);  // 2026-11-29T03:45:00Z
  EXPECT_EQ(NewVersionId(t, 0x1a2b3c), "20261129T034500Z-1a2b3c");
  EXPECT_EQ(NewVersionId(t, 0xff1a2b3c), "20261129T034500Z-1a2b3c");
  EXPECT_LT(NewVersionId(t, 0xffffff), NewVersionId(t + absl::Seconds(1), 0));
  EXPECT_LT(NewVersionId(t + absl::Hours(24 * 40), 0), NewVersionId(t + absl::Hours(24 * 400), 0));
}

// Commit renames the staging dir to the version dir with a manifest listing every file.
TEST_F(RegistryTest, CommitCreatesVersionWithManifestListingAllFiles) {
  auto staging = reg_->BeginVersion();
  ASSERT_TRUE(staging.ok()) << staging.status();
  EXPECT_TRUE(absl::StartsWith(fs::path(*staging).filename().string(), ".staging-"));
  const std::vector<int32_t> ids = {5, 6};
  ASSERT_TRUE(WriteInt32Array(*staging + "/ids.arr", {2}, ids.data()).ok());
  ASSERT_TRUE(WriteFileDurably(*staging + "/content.faiss", "faiss bytes").ok());
  fs::create_directories(*staging + "/ranker");
  ASSERT_TRUE(WriteFileDurably(*staging + "/ranker/weights.json", "{}").ok());
  v1::BundleManifest m;
  m.set_version("v1");
  m.mutable_parameters()->insert({"factors", "64"});
  ASSERT_TRUE(reg_->CommitVersion(*staging, m).ok());

  EXPECT_FALSE(fs::exists(*staging));
  const std::string dir = reg_->VersionDir("v1");
  ASSERT_TRUE(fs::is_directory(dir));
  auto read = ReadManifest(dir);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->version(), "v1");
  EXPECT_EQ(read->name(), "movielens");
  EXPECT_EQ(read->format_version(), kBundleFormatVersion);
  EXPECT_FALSE(read->created_at().empty());
  EXPECT_EQ(read->parameters().at("factors"), "64");
  ASSERT_EQ(read->files_size(), 3);
  EXPECT_EQ(read->files(0).path(), "content.faiss");
  EXPECT_EQ(read->files(1).path(), "ids.arr");
  EXPECT_EQ(read->files(2).path(), "ranker/weights.json");
  EXPECT_EQ(read->files(0).size_bytes(), 11);
  EXPECT_EQ(read->files(0).sha256(), Sha256Hex("faiss bytes"));
  EXPECT_EQ(read->files(2).sha256(), Sha256Hex("{}"));
  EXPECT_TRUE(VerifyBundle(dir, *read).ok());
  // Field names are the proto names (preserve_proto_field_names).
  EXPECT_NE(ReadText(dir + "/manifest.json").find("\"format_version\""), std::string::npos);
}

// A manifest without a version takes the id generated by BeginVersion.
TEST_F(RegistryTest, CommitDefaultsVersionToStagingId) {
  auto staging = reg_->BeginVersion();
  ASSERT_TRUE(staging.ok());
  const std::string id = Registry::StagingVersionId(*staging);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(reg_->CommitVersion(*staging, v1::BundleManifest()).ok());
  auto shown = reg_->Show(id);
  ASSERT_TRUE(shown.ok()) << shown.status();
  EXPECT_EQ(shown->version(), id);
}

// Committing an existing version is refused; aborting removes the staging dir.
TEST_F(RegistryTest, CommitRefusesExistingVersionAndAbortCleansUp) {
  Commit("v1", 0.3);
  auto staging = reg_->BeginVersion();
  ASSERT_TRUE(staging.ok());
  v1::BundleManifest m;
  m.set_version("v1");
  const absl::Status s = reg_->CommitVersion(*staging, m);
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
  EXPECT_TRUE(fs::exists(*staging));
  EXPECT_TRUE(reg_->AbortVersion(*staging).ok());
  EXPECT_FALSE(fs::exists(*staging));
  EXPECT_FALSE(reg_->AbortVersion(root_).ok());  // not a staging dir
}

// Version names that could escape the model dir or shadow registry files are refused.
TEST_F(RegistryTest, BadVersionNamesAreRefused) {
  for (const char* bad : {"../evil", ".hidden", "a/b", "production", "runs.jsonl"}) {
    auto staging = reg_->BeginVersion();
    ASSERT_TRUE(staging.ok());
    v1::BundleManifest m;
    m.set_version(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(reg_->CommitVersion(*staging, m))) << bad;
    EXPECT_FALSE(reg_->Show(bad).ok()) << bad;
    EXPECT_FALSE(reg_->Promote(bad, true).ok()) << bad;
  }
}

// Staging dirs (and dirs without a manifest) are not listed; List sorts by version.
TEST_F(RegistryTest, ListIgnoresStagingDirs) {
  Commit("v2", 0.3);
  Commit("v1", 0.3);
  auto pending = reg_->BeginVersion();
  ASSERT_TRUE(pending.ok());
  ASSERT_TRUE(WriteFileDurably(*pending + "/manifest.json", "{}").ok());
  fs::create_directories(reg_->VersionDir("empty"));
  auto list = reg_->List();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].version(), "v1");
  EXPECT_EQ((*list)[1].version(), "v2");
  EXPECT_TRUE(Registry("/nonexistent/registry", "x").List()->empty());
}

// A flipped byte in a payload is caught by VerifyBundle, naming the file, and blocks promotion.
TEST_F(RegistryTest, BundleVerifyDetectsFlippedByte) {
  Commit("v1", 0.3);
  const std::string dir = reg_->VersionDir("v1");
  auto m = ReadManifest(dir);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(VerifyBundle(dir, *m).ok());
  const std::string path = dir + "/als_items.arr";
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekg(-1, std::ios::end);
    const char c = static_cast<char>(f.get());
    f.seekp(-1, std::ios::end);
    f.put(static_cast<char>(c ^ 0x01));
  }
  const absl::Status s = VerifyBundle(dir, *m);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find(path), std::string::npos) << s;
  EXPECT_NE(s.message().find("SHA-256"), std::string::npos) << s;
  const absl::Status p = reg_->Promote("v1", /*force=*/true);
  EXPECT_FALSE(p.ok());
  EXPECT_NE(p.message().find("als_items.arr"), std::string::npos) << p;
  EXPECT_TRUE(absl::IsNotFound(reg_->Production().status()));
}

// Missing, resized and unlisted artefacts, bad paths and unknown formats are refused.
TEST_F(RegistryTest, BundleVerifyRefusesIncompleteBundles) {
  Commit("v1", 0.3);
  const std::string dir = reg_->VersionDir("v1");
  auto good = ReadManifest(dir);
  ASSERT_TRUE(good.ok());

  v1::BundleManifest m = *good;
  m.set_format_version(2);
  absl::Status s = VerifyBundle(dir, m);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("format_version"), std::string::npos) << s;

  m = *good;
  m.mutable_files(0)->set_size_bytes(m.files(0).size_bytes() + 1);
  s = VerifyBundle(dir, m);
  EXPECT_NE(s.message().find(m.files(0).path()), std::string::npos) << s;
  EXPECT_NE(s.message().find("size"), std::string::npos) << s;

  m = *good;
  m.mutable_files(0)->set_path("../escape.arr");
  EXPECT_FALSE(VerifyBundle(dir, m).ok());

  ASSERT_TRUE(WriteFileDurably(dir + "/stray.faiss", "x").ok());
  s = VerifyBundle(dir, *good);
  EXPECT_NE(s.message().find("stray.faiss"), std::string::npos) << s;
  fs::remove(dir + "/stray.faiss");
  ASSERT_TRUE(WriteFileDurably(dir + "/notes.txt", "unlisted non-artefacts are fine").ok());
  EXPECT_TRUE(VerifyBundle(dir, *good).ok());

  fs::remove(dir + "/titles.arr");
  s = VerifyBundle(dir, *good);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find(dir + "/titles.arr"), std::string::npos) << s;
}

// A corrupt manifest.json gives an error naming it (and List skips that version).
TEST_F(RegistryTest, CorruptManifestIsNamed) {
  Commit("v1", 0.3);
  Commit("v2", 0.3);
  const std::string path = reg_->VersionDir("v1") + "/manifest.json";
  ASSERT_TRUE(WriteFileDurably(path, "{\"version\": \"v1\", \"files\": [").ok());
  auto m = ReadManifest(reg_->VersionDir("v1"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find(path), std::string::npos) << m.status();
  auto shown = reg_->Show("v1");
  ASSERT_FALSE(shown.ok());
  EXPECT_NE(shown.status().message().find(path), std::string::npos) << shown.status();
  const absl::Status p = reg_->Promote("v1", true);
  EXPECT_NE(p.message().find(path), std::string::npos) << p;
  auto list = reg_->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].version(), "v2");
  EXPECT_TRUE(absl::IsNotFound(reg_->Show("v9").status()));
}

// Promote moves the alias and rollback walks back through distinct earlier productions.
TEST_F(RegistryTest, PromoteAndRollback) {
  Commit("v1", 0.30);
  Commit("v2", 0.31);
  Commit("v3", 0.32);
  EXPECT_TRUE(absl::IsNotFound(reg_->Production().status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(reg_->Rollback().status()));
  ASSERT_TRUE(reg_->Promote("v1", false).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(reg_->Rollback().status()));  // nothing earlier
  ASSERT_TRUE(reg_->Promote("v2", false).ok());
  ASSERT_TRUE(reg_->Promote("v2", false).ok());  // re-promotion is recorded, not distinct
  ASSERT_TRUE(reg_->Promote("v3", false).ok());
  EXPECT_EQ(*reg_->Production(), "v3");
  EXPECT_EQ(*reg_->ProductionDir(), reg_->VersionDir("v3"));
  EXPECT_EQ(ReadText(reg_->ModelDir() + "/production"), "v3\n");

  EXPECT_EQ(*reg_->Rollback(), "v2");
  EXPECT_EQ(*reg_->Production(), "v2");
  EXPECT_EQ(*reg_->Rollback(), "v1");
  EXPECT_TRUE(absl::IsFailedPrecondition(reg_->Rollback().status()));
  EXPECT_EQ(*reg_->Production(), "v1");

  ASSERT_TRUE(reg_->Promote("v3", false).ok());
  EXPECT_EQ(*reg_->Rollback(), "v1");
  EXPECT_EQ(HistoryLines().size(), 8u);  // 5 promotions + 3 rollbacks
  EXPECT_NE(HistoryLines().back().find("\trollback\tv1"), std::string::npos);
}

// gc keeps the newest versions, production and its rollback targets, removes
// the rest and old staging directories; rollback still works afterwards.
TEST_F(RegistryTest, GcKeepsNewestProductionAndRollbackTargets) {
  ScopedLogSeverity quiet(LogSeverity::kWarning);
  for (int i = 1; i <= 8; ++i) Commit(absl::StrCat("v", i), 0.30 + 0.001 * i);
  ASSERT_TRUE(reg_->Promote("v1", false).ok());
  ASSERT_TRUE(reg_->Promote("v2", false).ok());
  ASSERT_TRUE(reg_->Promote("v3", false).ok());
  // An abandoned training run and a fresh one still being written.
  auto old_staging = reg_->BeginVersion();
  auto new_staging = reg_->BeginVersion();
  ASSERT_TRUE(old_staging.ok() && new_staging.ok());
  fs::last_write_time(*old_staging,
                      fs::file_time_type::clock::now() - std::chrono::hours(48));

  EXPECT_TRUE(absl::IsInvalidArgument(reg_->Gc(0, absl::Hours(24), false).status()));

  auto dry = reg_->Gc(2, absl::Hours(24), /*dry_run=*/true);
  ASSERT_TRUE(dry.ok()) << dry.status();
  // Kept: v7, v8 (newest), v3 (production), v2 and v1 (its two rollback targets).
  EXPECT_EQ(dry->kept, (std::vector<std::string>{"v1", "v2", "v3", "v7", "v8"}));
  ASSERT_EQ(dry->removed.size(), 4u);  // v4 v5 v6 + the old staging directory
  EXPECT_GT(dry->bytes, 0u);
  EXPECT_TRUE(fs::exists(reg_->VersionDir("v4")));  // dry run: nothing removed

  auto done = reg_->Gc(2, absl::Hours(24), false);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->removed, dry->removed);
  for (const char* v : {"v4", "v5", "v6"}) EXPECT_FALSE(fs::exists(reg_->VersionDir(v))) << v;
  EXPECT_FALSE(fs::exists(*old_staging));
  EXPECT_TRUE(fs::exists(*new_staging));
  const auto versions = reg_->List();
  ASSERT_TRUE(versions.ok()) << versions.status();
  std::vector<std::string> listed;
  for (const auto& m : *versions) listed.push_back(m.version());
  EXPECT_EQ(listed, dry->kept);

  // Idempotent: a second pass finds nothing more to remove.
  auto again = reg_->Gc(2, absl::Hours(24), false);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->removed.empty());

  // Both rollback targets survived.
  EXPECT_EQ(*reg_->Rollback(), "v2");
  EXPECT_EQ(*reg_->Rollback(), "v1");
}

// Rollback refuses a previous version whose bundle no longer verifies.
TEST_F(RegistryTest, RollbackVerifiesTarget) {
  Commit("v1", 0.30);
  Commit("v2", 0.31);
  ASSERT_TRUE(reg_->Promote("v1", false).ok());
  ASSERT_TRUE(reg_->Promote("v2", false).ok());
  fs::remove(reg_->VersionDir("v1") + "/titles.arr");
  auto r = reg_->Rollback();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("titles.arr"), std::string::npos) << r.status();
  EXPECT_EQ(*reg_->Production(), "v2");
}

// The gate refuses a version with lower test two_stage NDCG@10; --force overrides.
TEST_F(RegistryTest, GateRefusesWorseVersionUnlessForced) {
  Commit("good", 0.30);
  Commit("worse", 0.25);
  Commit("equal", 0.30);
  ASSERT_TRUE(reg_->Promote("good", false).ok());
  const absl::Status s = reg_->Promote("worse", false);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("0.250000"), std::string::npos) << s;
  EXPECT_NE(s.message().find("0.300000"), std::string::npos) << s;
  EXPECT_EQ(*reg_->Production(), "good");
  EXPECT_EQ(HistoryLines().size(), 1u);
  EXPECT_TRUE(reg_->Promote("equal", false).ok());
  EXPECT_TRUE(reg_->Promote("worse", /*force=*/true).ok());
  EXPECT_EQ(*reg_->Production(), "worse");
  EXPECT_NE(HistoryLines().back().find("promote-forced"), std::string::npos);
}

// Without a two_stage row on either side the gate compares the best test NDCG@10 of any model.
TEST_F(RegistryTest, GateFallsBackToBestModel) {
  Commit("prod", 0.30, /*als=*/0.20);
  Commit("als_better", std::nullopt, /*als=*/0.35);
  Commit("als_worse", std::nullopt, /*als=*/0.25);
  Commit("no_metrics", std::nullopt);
  ASSERT_TRUE(reg_->Promote("prod", false).ok());
  const absl::Status worse = reg_->Promote("als_worse", false);
  EXPECT_TRUE(absl::IsFailedPrecondition(worse)) << worse;
  EXPECT_NE(worse.message().find("0.250000"), std::string::npos) << worse;
  EXPECT_TRUE(absl::IsFailedPrecondition(reg_->Promote("no_metrics", false)));
  ASSERT_TRUE(reg_->Promote("als_better", false).ok());
  EXPECT_EQ(*reg_->Production(), "als_better");
}

// Two threads promoting 50 times each never expose an unreadable or dangling alias;
// all 100 promotions are in the history.
TEST_F(RegistryTest, ConcurrentPromotesFromThreads) {
  ScopedLogSeverity quiet(LogSeverity::kWarning);
  Commit("va", 0.3);
  Commit("vb", 0.3);
  ASSERT_TRUE(reg_->Promote("va", false).ok());
  std::atomic<bool> done{false};
  std::atomic<int> bad_reads{0}, reads{0}, failures{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto v = reg_->Production();
      if (!v.ok() || (*v != "va" && *v != "vb") || !fs::is_directory(reg_->VersionDir(*v))) {
        ++bad_reads;
      }
      ++reads;
    }
  });
  std::vector<std::thread> writers;
  for (const char* version : {"va", "vb"}) {
    writers.emplace_back([&, version] {
      Registry reg(root_, "movielens");  // its own instance, as another process would have
      for (int i = 0; i < 50; ++i) {
        if (!reg.Promote(version, false).ok()) ++failures;
      }
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(bad_reads.load(), 0) << "of " << reads.load() << " reads";
  const std::vector<std::string> history = HistoryLines();
  ASSERT_EQ(history.size(), 101u);
  for (const std::string& line : history) {
    const std::vector<std::string> fields = absl::StrSplit(line, '\t');
    ASSERT_EQ(fields.size(), 3u) << line;
    EXPECT_EQ(fields[1], "promote");
  }
  auto prod = reg_->Production();
  ASSERT_TRUE(prod.ok());
  EXPECT_EQ(history.back().substr(history.back().rfind('\t') + 1), *prod);
}

// Two forked processes promoting 50 times each leave a valid alias and 100 history entries.
TEST_F(RegistryTest, ConcurrentPromotesFromProcesses) {
  ScopedLogSeverity quiet(LogSeverity::kWarning);
  Commit("va", 0.3);
  Commit("vb", 0.3);
  std::vector<pid_t> children;
  for (const char* version : {"va", "vb"}) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      Registry reg(root_, "movielens");
      int failures = 0;
      for (int i = 0; i < 50; ++i) failures += reg.Promote(version, false).ok() ? 0 : 1;
      ::_exit(failures == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  int bad_reads = 0;
  for (int i = 0; i < 200; ++i) {
    auto v = reg_->Production();
    if (v.ok() ? (*v != "va" && *v != "vb") : !absl::IsNotFound(v.status())) ++bad_reads;
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(bad_reads, 0);
  EXPECT_EQ(HistoryLines().size(), 100u);
  auto prod = reg_->Production();
  ASSERT_TRUE(prod.ok()) << prod.status();
  EXPECT_TRUE(fs::is_directory(reg_->VersionDir(*prod)));
}

// Run records append one line each, without file lists (the comparison table
// built from them is tested in tests/offline/registry_format_test.cc).
TEST_F(RegistryTest, RunRecordsAppendOneLinePerRun) {
  Commit("v1", 0.30);
  Commit("v2", 0.31);
  v1::BundleManifest r1 = *reg_->Show("v1");
  r1.mutable_parameters()->insert({"als_factors", "64"});
  ASSERT_TRUE(reg_->AppendRunRecord(r1).ok());
  v1::BundleManifest r2 = *reg_->Show("v2");
  r2.mutable_parameters()->insert({"als_factors", "128"});
  ASSERT_TRUE(reg_->AppendRunRecord(r2).ok());

  auto runs = reg_->RunRecords();
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[1].version(), "v2");
  EXPECT_EQ((*runs)[1].files_size(), 0);  // run records carry no file list
  const std::string runs_text = ReadText(reg_->ModelDir() + "/runs.jsonl");
  EXPECT_EQ(std::count(runs_text.begin(), runs_text.end(), '\n'), 2);  // one line per run

  // The run record wins over the manifest; without either it is NotFound.
  auto latest = reg_->RunRecordOrManifest("v1");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->parameters().at("als_factors"), "64");
  EXPECT_TRUE(absl::IsNotFound(reg_->RunRecordOrManifest("v9").status()));
}

TEST(ModelNameTest, OnlyPlainNamesAreAccepted) {
  for (const char* good : {"movielens", "news-v2", "a.b_c", "M1"}) {
    EXPECT_TRUE(ValidateModelName(good).ok()) << good;
  }
  for (const std::string& bad : {std::string(""), std::string("."), std::string(".."),
                                std::string("../x"), std::string("a/b"), std::string("x y"),
                                std::string("a\0b", 3), std::string(129, 'a'),
                                std::string("caf\xc3\xa9")}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ValidateModelName(bad))) << bad;
  }
}

// A registry built with a bad name refuses to touch the file system: nothing
// is written outside the registry root.
TEST_F(RegistryTest, TraversingModelNamesAreRefusedEverywhere) {
  const Registry bad(root_, "..");
  EXPECT_TRUE(absl::IsInvalidArgument(bad.Promote("v1", /*force=*/true)));
  EXPECT_TRUE(absl::IsInvalidArgument(bad.Rollback().status()));
  EXPECT_TRUE(absl::IsInvalidArgument(bad.Production().status()));
  EXPECT_TRUE(absl::IsInvalidArgument(bad.List().status()));
  EXPECT_TRUE(absl::IsInvalidArgument(bad.BeginVersion().status()));
  EXPECT_TRUE(absl::IsInvalidArgument(bad.Gc(1, absl::Hours(1), /*dry_run=*/true).status()));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(root_).parent_path() / "production"));
}

}  // namespace
}  // namespace recsys
