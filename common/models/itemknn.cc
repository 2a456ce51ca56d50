#include "common/models/itemknn.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/bundle/array_file.h"
#include "common/status.h"

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

Adjacency BuildAdjacency(std::span<const Interaction> events, int32_t rows, bool by_user) {
  std::vector<std::vector<int32_t>> lists(rows);
  for (const Interaction& e : events) {
    if (by_user) lists[e.user].push_back(e.item);
    else lists[e.item].push_back(e.user);
  }
  Adjacency csr;
  csr.offsets.assign(rows + 1, 0);
  for (int32_t r = 0; r < rows; ++r) {
    auto& l = lists[r];
    std::sort(l.begin(), l.end());
    l.erase(std::unique(l.begin(), l.end()), l.end());
    csr.offsets[r + 1] = csr.offsets[r] + static_cast<int64_t>(l.size());
  }
  csr.cols.reserve(csr.offsets[rows]);
  for (auto& l : lists) csr.cols.insert(csr.cols.end(), l.begin(), l.end());
  return csr;
}

// Keeps the best `n` of (ids, values) by value (ties by id), appended to out.
void AppendTopN(std::vector<ScoredIndex>* row, int n, SparseNeighbors* out) {
  SortAndTruncate(row, n);
  for (const ScoredIndex& s : *row) {
    out->ids.push_back(s.item);
    out->values.push_back(s.score);
  }
  out->offsets.push_back(static_cast<int64_t>(out->ids.size()));
}

}  // namespace

ItemKnnModel ItemKnnModel::Fit(std::span<const Interaction> events, int32_t num_users,
                               int32_t num_items, const ItemKnnParams& params) {
  const Adjacency user_items = BuildAdjacency(events, num_users, /*by_user=*/true);
  const Adjacency item_users = BuildAdjacency(events, num_items, /*by_user=*/false);
  const int threads = std::max(1, params.threads);
  // Each thread fills the rows i with i % threads == t; merged in order after.
  std::vector<std::vector<std::vector<ScoredIndex>>> rows(threads);
  auto work = [&](int t) {
    std::vector<float> counts(num_items, 0.0f);
    std::vector<ItemIndex> touched;
    for (ItemIndex i = t; i < num_items; i += threads) {
      touched.clear();
      for (int32_t u : item_users.row(i)) {
        for (int32_t j : user_items.row(u)) {
          if (j == i) continue;
          if (counts[j] == 0.0f) touched.push_back(j);
          counts[j] += 1.0f;
        }
      }
      std::vector<ScoredIndex> row;
      row.reserve(touched.size());
      const double ni = static_cast<double>(item_users.row(i).size());
      for (ItemIndex j : touched) {
        const double nj = static_cast<double>(item_users.row(j).size());
        row.push_back(ScoredIndex{j, static_cast<float>(counts[j] / (std::sqrt(ni * nj) + params.shrink))});
        counts[j] = 0.0f;
      }
      SortAndTruncate(&row, params.neighbors);
      rows[t].push_back(std::move(row));
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
  SparseNeighbors nb;
  nb.offsets.push_back(0);
  for (ItemIndex i = 0; i < num_items; ++i) {
    AppendTopN(&rows[i % threads][i / threads], params.neighbors, &nb);
  }
  return ItemKnnModel(std::move(nb));
}

void ItemKnnModel::Score(std::span<const ItemIndex> history,
                         absl::flat_hash_map<ItemIndex, float>* scores) const {
  const std::vector<float> ones(history.size(), 1.0f);
  Score(history, ones, scores);
}

void ItemKnnModel::Score(std::span<const ItemIndex> history, std::span<const float> weights,
                         absl::flat_hash_map<ItemIndex, float>* scores) const {
  const int32_t n = neighbors_.rows();
  // One allocation up front instead of rehashing as the votes arrive.
  size_t votes = 0;
  for (ItemIndex i : history) {
    if (i >= 0 && i < n) votes += neighbors_.row_ids(i).size();
  }
  scores->reserve(scores->size() + std::min<size_t>(votes, static_cast<size_t>(n)));
  ForEachVote(history, weights, [scores](ItemIndex j, float vote) { (*scores)[j] += vote; });
}

void ItemKnnModel::ScoreDense(std::span<const ItemIndex> history, std::span<const float> weights,
                              std::vector<float>* scores, std::vector<ItemIndex>* voted) const {
  const int32_t n = neighbors_.rows();
  scores->assign(static_cast<size_t>(n), 0.0f);
  voted->clear();
  std::vector<uint8_t> seen(static_cast<size_t>(n), 0);
  ForEachVote(history, weights, [&](ItemIndex j, float vote) {
    (*scores)[j] += vote;
    if (!seen[j]) {
      seen[j] = 1;
      voted->push_back(j);
    }
  });
}

SparseNeighbors FitMarkovTransitions(std::span<const Interaction> events, int32_t num_users,
                                     int32_t num_items, int top_n) {
  std::vector<std::vector<Interaction>> by_user(num_users);
  for (const Interaction& e : events) by_user[e.user].push_back(e);
  std::vector<absl::flat_hash_map<ItemIndex, float>> counts(num_items);
  for (auto& list : by_user) {
    std::stable_sort(list.begin(), list.end(), [](const Interaction& a, const Interaction& b) {
      return a.timestamp_s < b.timestamp_s;
    });
    for (size_t k = 1; k < list.size(); ++k) {
      if (list[k - 1].item != list[k].item) counts[list[k - 1].item][list[k].item] += 1.0f;
    }
  }
  SparseNeighbors nb;
  nb.offsets.push_back(0);
  for (ItemIndex i = 0; i < num_items; ++i) {
    float total = 0;
    std::vector<ScoredIndex> row;
    row.reserve(counts[i].size());
    for (const auto& [j, c] : counts[i]) {
      total += c;
      row.push_back(ScoredIndex{j, c});
    }
    for (ScoredIndex& s : row) s.score /= total;
    AppendTopN(&row, top_n, &nb);
  }
  return nb;
}

}  // namespace recsys
