// Inner product of two float vectors with eight independent partial sums, so
// the compiler keeps them in SIMD registers instead of one serial chain of
// dependent adds (~8x faster for the 64-128-dim vectors here). The summation
// order is fixed by the code, not by the compiler: the same inputs give the
// same bits in the trainer and in every service built from this tree.
#pragma once

namespace recsys {

inline float Dot(const float* a, const float* b, int d) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= d; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < d; ++i) s += a[i] * b[i];
  return s;
}

}  // namespace recsys
