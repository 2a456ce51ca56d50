// Verbose detail lines on top of LOG(INFO): VLOG(n) writes an INFO line only
// when the process's verbosity is at least n (default 0: none). Commands that
// produce a lot of per-step detail (the trainer's per-iteration lines) use it
// so that their ordinary output stays one line per phase.
//   VLOG(1) << "ALS iteration " << it << ": loss " << loss;
#pragma once

#include "common/log.h"

namespace recsys {

// Set once at start-up (e.g. from a --v flag); thread-safe to read.
void SetVerbosity(int level);
int Verbosity();

}  // namespace recsys

// Wrapped in a switch so that `if (c) VLOG(1) << x; else ...` binds the else
// to the caller's if.
#define VLOG(level)                              \
  switch (0)                                     \
  case 0:                                        \
  default:                                       \
    if (::recsys::Verbosity() < (level)) {       \
    } else                                       \
      LOG(INFO)
