#pragma once

// Closed-loop load on SubmitReferral: exactly `callers` calls in flight at all times, each one
// started again from the completion of the previous (gRPC callback client API, no thread per
// caller). The same client drives the bare ceiling and the real server, so the ratio of the two
// shows what the service adds on top of gRPC itself.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/common/closed_loop.h"
#include "bench/submit_referral/fodselsnummer.h"

namespace bench {

struct LoadOptions {
  std::string target;  // "127.0.0.1:PORT"
  int callers = 1;
  int callers_per_channel = 0;  // 0: one channel (one TCP connection) for all callers
  absl::Duration warmup = absl::Seconds(1);
  absl::Duration measure = absl::Seconds(4);
  std::string key_prefix;  // idempotency keys are key_prefix + a counter: unique per run
};

struct LoadResult {
  uint64_t calls = 0;  // completed in the measurement window
  double calls_per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double client_cpu_seconds = 0;      // this process, during the window
  double seconds = 0;                 // length of the window(s)
  std::vector<int64_t> latencies_ns;  // of every call counted, ascending
};

// One result from several windows against the same server: calls and CPU add up, the
// percentiles are those of all the calls together.
LoadResult MergeWindows(const std::vector<LoadResult>& windows);

// kInternal naming the first failed call (status code and message) if any call fails, replays
// (a repeated idempotency key) or comes back without a referral id; kDeadlineExceeded when the
// server cannot be reached.
absl::StatusOr<LoadResult> RunSubmitLoad(const LoadOptions& options, FodselsnummerSource& numbers,
                                         WindowProbe* probe);

}  // namespace bench
