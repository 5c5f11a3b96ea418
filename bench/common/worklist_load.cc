#include "bench/common/worklist_load.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/common/dataset.h"
#include "libs/eventing/proto_time.h"
#include "pathway/v1/service.grpc.pb.h"

namespace bench {
namespace {

using pathway::v1::PathwayService;

constexpr int kPageSize = 50;
constexpr int kWindowDays = 10;

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Run {
  Run(int callers, int64_t start_ns, int64_t end_ns)
      : window_start_ns(start_ns), window_end_ns(end_ns), active(callers) {}

  void Fail(std::string message) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!failed.exchange(true)) first_error = std::move(message);
    changed.notify_all();
  }
  void CallerFinished() {
    std::lock_guard<std::mutex> lock(mutex);
    --active;
    changed.notify_all();
  }

  const int64_t window_start_ns;
  const int64_t window_end_ns;
  std::atomic<uint64_t> next_query{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::condition_variable changed;
  int active;               // guarded by mutex
  std::string first_error;  // guarded by mutex
};

class Caller {
 public:
  Caller(Run& run, PathwayService::Stub& stub) : run_(run), stub_(stub) {
    request_.set_filter(pathway::v1::ALL_OPEN);
    request_.set_page_size(kPageSize);
    latencies_ns_.reserve(1 << 16);
  }

  void Issue() {
    const uint64_t n = run_.next_query.fetch_add(1, std::memory_order_relaxed);
    request_.set_unit(UnitName(static_cast<int>(n % kUnits)));
    *request_.mutable_due_from() =
        es::ToProtoDate(AnchorDay() + 1 + static_cast<int>((n / kUnits) % kWindowDays));
    response_.Clear();
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    started_ns_ = SteadyNanos();
    stub_.async()->GetWorklist(context_.get(), &request_, &response_,
                               [this](grpc::Status status) { OnDone(status); });
  }

  const std::vector<int64_t>& latencies_ns() const { return latencies_ns_; }

 private:
  void OnDone(const grpc::Status& status) {
    const int64_t done_ns = SteadyNanos();
    if (!status.ok()) {
      run_.Fail(absl::StrCat("GetWorklist failed: code ", status.error_code(), ": ",
                             status.error_message()));
    } else if (response_.entries_size() != kPageSize) {
      run_.Fail(absl::StrCat("GetWorklist for ", request_.unit(), " returned ",
                             response_.entries_size(), " entries, not ", kPageSize,
                             " (is the data set loaded?)"));
    } else if (done_ns >= run_.window_start_ns && done_ns < run_.window_end_ns) {
      latencies_ns_.push_back(done_ns - started_ns_);
    }
    if (run_.failed.load() || done_ns >= run_.window_end_ns) {
      run_.CallerFinished();
      return;
    }
    Issue();
  }

  Run& run_;
  PathwayService::Stub& stub_;
  pathway::v1::GetWorklistRequest request_;
  pathway::v1::WorklistResponse response_;
  std::unique_ptr<grpc::ClientContext> context_;
  int64_t started_ns_ = 0;
  std::vector<int64_t> latencies_ns_;
};

double PercentileMs(const std::vector<int64_t>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(fraction * static_cast<double>(sorted.size()) + 0.999999);
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]) / 1e6;
}

}  // namespace

absl::StatusOr<WorklistLoadResult> RunWorklistLoad(const WorklistLoadOptions& options,
                                                   WindowProbe* probe) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own per run
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    return absl::DeadlineExceededError(absl::StrCat("cannot connect to ", options.target));
  }
  std::unique_ptr<PathwayService::Stub> stub = PathwayService::NewStub(channel);

  const int64_t start_ns = SteadyNanos() + absl::ToInt64Nanoseconds(options.warmup);
  const int64_t end_ns = start_ns + absl::ToInt64Nanoseconds(options.measure);
  Run run(options.callers, start_ns, end_ns);
  std::vector<std::unique_ptr<Caller>> callers;
  for (int i = 0; i < options.callers; ++i) callers.push_back(std::make_unique<Caller>(run, *stub));
  for (auto& caller : callers) caller->Issue();

  const auto at = [](int64_t steady_ns) {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(steady_ns));
  };
  {
    std::unique_lock<std::mutex> lock(run.mutex);
    run.changed.wait_until(lock, at(start_ns), [&] { return run.failed.load(); });
  }
  if (probe != nullptr) probe->AtWindowStart();
  {
    std::unique_lock<std::mutex> lock(run.mutex);
    run.changed.wait_until(lock, at(end_ns), [&] { return run.failed.load(); });
  }
  if (probe != nullptr) probe->AtWindowEnd();
  {
    std::unique_lock<std::mutex> lock(run.mutex);
    if (!run.changed.wait_until(lock, at(end_ns) + std::chrono::seconds(60),
                                [&] { return run.active == 0; })) {
      // Callers still own calls in flight: returning would free memory gRPC still writes to.
      std::fprintf(stderr, "bench: %d calls still in flight 60 s after the window\n", run.active);
      std::_Exit(1);
    }
    if (run.failed.load()) return absl::InternalError(run.first_error);
  }

  std::vector<int64_t> latencies;
  for (const auto& caller : callers) {
    latencies.insert(latencies.end(), caller->latencies_ns().begin(), caller->latencies_ns().end());
  }
  std::sort(latencies.begin(), latencies.end());
  WorklistLoadResult result;
  result.calls = latencies.size();
  result.calls_per_second =
      static_cast<double>(latencies.size()) / absl::ToDoubleSeconds(options.measure);
  result.p50_ms = PercentileMs(latencies, 0.50);
  result.p99_ms = PercentileMs(latencies, 0.99);
  return result;
}

}  // namespace bench
