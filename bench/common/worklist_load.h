#pragma once

// Closed-loop load on PathwayService.GetWorklist: exactly `callers` calls in flight at all
// times, each started again from the completion of the previous one (gRPC callback client API,
// no thread per caller), all on one channel. The same client drives the bare ceiling and the
// real server.
//
// Each call asks for one unit's open deadlines (filter ALL_OPEN, page_size 50); successive calls
// go round the 50 units and move the window start (due_from) over the first 10 days after the
// anchor, so the load reads many different parts of the index, not one hot page.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/common/closed_loop.h"

namespace bench {

struct WorklistLoadOptions {
  std::string target;  // "127.0.0.1:PORT"
  int callers = 1;
  absl::Duration warmup = absl::Seconds(1);
  absl::Duration measure = absl::Seconds(5);
};

struct WorklistLoadResult {
  uint64_t calls = 0;  // completed in the measurement window
  double calls_per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

// kInternal naming the first failed call, or a page without 50 entries; kDeadlineExceeded when
// the server cannot be reached.
absl::StatusOr<WorklistLoadResult> RunWorklistLoad(const WorklistLoadOptions& options,
                                                   WindowProbe* probe);

}  // namespace bench
