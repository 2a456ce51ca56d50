#include "tests/testing/toy_registry.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

namespace recsys::testing {

namespace fs = std::filesystem;

std::string WriteToyData(const std::string& dir) {
  fs::create_directories(dir);
  std::ofstream items(dir + "/items.csv");
  items << "item,title,text,category\n";
  const char* words[3] = {"space robots laser galaxy", "love wedding romance kiss",
                          "murder detective crime clue"};
  const char* cats[3] = {"SciFi", "Romance", "Crime"};
  for (int i = 0; i < 60; ++i) {
    items << "m" << i << ",\"Movie " << i << ", part " << i % 7 << "\"," << words[i % 3] << " w"
          << i << "," << cats[i % 3] << "\n";
  }
  std::ofstream log(dir + "/interactions.csv");
  log << "user,item,timestamp,weight\n";
  std::mt19937 rng(7);
  for (int u = 0; u < 90; ++u) {
    const int cluster = u % 3;
    const int n = 8 + static_cast<int>(rng() % 8);
    const int start = static_cast<int>(rng() % 10);
    for (int e = 0; e < n; ++e) {
      const int item =
          rng() % 10 == 0 ? static_cast<int>(rng() % 60) : cluster + 3 * ((start + e) % 20);
      log << "u" << u << ",m" << item << "," << 1500000000 + u * 1000 + e * 60 << ",1\n";
    }
  }
  return dir;
}

offline::TrainOptions ToyTrainOptions(const std::string& root) {
  offline::TrainOptions o;
  o.data_dir = WriteToyData(root + "/data");
  o.registry = root + "/registry";
  o.name = "toy";
  o.content.dim = 8;
  o.als.factors = 8;
  o.als.iterations = 5;
  o.tune_budget = absl::ZeroDuration();
  o.serving.quotas = {20, 20, 20, 10, 20, 20, 20};
  o.serving.max_pool = 60;
  return o;
}

absl::StatusOr<offline::TrainResult> TrainToyBundle(const std::string& root) {
  return offline::Train(ToyTrainOptions(root));
}

std::string FreshTempDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/recsys_" + name + "_" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace recsys::testing
