#include "bench/submit_referral/serve.h"

#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/common/child_process.h"
#include "libs/kafka/embedded_broker.h"
#include "libs/rpc/grpc_server.h"
#include "referral/v1/service.grpc.pb.h"
#include "services/referral/config.h"
#include "services/referral/server.h"

namespace bench {
namespace {

constexpr char kTopic[] = "pathways.referral.events.v1";
constexpr int kTopicPartitions = 6;
// As long as the ids the real service derives, so both servers send the same bytes back.
constexpr char kBareReferralId[] = "00000000-0000-5000-8000-000000000000";

class BareReferralService final : public referral::v1::ReferralService::CallbackService {
 public:
  grpc::ServerUnaryReactor* SubmitReferral(grpc::CallbackServerContext* context,
                                           const referral::v1::SubmitReferralRequest* /*request*/,
                                           referral::v1::CommandResponse* response) override {
    response->set_referral_id(kBareReferralId);
    response->set_version(1);
    response->set_replayed(false);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

int Fail(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "bench server: %s: %s\n", what, std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int ServeBare(const std::string& ready_file) {
  BareReferralService service;
  absl::StatusOr<std::unique_ptr<es::rpc::GrpcServer>> server = es::rpc::GrpcServer::Start(
      "127.0.0.1:0", {{&service, referral::v1::ReferralService::service_full_name()}});
  if (!server.ok()) return Fail("start bare server", server.status());
  (*server)->SetServing(true);
  if (absl::Status s = WriteReadyFile(ready_file, absl::StrCat((*server)->port())); !s.ok()) {
    return Fail("port file", s);
  }
  WaitForStdinClosed();
  (*server)->Shutdown(absl::Seconds(5));
  return 0;
}

int ServeReferral(const std::string& ready_file) {
  absl::StatusOr<std::unique_ptr<es::kafka::EmbeddedBroker>> broker =
      es::kafka::EmbeddedBroker::Start({.topics = {{kTopic, kTopicPartitions}}});
  if (!broker.ok()) return Fail("start embedded broker", broker.status());

  char data_dir[] = "/tmp/pathways-bench-referral-XXXXXX";
  if (mkdtemp(data_dir) == nullptr) return Fail("mkdtemp", absl::InternalError(strerror(errno)));

  // ForTest: a free port and the test defaults, so the benchmark follows the service's own
  // settings; only what the figures depend on is set explicitly.
  referral::Config config = referral::Config::ForTest(data_dir, (*broker)->bootstrap_servers());
  config.topic = kTopic;
  config.service.pseudonym_secret = "bench-pseudonym-secret-not-for-production";
  config.service.sync_wal = true;
  // Warnings only: a reader needs those, and per-start info lines add nothing here.
  config.service.log_level = "warning";

  int exit_code = 0;
  {
    absl::StatusOr<std::unique_ptr<referral::ReferralServer>> server =
        referral::ReferralServer::Start(config);
    if (!server.ok()) {
      exit_code = Fail("start referral server", server.status());
    } else if (absl::Status s = WriteReadyFile(ready_file, absl::StrCat((*server)->port()));
               !s.ok()) {
      exit_code = Fail("port file", s);
    } else {
      WaitForStdinClosed();
      // The drain flushes the outbox to Kafka: its length says whether the relay kept up.
      const absl::Time drain_start = absl::Now();
      (*server)->Shutdown();
      std::fprintf(stderr, "#   referral server drained in %.2f s\n",
                   absl::ToDoubleSeconds(absl::Now() - drain_start));
    }
  }
  broker->reset();
  std::error_code ignored;
  std::filesystem::remove_all(data_dir, ignored);
  return exit_code;
}

}  // namespace bench
