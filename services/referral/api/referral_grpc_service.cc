#include "services/referral/api/referral_grpc_service.h"

#include "absl/strings/str_cat.h"
#include "libs/eventing/ids.h"
#include "libs/eventing/proto_time.h"
#include "libs/rpc/caller.h"
#include "libs/rpc/grpc_status.h"

namespace referral::api {
namespace {

absl::Time TimeOr(const google::protobuf::Timestamp& t, bool present) {
  return present ? es::FromProtoTimestamp(t) : absl::InfinitePast();
}

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, const absl::Status& s) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(es::rpc::ToGrpcStatus(s));
  return reactor;
}

}  // namespace

ReferralGrpcService::ReferralGrpcService(app::ReferralService& service, const es::Clock& clock)
    : service_(service), clock_(clock) {}

grpc::ServerUnaryReactor* ReferralGrpcService::RunCommand(grpc::CallbackServerContext* context,
                                                          const google::protobuf::Message& request,
                                                          const std::string& key,
                                                          int64_t expected_version,
                                                          domain::ReferralCommand command,
                                                          v1::CommandResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  app::CommandContext command_context = es::rpc::CommandContextFrom(*context, request, key);
  command_context.expected_version = expected_version;
  if (expected_version < 0) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "expected_version: must not be negative"));
    return reactor;
  }
  service_.Execute(std::move(command), std::move(command_context),
                   [reactor, response](absl::StatusOr<app::CommandResult> result) {
                     if (!result.ok()) {
                       reactor->Finish(es::rpc::ToGrpcStatus(result.status()));
                       return;
                     }
                     response->set_referral_id(result->stream_id);
                     response->set_version(result->version);
                     response->set_replayed(result->replayed);
                     reactor->Finish(grpc::Status::OK);
                   });
  return reactor;
}

grpc::ServerUnaryReactor* ReferralGrpcService::SubmitReferral(
    grpc::CallbackServerContext* context, const v1::SubmitReferralRequest* request,
    v1::CommandResponse* response) {
  domain::SubmitReferral command;
  // Without a client-chosen id, the id follows from the idempotency key, so a retried submit
  // addresses the same referral.
  command.referral_id = request->referral_id().empty() && !request->idempotency_key().empty()
                            ? es::NameUuid("referral", request->idempotency_key())
                            : request->referral_id();
  command.patient = request->patient();
  command.referrer = request->referrer();
  command.receiving_unit = request->receiving_unit();
  command.received_at = TimeOr(request->received_at(), request->has_received_at());
  command.reason = request->reason();
  command.suspected_condition = request->suspected_condition();
  command.priority = request->priority();
  if (request->has_municipal_contact()) command.municipal_contact = request->municipal_contact();
  return RunCommand(context, *request, request->idempotency_key(), 0, std::move(command), response);
}

grpc::ServerUnaryReactor* ReferralGrpcService::AssessReferral(
    grpc::CallbackServerContext* context, const v1::AssessReferralRequest* request,
    v1::CommandResponse* response) {
  domain::AssessReferral command{request->referral_id(), request->assessment()};
  if (command.assessment.assessed_by().empty()) {
    command.assessment.set_assessed_by(es::rpc::ActorFrom(*context).subject());
  }
  return RunCommand(context, *request, request->idempotency_key(), request->expected_version(),
                    std::move(command), response);
}

grpc::ServerUnaryReactor* ReferralGrpcService::CorrectAssessment(
    grpc::CallbackServerContext* context, const v1::CorrectAssessmentRequest* request,
    v1::CommandResponse* response) {
  domain::CorrectAssessment command{request->referral_id(), request->assessment(),
                                    request->reason()};
  if (command.assessment.assessed_by().empty()) {
    command.assessment.set_assessed_by(es::rpc::ActorFrom(*context).subject());
  }
  return RunCommand(context, *request, request->idempotency_key(), request->expected_version(),
                    std::move(command), response);
}

grpc::ServerUnaryReactor* ReferralGrpcService::AssignCoordinator(
    grpc::CallbackServerContext* context, const v1::AssignCoordinatorRequest* request,
    v1::CommandResponse* response) {
  domain::AssignCoordinator command{
      request->referral_id(), request->coordinator_id(), request->coordinator_name(),
      request->has_assigned_at() ? es::FromProtoTimestamp(request->assigned_at()) : clock_.Now()};
  return RunCommand(context, *request, request->idempotency_key(), request->expected_version(),
                    std::move(command), response);
}

grpc::ServerUnaryReactor* ReferralGrpcService::WithdrawReferral(
    grpc::CallbackServerContext* context, const v1::WithdrawReferralRequest* request,
    v1::CommandResponse* response) {
  domain::WithdrawReferral command{
      request->referral_id(), request->reason(),
      request->has_withdrawn_at() ? es::FromProtoTimestamp(request->withdrawn_at()) : clock_.Now()};
  return RunCommand(context, *request, request->idempotency_key(), request->expected_version(),
                    std::move(command), response);
}

grpc::ServerUnaryReactor* ReferralGrpcService::GetReferral(grpc::CallbackServerContext* context,
                                                           const v1::GetReferralRequest* request,
                                                           v1::Referral* response) {
  absl::StatusOr<v1::Referral> referral = service_.Get(request->referral_id());
  if (referral.ok()) {
    // Reads of patient data are audited: who read which referral (never the patient's id).
    es::rpc::AuditRead(audit_, *context, "GetReferral", {{"referral_id", request->referral_id()}});
    *response = std::move(*referral);
  }
  return Finish(context, referral.status());
}

grpc::ServerUnaryReactor* ReferralGrpcService::ListReferrals(
    grpc::CallbackServerContext* context, const v1::ListReferralsRequest* request,
    v1::ListReferralsResponse* response) {
  absl::StatusOr<app::Page> page = service_.List(request->unit(), request->status(),
                                                 request->page_size(), request->page_token());
  if (page.ok()) {
    es::rpc::AuditRead(
        audit_, *context, "ListReferrals",
        {{"unit_listed", request->unit()}, {"count", std::to_string(page->referrals.size())}});
    for (v1::Referral& referral : page->referrals) *response->add_referrals() = std::move(referral);
    response->set_next_page_token(page->next_page_token);
  }
  return Finish(context, page.status());
}

grpc::ServerUnaryReactor* ReferralGrpcService::GetAssessmentWorklist(
    grpc::CallbackServerContext* context, const v1::GetAssessmentWorklistRequest* request,
    v1::AssessmentWorklistResponse* response) {
  absl::Time as_of = request->has_as_of() ? es::FromProtoTimestamp(request->as_of()) : clock_.Now();
  absl::StatusOr<app::WorklistPage> page = service_.AssessmentWorklist(
      request->unit(), as_of, request->page_size(), request->page_token());
  if (page.ok()) {
    es::rpc::AuditRead(
        audit_, *context, "GetAssessmentWorklist",
        {{"unit_listed", request->unit()}, {"count", std::to_string(page->items.size())}});
    for (app::WorklistItem& item : page->items) {
      v1::AssessmentWorklistItem& out = *response->add_items();
      *out.mutable_assessment_deadline() = item.referral.assessment_deadline();
      out.set_overdue(item.overdue);
      out.set_working_days_left(item.working_days_left);
      *out.mutable_referral() = std::move(item.referral);
    }
    response->set_next_page_token(page->next_page_token);
    *response->mutable_as_of_date() = es::ToProtoDate(page->as_of);
  }
  return Finish(context, page.status());
}

}  // namespace referral::api
