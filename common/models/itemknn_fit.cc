// ItemKnnModel::Fit: item-item cosine with shrinkage, top-N per item (the
// fitting half; scoring is in itemknn.cc).
//
// Scale: co-occurrences are counted per item against a dense per-thread
// counter (num_items floats), visiting for each item i every user u of i and
// every item of u, so the cost is sum over users of |u|^2; capping each user to
// the most recent `max_user_events` distinct items bounds it by
// events x max_user_events. Items are processed in blocks handed out to the
// threads; each block keeps only its rows' top-N, so memory is the inputs (two
// CSR adjacencies, 8 bytes per distinct user-item pair) plus the output.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>

#include "common/models/itemknn.h"
#include "common/progress.h"
#include "common/topk.h"

namespace recsys {
namespace {

// CSR adjacency: rows -> sorted unique columns.
struct Adjacency {
  std::vector<int64_t> offsets;
  std::vector<int32_t> cols;
  std::span<const int32_t> row(int32_t r) const {
    return {cols.data() + offsets[r], static_cast<size_t>(offsets[r + 1] - offsets[r])};
  }
};

// Each user's distinct items, the most recent `cap` of them (0 = all; ties in
// time: later in `events` is more recent), sorted by id.
Adjacency UserItems(std::span<const Interaction> events, int32_t users, int cap) {
  std::vector<int64_t> offsets(static_cast<size_t>(users) + 1, 0);
  for (const Interaction& e : events) ++offsets[e.user + 1];
  for (int32_t u = 0; u < users; ++u) offsets[u + 1] += offsets[u];
  // Event positions grouped by user, in file order.
  std::vector<int64_t> pos(events.size());
  {
    std::vector<int64_t> next(offsets.begin(), offsets.end() - 1);
    for (int64_t i = 0; i < static_cast<int64_t>(events.size()); ++i) {
      pos[next[events[i].user]++] = i;
    }
  }
  Adjacency out;
  out.offsets.assign(static_cast<size_t>(users) + 1, 0);
  out.cols.reserve(events.size());
  std::vector<int32_t> items;
  for (int32_t u = 0; u < users; ++u) {
    auto first = pos.begin() + offsets[u], last = pos.begin() + offsets[u + 1];
    items.clear();
    if (cap > 0 && last - first > cap) {
      std::stable_sort(first, last, [&](int64_t a, int64_t b) {
        return events[a].timestamp_s < events[b].timestamp_s;
      });
      // Walk back from the most recent until `cap` distinct items.
      for (auto it = last; it != first && static_cast<int>(items.size()) < cap;) {
        --it;
        const int32_t item = events[*it].item;
        if (std::find(items.begin(), items.end(), item) == items.end()) items.push_back(item);
      }
    } else {
      for (auto it = first; it != last; ++it) items.push_back(events[*it].item);
    }
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
    out.cols.insert(out.cols.end(), items.begin(), items.end());
    out.offsets[u + 1] = static_cast<int64_t>(out.cols.size());
  }
  out.cols.shrink_to_fit();
  return out;
}

// The transpose of `a` (rows x cols -> cols x rows), columns sorted.
Adjacency Transpose(const Adjacency& a, int32_t cols) {
  Adjacency t;
  t.offsets.assign(static_cast<size_t>(cols) + 1, 0);
  for (int32_t c : a.cols) ++t.offsets[c + 1];
  for (int32_t c = 0; c < cols; ++c) t.offsets[c + 1] += t.offsets[c];
  t.cols.resize(a.cols.size());
  std::vector<int64_t> next(t.offsets.begin(), t.offsets.end() - 1);
  const int32_t rows = static_cast<int32_t>(a.offsets.size()) - 1;
  for (int32_t r = 0; r < rows; ++r) {
    for (int32_t c : a.row(r)) t.cols[next[c]++] = r;
  }
  return t;
}

// One block of consecutive items' top-N rows.
struct Block {
  std::vector<int64_t> lengths;
  std::vector<ScoredIndex> entries;
};

}  // namespace

ItemKnnModel ItemKnnModel::Fit(std::span<const Interaction> events, int32_t num_users,
                               int32_t num_items, const ItemKnnParams& params) {
  const Adjacency user_items = UserItems(events, num_users, params.max_user_events);
  const Adjacency item_users = Transpose(user_items, num_items);
  const int threads = std::max(1, params.threads);
  constexpr int32_t kBlock = 1024;
  const int32_t num_blocks = (num_items + kBlock - 1) / kBlock;
  std::vector<Block> blocks(static_cast<size_t>(num_blocks));
  std::atomic<int32_t> next_block{0};
  Progress progress("fit itemknn", num_items, absl::Seconds(10));
  auto work = [&] {
    std::vector<float> counts(static_cast<size_t>(num_items), 0.0f);
    std::vector<ItemIndex> touched;
    std::vector<ScoredIndex> row;
    for (int32_t b = next_block++; b < num_blocks; b = next_block++) {
      Block& out = blocks[b];
      const ItemIndex end = std::min(num_items, (b + 1) * kBlock);
      for (ItemIndex i = b * kBlock; i < end; ++i) {
        touched.clear();
        for (int32_t u : item_users.row(i)) {
          for (int32_t j : user_items.row(u)) {
            if (j == i) continue;
            if (counts[j] == 0.0f) touched.push_back(j);
            counts[j] += 1.0f;
          }
        }
        row.clear();
        const double ni = static_cast<double>(item_users.row(i).size());
        for (ItemIndex j : touched) {
          const double nj = static_cast<double>(item_users.row(j).size());
          row.push_back(ScoredIndex{
              j, static_cast<float>(counts[j] / (std::sqrt(ni * nj) + params.shrink))});
          counts[j] = 0.0f;
        }
        SortAndTruncate(&row, params.neighbors);
        out.lengths.push_back(static_cast<int64_t>(row.size()));
        out.entries.insert(out.entries.end(), row.begin(), row.end());
      }
      out.entries.shrink_to_fit();
      progress.Add(end - b * kBlock);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  progress.Done();
  SparseNeighbors nb;
  int64_t nnz = 0;
  for (const Block& b : blocks) nnz += static_cast<int64_t>(b.entries.size());
  nb.offsets.reserve(static_cast<size_t>(num_items) + 1);
  nb.ids.reserve(nnz);
  nb.values.reserve(nnz);
  nb.offsets.push_back(0);
  for (Block& b : blocks) {
    for (const ScoredIndex& s : b.entries) {
      nb.ids.push_back(s.item);
      nb.values.push_back(s.score);
    }
    for (int64_t len : b.lengths) nb.offsets.push_back(nb.offsets.back() + len);
    b = Block{};
  }
  return ItemKnnModel(std::move(nb));
}

}  // namespace recsys
