// Status helpers missing from absl 20220623.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RECSYS_CONCAT_INNER(a, b) a##b
#define RECSYS_CONCAT(a, b) RECSYS_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::absl::Status recsys_status_ = (expr);    \
    if (!recsys_status_.ok()) return recsys_status_; \
  } while (0)

// `lhs = value of expr` (an absl::StatusOr<T>), or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(RECSYS_CONCAT(recsys_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
