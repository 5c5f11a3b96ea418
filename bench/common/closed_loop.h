#pragma once

// What every closed-loop gRPC load of the benchmarks shares: a fixed number of callers, each
// with one call in flight and starting the next from the completion of the previous one; a
// warm-up, then a measurement window in which completed calls count; the first failure ends
// the run. The callers themselves (request, response, checks) belong to each load.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "bench/common/report.h"

namespace bench {

// Called at the edges of the measurement window (may be null), e.g. to sample a server's CPU.
struct WindowProbe {
  virtual ~WindowProbe() = default;
  virtual void AtWindowStart() = 0;
  virtual void AtWindowEnd() = 0;
};

// A probe that measures the CPU of this process, of `server` and of everyone else over the window.
class CpuProbe : public WindowProbe {
 public:
  explicit CpuProbe(pid_t server) : server_(server) {}
  void AtWindowStart() override { window_ = std::make_unique<CpuWindow>(server_); }
  void AtWindowEnd() override { window_->Stop(); }
  const CpuWindow& window() const { return *window_; }  // after the window

 private:
  pid_t server_;
  std::unique_ptr<CpuWindow> window_;
};

// Monotonic clock in nanoseconds, for call latencies and the window's edges.
int64_t SteadyNanos();

// Nearest-rank percentile of ascending values in nanoseconds, in milliseconds (0 when empty).
double PercentileMs(const std::vector<int64_t>& sorted, double fraction);

// The bookkeeping of one run. Thread-safe: callers report from gRPC's callback threads.
class LoadRun {
 public:
  // The window opens `warmup` from now and lasts `measure`; `callers` will call CallerFinished.
  LoadRun(int callers, absl::Duration warmup, absl::Duration measure);

  // A call completed at `done_ns` counts when it falls inside the window.
  bool InWindow(int64_t done_ns) const {
    return done_ns >= window_start_ns_ && done_ns < window_end_ns_;
  }
  // A caller stops issuing once the run failed or the window closed.
  bool ShouldStop(int64_t now_ns) const { return failed_.load() || now_ns >= window_end_ns_; }

  void Fail(std::string message);  // the first message is the run's error
  void CallerFinished();

  // Blocks through the warm-up and the window (shorter if a call fails), calls `probe` at the
  // window's edges and stores this process's CPU time over the window in `client_cpu_seconds`
  // (may be null). Then waits for every caller to finish; if one has not within 60 s the process
  // exits, because gRPC still owns memory of calls in flight. kInternal with the first failure.
  absl::Status Await(WindowProbe* probe, double* client_cpu_seconds);

 private:
  const int64_t window_start_ns_;
  const int64_t window_end_ns_;
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  int active_;               // guarded by mutex_: callers still issuing calls
  std::string first_error_;  // guarded by mutex_
};

}  // namespace bench
