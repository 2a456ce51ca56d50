// What ALS fitting (als_fit.cc) and loading (als.cc) share. Both compute the
// fold-in's constant YtY + reg I through Gram and NormalBase, so a loaded
// model folds in bit-identically to the one that was fit.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace recsys::als_internal {

// Largest number of factors Fit produces and Load accepts.
inline constexpr int kMaxFactors = 4096;

// Runs fn(row) for row in [0, n), row r on thread r % threads. Every row is
// handled by exactly one thread, so per-row outputs do not depend on threads.
template <typename Fn>
void ParallelRows(int threads, int64_t n, Fn&& fn) {
  threads = static_cast<int>(std::clamp<int64_t>(threads, 1, std::max<int64_t>(n, 1)));
  auto work = [&](int t) {
    for (int64_t r = t; r < n; r += threads) fn(r, t);
  };
  if (threads == 1) {
    work(0);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) pool.emplace_back(work, t);
  for (auto& th : pool) th.join();
}

// Gram matrix M^T M (f x f, double) of `m` (rows x f, float). Rows are summed
// in fixed chunks that do not depend on `threads`, then the chunks in order, so
// the result is bit-identical for any thread count.
Eigen::MatrixXd Gram(const float* m, int64_t rows, int f, int threads);

// YtY + reg I in float, the constant part of every fold-in's normal equations.
std::vector<float> NormalBase(const Eigen::MatrixXd& yty, double reg);

}  // namespace recsys::als_internal
