#include "bench/common/closed_loop.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "bench/common/report.h"

namespace bench {
namespace {

std::chrono::steady_clock::time_point At(int64_t steady_ns) {
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(steady_ns));
}

}  // namespace

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double PercentileMs(const std::vector<int64_t>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(fraction * static_cast<double>(sorted.size()) + 0.999999);
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]) / 1e6;
}

LoadRun::LoadRun(int callers, absl::Duration warmup, absl::Duration measure)
    : window_start_ns_(SteadyNanos() + absl::ToInt64Nanoseconds(warmup)),
      window_end_ns_(window_start_ns_ + absl::ToInt64Nanoseconds(measure)),
      active_(callers) {}

void LoadRun::Fail(std::string message) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!failed_.exchange(true)) first_error_ = std::move(message);
  changed_.notify_all();
}

void LoadRun::CallerFinished() {
  std::lock_guard<std::mutex> lock(mutex_);
  --active_;
  changed_.notify_all();
}

absl::Status LoadRun::Await(WindowProbe* probe, double* client_cpu_seconds) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_until(lock, At(window_start_ns_), [&] { return failed_.load(); });
  }
  if (probe != nullptr) probe->AtWindowStart();
  const double cpu_start = ProcessCpuSeconds(getpid());
  {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_until(lock, At(window_end_ns_), [&] { return failed_.load(); });
  }
  if (probe != nullptr) probe->AtWindowEnd();
  if (client_cpu_seconds != nullptr) *client_cpu_seconds = ProcessCpuSeconds(getpid()) - cpu_start;
  std::unique_lock<std::mutex> lock(mutex_);
  if (!changed_.wait_until(lock, At(window_end_ns_) + std::chrono::seconds(60),
                           [&] { return active_ == 0; })) {
    // Callers still own calls in flight: returning would free memory gRPC still writes to.
    std::fprintf(stderr, "bench: %d calls still in flight 60 s after the window\n", active_);
    std::_Exit(1);
  }
  if (failed_.load()) return absl::InternalError(first_error_);
  return absl::OkStatus();
}

}  // namespace bench
