// ItemKnnModel::Fit: item-item cosine with shrinkage, top-N per item (the
// fitting half; scoring is in itemknn.cc).
#include <algorithm>
#include <cmath>
#include <thread>

#include "common/models/itemknn.h"
#include "common/models/top_n_rows.h"

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

}  // namespace recsys
