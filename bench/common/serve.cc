#include "bench/common/serve.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/common/child_process.h"
#include "bench/common/dataset.h"
#include "bench/common/flags.h"
#include "bench/common/report.h"
#include "libs/eventing/clock.h"
#include "libs/kafka/embedded_broker.h"
#include "libs/rpc/grpc_server.h"
#include "pathway/v1/service.grpc.pb.h"
#include "services/pathway/config.h"
#include "services/pathway/server.h"

namespace bench {
namespace {

int Fail(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "bench server: %s: %s\n", what, std::string(status.message()).c_str());
  return 1;
}

int ServeBroker(const std::string& ready_file) {
  absl::StatusOr<std::unique_ptr<es::kafka::EmbeddedBroker>> broker =
      es::kafka::EmbeddedBroker::Start(
          {.topics = {{kPathwayTopic, 6}, {kReferralTopic, 6}, {kDeadLetterTopic, 1}}});
  if (!broker.ok()) return Fail("start embedded broker", broker.status());
  if (absl::Status s = WriteReadyFile(ready_file, (*broker)->bootstrap_servers()); !s.ok()) {
    return Fail("ready file", s);
  }
  WaitForStdinClosed();
  broker->reset();
  return 0;
}

int ServePathway(const std::string& ready_file, const std::string& data_dir,
                 const std::string& kafka, int64_t block_cache_mb, int64_t write_buffer_mb) {
  pathway::Config config = pathway::Config::ForTest(data_dir, kafka, CatalogueDir());
  config.topic = kPathwayTopic;
  config.referral_topic = kReferralTopic;
  config.dead_letter_topic = kDeadLetterTopic;
  config.service.pseudonym_secret = kPseudonymSecret;
  config.service.sync_wal = true;
  config.service.block_cache_mb = static_cast<int>(block_cache_mb);
  config.service.write_buffer_mb = static_cast<int>(write_buffer_mb);
  config.service.log_level = "warning";
  // The data sets' dates are relative to a fixed day: on that day every open deadline is still
  // open, so the deadline timer has nothing to do, as on a normal day of a running service.
  es::ManualClock clock(AnchorNoon());
  const absl::Time started = absl::Now();
  absl::StatusOr<std::unique_ptr<pathway::PathwayServer>> server =
      pathway::PathwayServer::Start(config, &clock);
  if (!server.ok()) return Fail("start pathway server", server.status());
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!(*server)->ready()) {
    if (absl::Now() > deadline)
      return Fail("pathway server", absl::DeadlineExceededError("not SERVING after 60 s"));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Note("  pathway server SERVING %.1f s after start (block cache %lld MiB, memtables %lld MiB)",
       absl::ToDoubleSeconds(absl::Now() - started), static_cast<long long>(block_cache_mb),
       static_cast<long long>(write_buffer_mb));
  if (absl::Status s = WriteReadyFile(ready_file, absl::StrCat((*server)->port())); !s.ok()) {
    return Fail("ready file", s);
  }
  WaitForStdinClosed();
  (*server)->Shutdown();
  return 0;
}

class BareWorklistService final : public pathway::v1::PathwayService::CallbackService {
 public:
  explicit BareWorklistService(pathway::v1::WorklistResponse page) : page_(std::move(page)) {}
  grpc::ServerUnaryReactor* GetWorklist(grpc::CallbackServerContext* context,
                                        const pathway::v1::GetWorklistRequest* /*request*/,
                                        pathway::v1::WorklistResponse* response) override {
    response->CopyFrom(page_);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const pathway::v1::WorklistResponse page_;
};

int ServeBareWorklist(const std::string& ready_file) {
  absl::StatusOr<pathway::v1::WorklistResponse> page = SampleWorklistPage(50);
  if (!page.ok()) return Fail("sample worklist page", page.status());
  Note("  bare server answers every GetWorklist with %d entries (%zu bytes)", page->entries_size(),
       page->ByteSizeLong());
  BareWorklistService service(*std::move(page));
  absl::StatusOr<std::unique_ptr<es::rpc::GrpcServer>> server = es::rpc::GrpcServer::Start(
      "127.0.0.1:0", {{&service, pathway::v1::PathwayService::service_full_name()}});
  if (!server.ok()) return Fail("start bare server", server.status());
  (*server)->SetServing(true);
  if (absl::Status s = WriteReadyFile(ready_file, absl::StrCat((*server)->port())); !s.ok()) {
    return Fail("ready file", s);
  }
  WaitForStdinClosed();
  (*server)->Shutdown(absl::Seconds(5));
  return 0;
}

}  // namespace

std::vector<std::string> PathwayServerArgs(const std::string& data_dir, const std::string& kafka,
                                           int block_cache_mb, int write_buffer_mb) {
  return {"--serve=pathway", absl::StrCat("--data-dir=", data_dir), absl::StrCat("--kafka=", kafka),
          absl::StrCat("--block-cache-mb=", block_cache_mb),
          absl::StrCat("--write-buffer-mb=", write_buffer_mb)};
}

std::optional<int> RunServerMode(int argc, char** argv) {
  bool serving = false;
  for (int i = 1; i < argc; ++i) serving = serving || std::strncmp(argv[i], "--serve=", 8) == 0;
  if (!serving) return std::nullopt;
  std::string mode, ready_file, data_dir, kafka;
  int64_t block_cache_mb = 128, write_buffer_mb = 32;
  FlagSet flags("server mode of a benchmark binary (started by the binary itself)\n");
  flags.String("--serve", &mode);
  flags.String("--ready-file", &ready_file);
  flags.String("--data-dir", &data_dir);
  flags.String("--kafka", &kafka);
  flags.Int("--block-cache-mb", &block_cache_mb, 1);
  flags.Int("--write-buffer-mb", &write_buffer_mb, 1);
  ParseOrExit(flags, argc, argv);
  if (ready_file.empty())
    return Fail("flags", absl::InvalidArgumentError("--ready-file is required"));
  if (mode == "broker") return ServeBroker(ready_file);
  if (mode == "bare-worklist") return ServeBareWorklist(ready_file);
  if (mode == "pathway") {
    if (data_dir.empty() || kafka.empty()) {
      return Fail("flags",
                  absl::InvalidArgumentError("--serve=pathway needs --data-dir and --kafka"));
    }
    return ServePathway(ready_file, data_dir, kafka, block_cache_mb, write_buffer_mb);
  }
  return Fail("flags", absl::InvalidArgumentError(absl::StrCat("unknown --serve=", mode)));
}

}  // namespace bench
