// Baseline recommenders: Random, Popularity, Trending (as of request time).
#pragma once

#include <cstdint>
#include <vector>

#include "common/models/trending.h"
#include "offline/evaluator.h"

namespace recsys::offline {

// Uniformly random unseen items; deterministic per (seed, user).
class RandomModel : public EvalModel {
 public:
  RandomModel(int32_t num_items, uint64_t seed) : num_items_(num_items), seed_(seed) {}
  std::string name() const override { return "random"; }
  std::vector<ScoredIndex> Recommend(const Query& q, int k, const SeenSet& seen) const override;

 private:
  int32_t num_items_;
  uint64_t seed_;
};

// Most interacted-with items in the training events.
class PopularityModel : public EvalModel {
 public:
  PopularityModel(std::span<const Interaction> train, int32_t num_items);
  std::string name() const override { return "popularity"; }
  std::vector<ScoredIndex> Recommend(const Query& q, int k, const SeenSet& seen) const override;

 private:
  std::vector<ScoredIndex> order_;  // all items with a count, best first
};

// Exponentially decayed popularity as of the query time.
class TrendingEvalModel : public EvalModel {
 public:
  explicit TrendingEvalModel(const TrendingModel& model) : model_(model) {}
  std::string name() const override { return "trending"; }
  std::vector<ScoredIndex> Recommend(const Query& q, int k, const SeenSet& seen) const override;

 private:
  const TrendingModel& model_;
};

}  // namespace recsys::offline
