#pragma once

// gRPC adapter of the referral service (callback API): maps requests to commands and queries,
// results and statuses back. Handlers never block on a write: the reactor is finished from the
// event store's completion callback. Thread-safe.

#include <grpcpp/grpcpp.h>

#include "libs/eventing/clock.h"
#include "libs/runtime/log.h"
#include "referral/v1/service.grpc.pb.h"
#include "services/referral/app/referral_service.h"

namespace referral::api {

class ReferralGrpcService final : public v1::ReferralService::CallbackService {
 public:
  ReferralGrpcService(app::ReferralService& service, const es::Clock& clock);

  grpc::ServerUnaryReactor* SubmitReferral(grpc::CallbackServerContext* context,
                                           const v1::SubmitReferralRequest* request,
                                           v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* AssessReferral(grpc::CallbackServerContext* context,
                                           const v1::AssessReferralRequest* request,
                                           v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* CorrectAssessment(grpc::CallbackServerContext* context,
                                              const v1::CorrectAssessmentRequest* request,
                                              v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* AssignCoordinator(grpc::CallbackServerContext* context,
                                              const v1::AssignCoordinatorRequest* request,
                                              v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* WithdrawReferral(grpc::CallbackServerContext* context,
                                             const v1::WithdrawReferralRequest* request,
                                             v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* GetReferral(grpc::CallbackServerContext* context,
                                        const v1::GetReferralRequest* request,
                                        v1::Referral* response) override;
  grpc::ServerUnaryReactor* ListReferrals(grpc::CallbackServerContext* context,
                                          const v1::ListReferralsRequest* request,
                                          v1::ListReferralsResponse* response) override;
  grpc::ServerUnaryReactor* GetAssessmentWorklist(
      grpc::CallbackServerContext* context, const v1::GetAssessmentWorklistRequest* request,
      v1::AssessmentWorklistResponse* response) override;

 private:
  grpc::ServerUnaryReactor* RunCommand(grpc::CallbackServerContext* context,
                                       const google::protobuf::Message& request,
                                       const std::string& key, int64_t expected_version,
                                       domain::ReferralCommand command,
                                       v1::CommandResponse* response);

  app::ReferralService& service_;
  const es::Clock& clock_;
  es::runtime::Logger audit_{"referral.audit"};
};

}  // namespace referral::api
