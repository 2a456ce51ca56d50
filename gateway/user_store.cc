#include "gateway/user_store.h"

#include <algorithm>
#include <iterator>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/bundle/model_bundle.h"
#include "common/log.h"
#include "common/status.h"
#include "gateway/user_store_metrics.h"

namespace recsys::gateway {

void ForEachTrainingHistory(
    const ModelBundle& bundle,
    const std::function<void(absl::string_view user_id, std::vector<UserEvent> events)>& fn) {
  const UserHistories& h = bundle.histories;
  for (int32_t u = 0; u < h.users.size(); ++u) {
    std::vector<UserEvent> events;
    events.reserve(static_cast<size_t>(h.offsets[u + 1] - h.offsets[u]));
    for (int64_t k = h.offsets[u]; k < h.offsets[u + 1]; ++k) {
      events.push_back(
          UserEvent{bundle.catalogue.ids.Name(h.items[k]), h.times_s[k], 1.0f, "train"});
    }
    fn(h.users.Name(u), std::move(events));
  }
}

void EmbeddedUserStore::SeedSink::Seed(absl::string_view user_id, std::vector<UserEvent> events) {
  store_->InsertSeed(user_id, std::move(events));
}

void EmbeddedUserStore::SeedFrom(const ModelBundle& bundle) {
  ForEachTrainingHistory(bundle, [this](absl::string_view user_id, std::vector<UserEvent> events) {
    InsertSeed(user_id, std::move(events));
  });
  WarnIfOverBounds("after the seed");
}

void EmbeddedUserStore::WarnIfOverBounds(const char* when) const {
  const int64_t users = num_users();
  const int64_t events = num_events_.load(std::memory_order_relaxed);
  if (users >= options_.max_users || events >= options_.max_events) {
    LOG(WARNING) << "user store " << when << ": " << users << " users, " << events
                 << " events held, at or past the bounds (" << options_.max_users << " users, "
                 << options_.max_events
                 << " events): nothing held is dropped, but feedback that needs room is "
                    "refused (RESOURCE_EXHAUSTED) until the bounds are raised";
  }
}

EmbeddedUserStore::EmbeddedUserStore(const EmbeddedUserStoreOptions& options)
    : options_(options), shards_(new Shard[std::max(options.num_shards, 1)]) {}

EmbeddedUserStore::~EmbeddedUserStore() = default;

absl::StatusOr<std::unique_ptr<EmbeddedUserStore>> EmbeddedUserStore::Open(
    const EmbeddedUserStoreOptions& options, const SeedFn& seed) {
  std::unique_ptr<EmbeddedUserStore> store(new EmbeddedUserStore(options));
  if (seed) {
    SeedSink sink(store.get());
    seed(sink);
  }
  WalOptions wal_options = options.wal;
  wal_options.compact_keep_per_user = std::max<size_t>(options.max_events_per_user, 1);
  EmbeddedUserStore* s = store.get();
  ASSIGN_OR_RETURN(
      store->wal_, Wal::Open(options.state_dir, wal_options, [s](uint64_t seq, const WalEntry& e) {
        if (e.kind == WalRecordKind::kEraseUser) {
          s->Erase(e.user_id, seq);
          return absl::OkStatus();
        }
        s->Insert(e.user_id, s->ToStored(UserEvent{e.item_id, e.timestamp_s, e.weight, e.event}, seq));
        return absl::OkStatus();
      }));
  store->WarnIfOverBounds("after the log replay");
  return store;
}

EmbeddedUserStore::Shard& EmbeddedUserStore::ShardFor(absl::string_view user_id) const {
  // Not absl::Hash: the shard's flat_hash_map uses that, and keys sharing its
  // low bits would crowd the map's control bytes.
  const size_t h = std::hash<std::string_view>{}(std::string_view(user_id.data(), user_id.size()));
  return shards_[h % static_cast<size_t>(std::max(options_.num_shards, 1))];
}

uint16_t EmbeddedUserStore::EventNames::Intern(const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (auto it = index_.find(name); it != index_.end()) return it->second;
  size_t count = count_.load(std::memory_order_relaxed);
  // The last slot is kept for the overflow name.
  std::string kept = count + 1 < kMaxNames ? name : std::string(kOverflowName);
  if (auto it = index_.find(kept); it != index_.end()) return it->second;
  if (kept != name) {
    LOG(WARNING) << "user store: more than " << kMaxNames - 1 << " distinct event names; \""
                 << name << "\" and later new names are kept as \"" << kOverflowName << "\"";
  }
  const auto index = static_cast<uint16_t>(count);
  names_[count] = kept;
  index_.emplace(std::move(kept), index);
  count_.store(count + 1, std::memory_order_release);
  return index;
}

const std::string& EmbeddedUserStore::EventNames::Name(uint16_t index) const {
  static const std::string kNone;
  return index < count_.load(std::memory_order_acquire) ? names_[index] : kNone;
}

EmbeddedUserStore::Stored EmbeddedUserStore::ToStored(UserEvent e, uint64_t seq) {
  Stored s;
  s.item_id = std::move(e.item_id);
  s.timestamp_s = e.timestamp_s;
  s.seq = seq;
  s.weight = e.weight;
  s.event = event_names_.Intern(e.event);
  return s;
}

UserEvent EmbeddedUserStore::FromStored(const Stored& s) const {
  return UserEvent{s.item_id, s.timestamp_s, s.weight, event_names_.Name(s.event)};
}

void EmbeddedUserStore::Insert(absl::string_view user_id, Stored s) {
  Shard& shard = ShardFor(user_id);
  absl::MutexLock lock(&shard.mu);
  if (auto e = shard.erased.find(user_id); e != shard.erased.end() && s.seq < e->second) return;
  auto [it, inserted] = shard.users.try_emplace(user_id);
  if (inserted) num_users_.fetch_add(1, std::memory_order_relaxed);
  std::vector<Stored>& events = it->second;
  auto pos = events.end();
  while (pos != events.begin() && std::prev(pos)->seq > s.seq) --pos;
  events.insert(pos, std::move(s));
  num_events_.fetch_add(1, std::memory_order_relaxed);
  const size_t cap = std::max<size_t>(options_.max_events_per_user, 1);
  if (events.size() > cap) {
    const size_t drop = events.size() - cap;
    events.erase(events.begin(), events.begin() + static_cast<ptrdiff_t>(drop));
    num_events_.fetch_sub(static_cast<int64_t>(drop), std::memory_order_relaxed);
  }
}

absl::Status EmbeddedUserStore::CheckRoom(absl::string_view user_id) {
  const size_t cap = std::max<size_t>(options_.max_events_per_user, 1);
  bool known = false;
  bool grows = true;  // a user below the per-user cap adds an event to the total
  {
    const Shard& shard = ShardFor(user_id);
    absl::ReaderMutexLock lock(&shard.mu);
    if (auto it = shard.users.find(user_id); it != shard.users.end()) {
      known = true;
      grows = it->second.size() < cap;
    }
  }
  if (!known && num_users() >= options_.max_users) {
    refused_new_users_.fetch_add(1, std::memory_order_relaxed);
    return absl::ResourceExhaustedError(absl::StrCat(
        "user store full: ", num_users(), " users held (limit ", options_.max_users,
        "); feedback for new users is refused until users are erased or the limit raised"));
  }
  if (grows && num_events_.load(std::memory_order_relaxed) >= options_.max_events) {
    refused_events_.fetch_add(1, std::memory_order_relaxed);
    return absl::ResourceExhaustedError(absl::StrCat(
        "user store full: ", num_events_.load(std::memory_order_relaxed), " events held (limit ",
        options_.max_events, "); feedback that grows a history is refused"));
  }
  return absl::OkStatus();
}

void EmbeddedUserStore::InsertSeed(absl::string_view user_id, std::vector<UserEvent> events) {
  if (events.empty()) return;
  Shard& shard = ShardFor(user_id);
  absl::MutexLock lock(&shard.mu);
  if (shard.erased.contains(user_id)) return;
  seeded_events_.fetch_add(events.size(), std::memory_order_relaxed);
  auto [it, inserted] = shard.users.try_emplace(user_id);
  if (inserted) num_users_.fetch_add(1, std::memory_order_relaxed);
  std::vector<Stored>& stored = it->second;
  const auto logged =
      std::find_if(stored.begin(), stored.end(), [](const Stored& s) { return s.seq > 0; });
  std::vector<Stored> seeded;
  seeded.reserve(events.size());
  for (UserEvent& e : events) seeded.push_back(ToStored(std::move(e), 0));
  stored.insert(logged, std::make_move_iterator(seeded.begin()),
                std::make_move_iterator(seeded.end()));
  num_events_.fetch_add(static_cast<int64_t>(seeded.size()), std::memory_order_relaxed);
  const size_t cap = std::max<size_t>(options_.max_events_per_user, 1);
  if (stored.size() > cap) {
    const size_t drop = stored.size() - cap;
    stored.erase(stored.begin(), stored.begin() + static_cast<ptrdiff_t>(drop));
    num_events_.fetch_sub(static_cast<int64_t>(drop), std::memory_order_relaxed);
  }
}

std::vector<UserEvent> EmbeddedUserStore::History(absl::string_view user_id,
                                                  size_t max_events) const {
  const absl::Time start = options_.metrics != nullptr ? absl::Now() : absl::InfinitePast();
  std::vector<UserEvent> out;
  {
    const Shard& shard = ShardFor(user_id);
    absl::ReaderMutexLock lock(&shard.mu);
    if (auto it = shard.users.find(user_id); it != shard.users.end()) {
      const std::vector<Stored>& events = it->second;
      const size_t n = std::min(max_events, events.size());
      out.reserve(n);
      for (size_t i = events.size() - n; i < events.size(); ++i) {
        out.push_back(FromStored(events[i]));
      }
    }
  }
  if (options_.metrics != nullptr) {
    options_.metrics->ObserveOp(UserStoreOp::kHistory, absl::Now() - start, true);
  }
  return out;
}

absl::StatusOr<uint64_t> EmbeddedUserStore::Append(absl::string_view user_id, UserEvent e) {
  const absl::Time start = absl::Now();
  absl::StatusOr<uint64_t> seq = LoggedAppend(user_id, std::move(e));
  // Refusals (bad or full) are answers, not store failures.
  if (options_.metrics != nullptr) {
    options_.metrics->ObserveOp(UserStoreOp::kAppend, absl::Now() - start,
                                seq.ok() || !absl::IsUnavailable(seq.status()));
  }
  return seq;
}

absl::StatusOr<uint64_t> EmbeddedUserStore::LoggedAppend(absl::string_view user_id, UserEvent e) {
  if (user_id.empty()) return absl::InvalidArgumentError("empty user id");
  if (e.item_id.empty()) return absl::InvalidArgumentError("empty item id");
  RETURN_IF_ERROR(CheckRoom(user_id));
  WalEntry entry{std::string(user_id), std::move(e.item_id), e.timestamp_s, e.weight,
                 std::move(e.event)};
  ASSIGN_OR_RETURN(const uint64_t seq, wal_->Append(entry));
  Insert(user_id, ToStored(UserEvent{std::move(entry.item_id), entry.timestamp_s, entry.weight,
                                     std::move(entry.event)},
                           seq));
  return seq;
}

absl::StatusOr<uint64_t> EmbeddedUserStore::AppendOnce(absl::string_view user_id, UserEvent e,
                                                       absl::string_view idempotency_key) {
  if (idempotency_key.empty() || options_.idempotency_keys == 0) {
    return Append(user_id, std::move(e));
  }
  if (user_id.empty()) return absl::InvalidArgumentError("empty user id");
  std::pair<std::string, std::string> id{std::string(user_id), std::string(idempotency_key)};
  {
    absl::MutexLock lock(&keys_.mu);
    const absl::Time now = absl::Now();
    while (!keys_.order.empty() && keys_.order.front().second + options_.idempotency_ttl <= now) {
      keys_.seqs.erase(keys_.order.front().first);
      keys_.order.pop_front();
    }
    for (;;) {
      auto it = keys_.seqs.find(id);
      if (it == keys_.seqs.end()) break;
      if (it->second != 0) {
        idempotent_replays_.fetch_add(1, std::memory_order_relaxed);
        if (options_.metrics != nullptr) options_.metrics->CountIdempotentReplay();
        return it->second;
      }
      keys_.settled.Wait(&keys_.mu);  // the first call with this key is appending
    }
    keys_.seqs.emplace(id, 0);
  }
  absl::StatusOr<uint64_t> seq = Append(user_id, std::move(e));
  absl::MutexLock lock(&keys_.mu);
  if (seq.ok()) {
    keys_.seqs[id] = *seq;
    keys_.order.emplace_back(std::move(id), absl::Now());
    while (keys_.order.size() > options_.idempotency_keys) {
      keys_.seqs.erase(keys_.order.front().first);
      keys_.order.pop_front();
    }
  } else {
    keys_.seqs.erase(id);  // nothing stored: a retry may store it
  }
  keys_.settled.SignalAll();
  return seq;
}

int64_t EmbeddedUserStore::Erase(absl::string_view user_id, uint64_t seq) {
  Shard& shard = ShardFor(user_id);
  absl::MutexLock lock(&shard.mu);
  uint64_t& erased_seq = shard.erased[user_id];
  erased_seq = std::max(erased_seq, seq);
  auto it = shard.users.find(user_id);
  if (it == shard.users.end()) return 0;
  std::vector<Stored>& events = it->second;
  const auto first_kept = std::find_if(events.begin(), events.end(),
                                       [seq](const Stored& s) { return s.seq > seq; });
  const int64_t dropped = first_kept - events.begin();
  events.erase(events.begin(), first_kept);
  num_events_.fetch_sub(dropped, std::memory_order_relaxed);
  if (events.empty()) {
    shard.users.erase(it);
    num_users_.fetch_sub(1, std::memory_order_relaxed);
  }
  return dropped;
}

absl::StatusOr<uint64_t> EmbeddedUserStore::EraseUser(absl::string_view user_id,
                                                      int64_t* erased) {
  if (user_id.empty()) return absl::InvalidArgumentError("empty user id");
  WalEntry entry;
  entry.user_id = std::string(user_id);
  entry.timestamp_s = absl::ToUnixSeconds(absl::Now());  // when it was erased
  entry.weight = 0.0f;
  entry.kind = WalRecordKind::kEraseUser;
  const absl::Time start = absl::Now();
  absl::StatusOr<uint64_t> logged = wal_->Append(entry);
  if (options_.metrics != nullptr) {
    options_.metrics->ObserveOp(UserStoreOp::kErase, absl::Now() - start, logged.ok());
  }
  ASSIGN_OR_RETURN(const uint64_t seq, std::move(logged));
  const int64_t n = Erase(user_id, seq);
  if (erased != nullptr) *erased = n;
  return seq;
}

UserStoreStats EmbeddedUserStore::stats() const {
  const WalStats w = wal_->stats();
  UserStoreStats s;
  s.users = num_users();
  s.events = num_events_.load(std::memory_order_relaxed);
  s.refused_new_users = refused_new_users_.load(std::memory_order_relaxed);
  s.refused_events = refused_events_.load(std::memory_order_relaxed);
  s.seeded_events = seeded_events_.load(std::memory_order_relaxed);
  s.appends = w.appends;
  s.fsyncs = w.fsyncs;
  s.group_commits = w.group_commits;
  s.bytes = w.bytes_written;
  s.last_fsync_micros = w.last_fsync_micros;
  s.total_fsync_micros = w.total_fsync_micros;
  s.replayed_records = w.replayed_records;
  s.truncated_bytes = w.truncated_bytes;
  s.corrupt_regions = w.corrupt_regions;
  s.skipped_bytes = w.skipped_bytes;
  s.missing_seqs = w.missing_seqs;
  s.last_seq = w.last_seq;
  s.idempotent_replays = idempotent_replays_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace recsys::gateway
