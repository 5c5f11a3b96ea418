#include "bench/common/worklist_load.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/common/closed_loop.h"
#include "bench/common/dataset.h"
#include "libs/eventing/proto_time.h"
#include "pathway/v1/service.grpc.pb.h"

namespace bench {
namespace {

using pathway::v1::PathwayService;

constexpr int kPageSize = 50;
constexpr int kWindowDays = 10;

struct Run : LoadRun {
  using LoadRun::LoadRun;
  std::atomic<uint64_t> next_query{0};
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
    } else if (run_.InWindow(done_ns)) {
      latencies_ns_.push_back(done_ns - started_ns_);
    }
    if (run_.ShouldStop(done_ns)) {
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

  Run run(options.callers, options.warmup, options.measure);
  std::vector<std::unique_ptr<Caller>> callers;
  for (int i = 0; i < options.callers; ++i) callers.push_back(std::make_unique<Caller>(run, *stub));
  for (auto& caller : callers) caller->Issue();
  if (absl::Status done = run.Await(probe, nullptr); !done.ok()) return done;

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
