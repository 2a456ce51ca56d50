// The pseudo-random streams and samplers of the synthetic catalogue generator.
// Everything here is implemented in this file (no std:: distributions, whose
// output differs between standard libraries), so a seed fixes every byte.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace recsys::synth {

// splitmix64's output function: a bijective 64-bit mixer.
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// splitmix64: a 64-bit state advanced by a Weyl increment. Not thread-safe;
// each user / item block gets its own, seeded by StreamSeed.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() { return Mix64(state_ += 0x9e3779b97f4a7c15ULL); }
  // Uniform in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n), n >= 1 (multiply-shift; bias < n / 2^64).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  bool Bernoulli(double p) { return Uniform() < p; }
  // Exponential with the given mean.
  double Exponential(double mean) { return -mean * std::log1p(-Uniform()); }
  // Standard normal (Box-Muller, one value per call).
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t state_;
};

// The seed of stream (`kind`, `index`) under the global `seed`: independent
// streams per user / item so that any one of them can be regenerated alone.
inline uint64_t StreamSeed(uint64_t seed, uint64_t kind, uint64_t index) {
  return Mix64(seed ^ Mix64((kind << 48) ^ index ^ 0x5851f42d4c957f2dULL));
}

// Index i in [0, cum.size()) with probability (cum[i] - cum[i-1]) / cum.back(),
// restricted to the first `prefix` entries (1 <= prefix <= cum.size()).
// `cum` is an inclusive prefix sum of non-negative weights. O(log prefix).
inline int64_t SampleCumulative(const double* cum, int64_t prefix, Rng& rng) {
  const double u = rng.Uniform() * cum[prefix - 1];
  const int64_t i = std::upper_bound(cum, cum + prefix, u) - cum;
  return std::min(i, prefix - 1);
}

}  // namespace recsys::synth
