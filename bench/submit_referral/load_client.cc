#include "bench/submit_referral/load_client.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/common/closed_loop.h"
#include "libs/eventing/proto_time.h"
#include "referral/v1/service.grpc.pb.h"

namespace bench {
namespace {

using referral::v1::ReferralService;

// State shared by all callers of one run.
struct Run : LoadRun {
  Run(const LoadOptions& options, FodselsnummerSource& numbers)
      : LoadRun(options.callers, options.warmup, options.measure),
        key_prefix(options.key_prefix),
        numbers(numbers) {}

  const std::string key_prefix;
  FodselsnummerSource& numbers;
  std::atomic<uint64_t> next_key{0};
};

// One logical caller: one call in flight; the completion of one call starts the next. All of a
// caller's state is touched by one callback at a time, so it needs no lock.
class Caller {
 public:
  Caller(Run& run, ReferralService::Stub& stub) : run_(run), stub_(stub) {
    // The fields every request shares; Issue() fills in what must differ per call.
    request_.mutable_patient()->set_system(referral::v1::PatientIdentifier::NO_FODSELSNUMMER);
    request_.mutable_referrer()->set_name("Kari Nordmann");
    request_.mutable_referrer()->set_organisation("Bench legesenter");
    request_.set_receiving_unit("bench-unit-1");
    request_.set_reason("Benchmark referral: persistent symptoms needing specialist assessment.");
    request_.set_priority(referral::v1::PRIORITY_ORDINARY);
    latencies_ns_.reserve(1 << 16);
  }

  void Issue() {
    request_.set_idempotency_key(
        absl::StrCat(run_.key_prefix, run_.next_key.fetch_add(1, std::memory_order_relaxed)));
    request_.mutable_patient()->set_value(run_.numbers.Next());
    *request_.mutable_received_at() = es::ToProtoTimestamp(absl::Now());
    response_.Clear();
    // A ClientContext serves one call only. Replacing it here, inside the previous call's
    // completion, is safe: the finished call's completion tag holds its own call reference.
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    started_ns_ = SteadyNanos();
    stub_.async()->SubmitReferral(context_.get(), &request_, &response_,
                                  [this](grpc::Status status) { OnDone(status); });
  }

  const std::vector<int64_t>& latencies_ns() const { return latencies_ns_; }

 private:
  void OnDone(const grpc::Status& status) {
    const int64_t done_ns = SteadyNanos();
    if (!status.ok()) {
      run_.Fail(absl::StrCat("SubmitReferral failed: code ", status.error_code(), ": ",
                             status.error_message()));
    } else if (response_.replayed() || response_.referral_id().empty()) {
      // Every key is new, so a replay means the benchmark measured no write at all.
      run_.Fail(absl::StrCat("SubmitReferral answered replayed=", response_.replayed(),
                             " referral_id='", response_.referral_id(), "' for a new key"));
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
  ReferralService::Stub& stub_;
  referral::v1::SubmitReferralRequest request_;
  referral::v1::CommandResponse response_;
  std::unique_ptr<grpc::ClientContext> context_;
  int64_t started_ns_ = 0;
  std::vector<int64_t> latencies_ns_;
};

}  // namespace

absl::StatusOr<LoadResult> RunSubmitLoad(const LoadOptions& options, FodselsnummerSource& numbers,
                                         WindowProbe* probe) {
  const int per_channel =
      options.callers_per_channel > 0 ? options.callers_per_channel : options.callers;
  const int channel_count = (options.callers + per_channel - 1) / per_channel;
  std::vector<std::unique_ptr<ReferralService::Stub>> stubs;
  for (int i = 0; i < channel_count; ++i) {
    grpc::ChannelArguments args;
    // Channels with equal arguments share one connection through the global subchannel pool;
    // a local pool gives each channel its own TCP connection, which is the point of several.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
      return absl::DeadlineExceededError(absl::StrCat("cannot connect to ", options.target));
    }
    stubs.push_back(ReferralService::NewStub(channel));
  }

  Run run(options, numbers);
  std::vector<std::unique_ptr<Caller>> callers;
  for (int i = 0; i < options.callers; ++i) {
    callers.push_back(std::make_unique<Caller>(run, *stubs[i / per_channel]));
  }
  for (auto& caller : callers) caller->Issue();
  LoadResult result;
  if (absl::Status done = run.Await(probe, &result.client_cpu_seconds); !done.ok()) return done;

  std::vector<int64_t> latencies;
  for (const auto& caller : callers) {
    latencies.insert(latencies.end(), caller->latencies_ns().begin(), caller->latencies_ns().end());
  }
  std::sort(latencies.begin(), latencies.end());
  result.calls = latencies.size();
  result.calls_per_second =
      static_cast<double>(latencies.size()) / absl::ToDoubleSeconds(options.measure);
  result.p50_ms = PercentileMs(latencies, 0.50);
  result.p99_ms = PercentileMs(latencies, 0.99);
  result.seconds = absl::ToDoubleSeconds(options.measure);
  result.latencies_ns = std::move(latencies);
  return result;
}

LoadResult MergeWindows(const std::vector<LoadResult>& windows) {
  LoadResult merged;
  for (const LoadResult& window : windows) {
    merged.calls += window.calls;
    merged.seconds += window.seconds;
    merged.client_cpu_seconds += window.client_cpu_seconds;
    merged.latencies_ns.insert(merged.latencies_ns.end(), window.latencies_ns.begin(),
                               window.latencies_ns.end());
  }
  std::sort(merged.latencies_ns.begin(), merged.latencies_ns.end());
  merged.calls_per_second =
      merged.seconds > 0 ? static_cast<double>(merged.calls) / merged.seconds : 0;
  merged.p50_ms = PercentileMs(merged.latencies_ns, 0.50);
  merged.p99_ms = PercentileMs(merged.latencies_ns, 0.99);
  return merged;
}

}  // namespace bench
