#pragma once

// ES_RETURN_IF_ERROR / ES_ASSIGN_OR_RETURN: Abseil 20220623 predates ABSL_RETURN_IF_ERROR.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ES_STATUS_CONCAT_INNER_(a, b) a##b
#define ES_STATUS_CONCAT_(a, b) ES_STATUS_CONCAT_INNER_(a, b)

#define ES_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status es_status_ = (expr);      \
    if (!es_status_.ok()) return es_status_; \
  } while (false)

#define ES_ASSIGN_OR_RETURN(lhs, expr) \
  ES_ASSIGN_OR_RETURN_IMPL_(ES_STATUS_CONCAT_(es_statusor_, __LINE__), lhs, expr)

#define ES_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                              \
  if (!statusor.ok()) return statusor.status();        \
  lhs = std::move(*statusor)

namespace es {

// Drops a status on purpose; `why` documents the decision at the call site.
inline void IgnoreError(const absl::Status& /*status*/, const char* /*why*/) {}

}  // namespace es
