// SlistModel inputs, Save and Load (the serving half; Fit is in slist_fit.cc).
#include "common/models/slist.h"

#include <algorithm>
#include <cmath>

#include "common/status.h"

namespace recsys {

void SlistModel::InputWeights(const SlistInputs& inputs, std::span<const Interaction> history,
                              int64_t as_of_s, std::vector<ItemIndex>* items,
                              std::vector<float>* weights) {
  items->clear();
  weights->clear();
  const size_t window = static_cast<size_t>(std::max(1, inputs.window));
  const size_t count = std::min(history.size(), window);
  for (size_t k = 0; k < count; ++k) {
    const Interaction& e = history[history.size() - 1 - k];
    double w = inputs.position_decay > 0 ? std::exp(-static_cast<double>(k) / inputs.position_decay)
                                         : 1.0;
    if (inputs.time_tau_s > 0) {
      const double dt = static_cast<double>(std::max<int64_t>(0, as_of_s - e.timestamp_s));
      w *= inputs.time_floor + (1.0 - inputs.time_floor) * std::exp(-dt / inputs.time_tau_s);
    }
    items->push_back(e.item);
    weights->push_back(static_cast<float>(w));
  }
}

std::vector<std::pair<ItemIndex, float>> SlistModel::Inputs(std::span<const Interaction> history,
                                                            int64_t as_of_s) const {
  std::vector<ItemIndex> items;
  std::vector<float> w;
  InputWeights(inputs_, history, as_of_s, &items, &w);
  return b_.WeightedItems(items, w);
}

absl::StatusOr<std::vector<std::string>> SlistModel::Save(const std::string& dir) const {
  return b_.Save(dir, "slist");
}

absl::StatusOr<SlistModel> SlistModel::Load(const std::string& dir, const SlistInputs& inputs) {
  SlistModel model;
  ASSIGN_OR_RETURN(model.b_, EaseModel::Load(dir, "slist"));
  model.inputs_ = inputs;
  return model;
}

}  // namespace recsys
