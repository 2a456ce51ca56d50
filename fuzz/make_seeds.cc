// Writes the binary seeds of fuzz/corpus with the project's own writers, so
// the seeds are real files: array files (WriteXArray), a WAL segment and a
// snapshot (Wal::Append and Wal::Compact), and wire-format requests. Called
// as `recsys_fuzz_replay --make-seeds <corpus dir>`. The text seeds were
// taken by hand: data sets from tests/fixtures and the head of
// data/ml-latest-small (a flags byte, then the layout's files joined by
// '\0', see data_fuzz.h), manifests and array files from a toy bundle that
// recsys-train wrote from tests/fixtures/movielens.
#include "fuzz/make_seeds.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/bundle/array_file.h"
#include "common/io/file.h"
#include "gateway/wal.h"
#include "recsys/v1/ranking.pb.h"
#include "recsys/v1/recommender.pb.h"
#include "recsys/v1/retrieval.pb.h"

namespace recsys::fuzz {
namespace {

namespace fs = std::filesystem;

bool Write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  return out.good();
}

bool Fail(const std::string& what) {
  std::fprintf(stderr, "make-seeds: %s\n", what.c_str());
  return false;
}

// Copies `from` to `to` with a leading selector byte.
bool WriteWithByte(const std::string& to, char byte, const std::string& bytes) {
  return Write(to, std::string(1, byte) + bytes);
}

bool ArraySeeds(const std::string& dir) {
  const std::vector<float> f = {0.5f, -1.0f, 3.25f, 0.0f, 1e-3f, 7.0f};
  const std::vector<int32_t> i32 = {0, 3, 5, 6};
  const std::vector<int64_t> i64 = {1700000000, 1700003600, -1};
  for (const absl::Status& s :
       {WriteFloatArray(dir + "/float_2x3.arr", {2, 3}, f.data()),
        WriteFloatArray(dir + "/float_empty.arr", {0}, f.data()),
        WriteInt32Array(dir + "/int32_offsets.arr", {4}, i32.data()),
        WriteInt64Array(dir + "/int64_times.arr", {3}, i64.data()),
        WriteInt64Array(dir + "/int64_3d.arr", {1, 3, 1}, i64.data()),
        WriteStringArray(dir + "/strings.arr", {"m1", "", "Toy Story (1995)"})}) {
    if (!s.ok()) return Fail(s.ToString());
  }
  return true;
}

bool WalSeeds(const std::string& dir) {
  const std::string state = dir + "/.wal-state";
  fs::remove_all(state);
  gateway::WalOptions options;
  options.fsync = false;
  options.compact_after_segments = 0;
  options.segment_bytes = 200;  // a few records per segment, so Compact has work
  {
    auto wal = gateway::Wal::Open(state, options, [](uint64_t, const gateway::WalEntry&) {
      return absl::OkStatus();
    });
    if (!wal.ok()) return Fail(wal.status().ToString());
    const std::vector<gateway::WalEntry> entries = {
        {"u1", "m1", 1700000000, 1.0f, "click", gateway::WalRecordKind::kEvent},
        {"u2", "m7", 1700000100, 0.5f, "view", gateway::WalRecordKind::kEvent},
        {"u1", "m3", 1700000200, 2.0f, "like", gateway::WalRecordKind::kEvent},
        {"u2", "", 1700000300, 1.0f, "", gateway::WalRecordKind::kEraseUser},
        {"u3", "m2", 1700000400, -1.0f, "dislike", gateway::WalRecordKind::kEvent},
        {"u1", "m9", 1700000500, 3.0f, "purchase", gateway::WalRecordKind::kEvent},
    };
    for (const auto& e : entries) {
      if (auto seq = (*wal)->Append(e); !seq.ok()) return Fail(seq.status().ToString());
    }
    if (auto s = (*wal)->Compact(); !s.ok()) return Fail(s.ToString());
  }
  bool wrote_segment = false, wrote_snapshot = false;
  for (const auto& entry : fs::directory_iterator(state)) {
    const std::string name = entry.path().filename().string();
    auto bytes = ReadFile(entry.path().string());
    if (!bytes.ok()) return Fail(bytes.status().ToString());
    // Mode bytes: see wal_fuzzer.cc (0 raw segment from seq 1, torn tail
    // allowed; 1 raw snapshot; 4 strict segment).
    if (name.rfind("snapshot-", 0) == 0) {
      wrote_snapshot |= WriteWithByte(dir + "/snapshot.bin", 1, *bytes);
    } else if (name.rfind("wal-", 0) == 0 && !bytes->empty() && !wrote_segment) {
      wrote_segment = WriteWithByte(dir + "/segment_torn_ok.log", 0, *bytes) &&
                      WriteWithByte(dir + "/segment_strict.log", 4, *bytes) &&
                      WriteWithByte(dir + "/segment_cut.log", 0, bytes->substr(0, bytes->size() - 3));
    }
  }
  fs::remove_all(state);
  // Framed payloads (modes 2 and 3): one record's payload, the fuzzer frames it.
  const std::string rec = gateway::EncodeWalRecord(
      1, {"u9", "m4", 1700000600, 1.5f, "click", gateway::WalRecordKind::kEvent});
  const std::string rec2 = gateway::EncodeWalRecord(
      2, {"u9", "", 1700000700, 1.0f, "", gateway::WalRecordKind::kEraseUser});
  const std::string payloads = rec.substr(8) + "\n\xff" + rec2.substr(8);
  if (!WriteWithByte(dir + "/framed_segment.bin", 2, payloads) ||
      !WriteWithByte(dir + "/framed_snapshot.bin", 3 | (1 << 3), payloads)) {
    return Fail("write framed seeds");
  }
  return wrote_segment && wrote_snapshot ? true : Fail("the WAL left no segment or snapshot");
}

bool GatewaySeeds(const std::string& dir) {
  v1::RecommendRequest rec;
  rec.set_user_id("u1");
  rec.set_k(10);
  rec.add_exclude_item_ids("m2");
  rec.add_context_categories("Comedy");
  auto* e = rec.add_extra_history();
  e->set_item_id("m1");
  e->set_timestamp_s(1700000000);
  e->set_weight(1.0f);
  v1::FeedbackRequest fb;
  fb.set_user_id("u1");
  fb.set_item_id("m3");
  fb.set_event("like");
  fb.set_event_type(v1::EVENT_LIKE);
  fb.set_timestamp_s(1700000000);
  v1::GetHistoryRequest hist;
  hist.set_user_id("u1");
  hist.set_max_events(20);
  v1::DeleteUserRequest del;
  del.set_user_id("u1");
  return WriteWithByte(dir + "/recommend.bin", 0, rec.SerializeAsString()) &&
         WriteWithByte(dir + "/feedback.bin", 1, fb.SerializeAsString()) &&
         WriteWithByte(dir + "/get_history.bin", 2, hist.SerializeAsString()) &&
         WriteWithByte(dir + "/delete_user.bin", 3, del.SerializeAsString());
}

void AddUser(v1::UserContext* user) {
  user->set_user_id("u1");
  user->set_as_of_s(1700001000);
  user->add_categories("Drama");
  for (int i = 0; i < 2; ++i) {
    auto* e = user->add_history();
    e->set_item_id(absl::StrCat("m", i + 1));
    e->set_timestamp_s(1700000000 + i);
    e->set_weight(1.0f);
  }
}

bool RetrievalSeeds(const std::string& dir) {
  v1::RetrieveRequest r;
  AddUser(r.mutable_user());
  auto* q = r.add_quotas();
  q->set_source(v1::SOURCE_ALS);
  q->set_k(50);
  r.add_exclude_item_ids("m5");
  r.set_max_candidates(100);
  r.set_with_signals(true);
  v1::SearchRequest s;
  s.set_query("space adventure");
  s.set_k(5);
  v1::SimilarItemsRequest sim;
  sim.set_item_id("m1");
  sim.set_k(5);
  return WriteWithByte(dir + "/retrieve.bin", 0, r.SerializeAsString()) &&
         WriteWithByte(dir + "/search.bin", 1, s.SerializeAsString()) &&
         WriteWithByte(dir + "/similar.bin", 2, sim.SerializeAsString());
}

bool RankingSeeds(const std::string& dir) {
  v1::RankRequest r;
  AddUser(r.mutable_user());
  r.set_k(3);
  r.mutable_options()->set_mmr_lambda(0.7f);
  r.mutable_options()->set_dedupe_titles(true);
  for (int i = 0; i < 4; ++i) {
    auto* c = r.add_candidates();
    c->set_item_id(absl::StrCat("m", 10 + i));
    auto* s = c->add_sources();
    s->set_source(i % 2 == 0 ? v1::SOURCE_ALS : v1::SOURCE_CONTENT);
    s->set_score(1.0f - 0.1f * i);
    s->set_rank(i);
    c->add_signals(0.1f * i);
    c->add_signals(1.0f - 0.1f * i);
  }
  r.add_exclude_item_ids("m11");
  r.mutable_signals()->set_model_version("v1");
  return Write(dir + "/rank.bin", r.SerializeAsString());
}

}  // namespace

bool MakeSeeds(const std::string& corpus) {
  auto dir = [&corpus](const char* target) {
    const std::string d = absl::StrCat(corpus, "/", target);
    fs::create_directories(d);
    return d;
  };
  return ArraySeeds(dir("array_file")) && WalSeeds(dir("wal")) &&
         GatewaySeeds(dir("gateway_requests")) && RetrievalSeeds(dir("retrieval_requests")) &&
         RankingSeeds(dir("ranking_requests"));
}

}  // namespace recsys::fuzz
