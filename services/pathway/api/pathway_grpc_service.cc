#include "services/pathway/api/pathway_grpc_service.h"

#include "absl/strings/str_cat.h"
#include "libs/eventing/ids.h"
#include "libs/eventing/proto_time.h"
#include "libs/rpc/caller.h"
#include "libs/rpc/grpc_status.h"

namespace pathway::api {
namespace {

// Dates arrive as protos; a missing or impossible one is named, never normalised.
absl::StatusOr<absl::CivilDay> DateField(const eventing::v1::Date& date, bool present,
                                         const std::string& field) {
  if (!present) return absl::InvalidArgumentError(absl::StrCat(field, ": is required"));
  if (!es::IsValidProtoDate(date)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": is not a valid date"));
  }
  return es::FromProtoDate(date);
}

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, const absl::Status& s) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(es::rpc::ToGrpcStatus(s));
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* PathwayGrpcService::Run(grpc::CallbackServerContext* context,
                                                  const google::protobuf::Message& request,
                                                  const std::string& key, int64_t expected_version,
                                                  domain::PathwayCommand command,
                                                  v1::CommandResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (expected_version < 0) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "expected_version: must not be negative"));
    return reactor;
  }
  es::app::CommandContext command_context = es::rpc::CommandContextFrom(*context, request, key);
  command_context.expected_version = expected_version;
  service_.Execute(std::move(command), std::move(command_context),
                   [reactor, response](absl::StatusOr<es::app::CommandResult> result) {
                     if (!result.ok()) {
                       reactor->Finish(es::rpc::ToGrpcStatus(result.status()));
                       return;
                     }
                     response->set_pathway_id(result->stream_id);
                     response->set_version(result->version);
                     response->set_replayed(result->replayed);
                     reactor->Finish(grpc::Status::OK);
                   });
  return reactor;
}

grpc::ServerUnaryReactor* PathwayGrpcService::StartPathway(grpc::CallbackServerContext* context,
                                                           const v1::StartPathwayRequest* r,
                                                           v1::CommandResponse* response) {
  domain::StartPathway c;
  c.pathway_id = r->pathway_id().empty() && !r->idempotency_key().empty()
                     ? es::NameUuid("pathway", r->idempotency_key())
                     : r->pathway_id();
  c.pathway_type = r->pathway_type();
  c.unit = r->unit();
  c.patient = r->patient();
  c.setting = r->setting();
  for (const auto& [k, v] : r->conditions()) c.conditions[k] = v;
  absl::StatusOr<absl::CivilDay> start =
      DateField(r->start_date(), r->has_start_date(), "start_date");
  if (!start.ok()) return Finish(context, start.status());
  c.start_date = *start;
  if (r->has_legal_deadline()) {
    absl::StatusOr<absl::CivilDay> legal = DateField(r->legal_deadline(), true, "legal_deadline");
    if (!legal.ok()) return Finish(context, legal.status());
    c.legal_deadline = *legal;
  }
  c.coordinator_id = r->coordinator_id();
  c.referral_id = r->referral_id();
  c.today = service_.Today();
  return Run(context, *r, r->idempotency_key(), 0, std::move(c), response);
}

grpc::ServerUnaryReactor* PathwayGrpcService::RecordPoint(grpc::CallbackServerContext* context,
                                                          const v1::RecordPointRequest* r,
                                                          v1::CommandResponse* response) {
  absl::StatusOr<absl::CivilDay> date = DateField(r->date(), r->has_date(), "date");
  if (!date.ok()) return Finish(context, date.status());
  return Run(
      context, *r, r->idempotency_key(), r->expected_version(),
      domain::RecordPoint{r->pathway_id(), r->point_id(), r->outcome(), *date, service_.Today()},
      response);
}

grpc::ServerUnaryReactor* PathwayGrpcService::CorrectPoint(grpc::CallbackServerContext* context,
                                                           const v1::CorrectPointRequest* r,
                                                           v1::CommandResponse* response) {
  absl::StatusOr<absl::CivilDay> date = DateField(r->date(), r->has_date(), "date");
  if (!date.ok()) return Finish(context, date.status());
  return Run(context, *r, r->idempotency_key(), r->expected_version(),
             domain::CorrectPoint{r->pathway_id(), r->corrects_event_id(), *date, r->outcome(),
                                  r->reason(), service_.Today()},
             response);
}

grpc::ServerUnaryReactor* PathwayGrpcService::ScheduleAppointment(
    grpc::CallbackServerContext* context, const v1::ScheduleAppointmentRequest* r,
    v1::CommandResponse* response) {
  domain::ScheduleAppointment c{
      r->pathway_id(), r->appointment_id(),
      r->has_at() ? es::FromProtoTimestamp(r->at()) : absl::InfinitePast(), r->kind()};
  return Run(context, *r, r->idempotency_key(), 0, std::move(c), response);
}

grpc::ServerUnaryReactor* PathwayGrpcService::RecordAttendance(grpc::CallbackServerContext* context,
                                                               const v1::RecordAttendanceRequest* r,
                                                               v1::CommandResponse* response) {
  return Run(context, *r, r->idempotency_key(), 0,
             domain::RecordAttendance{r->pathway_id(), r->appointment_id(), r->attended()},
             response);
}

grpc::ServerUnaryReactor* PathwayGrpcService::ScheduleCollaborationMeeting(
    grpc::CallbackServerContext* context, const v1::ScheduleCollaborationMeetingRequest* r,
    v1::CommandResponse* response) {
  domain::ScheduleMeeting c{r->pathway_id(), r->meeting_id(),
                            r->has_at() ? es::FromProtoTimestamp(r->at()) : absl::InfinitePast(),
                            r->municipal_contact()};
  return Run(context, *r, r->idempotency_key(), 0, std::move(c), response);
}

grpc::ServerUnaryReactor* PathwayGrpcService::RecordCollaborationMeetingHeld(
    grpc::CallbackServerContext* context, const v1::RecordCollaborationMeetingHeldRequest* r,
    v1::CommandResponse* response) {
  absl::StatusOr<absl::CivilDay> date = DateField(r->date(), r->has_date(), "date");
  if (!date.ok()) return Finish(context, date.status());
  return Run(context, *r, r->idempotency_key(), 0,
             domain::RecordMeetingHeld{r->pathway_id(), r->meeting_id(), *date, service_.Today()},
             response);
}

grpc::ServerUnaryReactor* PathwayGrpcService::AssignCoordinator(
    grpc::CallbackServerContext* context, const v1::AssignPathwayCoordinatorRequest* r,
    v1::CommandResponse* response) {
  return Run(context, *r, r->idempotency_key(), 0,
             domain::AssignCoordinator{r->pathway_id(), r->coordinator_id()}, response);
}

grpc::ServerUnaryReactor* PathwayGrpcService::TransferPathway(grpc::CallbackServerContext* context,
                                                              const v1::TransferPathwayRequest* r,
                                                              v1::CommandResponse* response) {
  absl::StatusOr<absl::CivilDay> date = DateField(r->date(), r->has_date(), "date");
  if (!date.ok()) return Finish(context, date.status());
  return Run(context, *r, r->idempotency_key(), 0,
             domain::TransferPathway{r->pathway_id(), r->to_unit(), *date, service_.Today()},
             response);
}

grpc::ServerUnaryReactor* PathwayGrpcService::EndPathway(grpc::CallbackServerContext* context,
                                                         const v1::EndPathwayRequest* r,
                                                         v1::CommandResponse* response) {
  absl::StatusOr<absl::CivilDay> date = DateField(r->date(), r->has_date(), "date");
  if (!date.ok()) return Finish(context, date.status());
  return Run(context, *r, r->idempotency_key(), 0,
             domain::EndPathway{r->pathway_id(), r->reason(), *date, service_.Today()}, response);
}

grpc::ServerUnaryReactor* PathwayGrpcService::GetPathway(grpc::CallbackServerContext* context,
                                                         const v1::GetPathwayRequest* r,
                                                         v1::Pathway* response) {
  absl::StatusOr<v1::Pathway> pathway = service_.Get(r->pathway_id());
  if (pathway.ok()) {
    es::rpc::AuditRead(audit_, *context, "GetPathway", {{"pathway_id", r->pathway_id()}});
    *response = std::move(*pathway);
  }
  return Finish(context, pathway.status());
}

grpc::ServerUnaryReactor* PathwayGrpcService::GetWorklist(grpc::CallbackServerContext* context,
                                                          const v1::GetWorklistRequest* r,
                                                          v1::WorklistResponse* response) {
  app::WorklistQuery q;
  q.unit = r->unit();
  q.coordinator_id = r->coordinator_id();
  q.filter = r->filter();
  if (r->has_due_from()) {
    absl::StatusOr<absl::CivilDay> d = DateField(r->due_from(), true, "due_from");
    if (!d.ok()) return Finish(context, d.status());
    q.due_from = *d;
  }
  if (r->has_due_to()) {
    absl::StatusOr<absl::CivilDay> d = DateField(r->due_to(), true, "due_to");
    if (!d.ok()) return Finish(context, d.status());
    q.due_to = *d;
  }
  q.within_working_days = r->within_working_days();
  q.today = r->has_as_of() ? service_.DayOf(es::FromProtoTimestamp(r->as_of())) : service_.Today();
  q.page_size = r->page_size();
  q.page_token = r->page_token();
  absl::StatusOr<std::string> next = service_.Worklist(q, response->mutable_entries());
  if (!next.ok()) return Finish(context, next.status());
  response->set_next_page_token(*std::move(next));
  *response->mutable_today() = es::ToProtoDate(q.today);
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* PathwayGrpcService::ListBreaches(grpc::CallbackServerContext* context,
                                                           const v1::ListBreachesRequest* r,
                                                           v1::ListBreachesResponse* response) {
  absl::StatusOr<absl::CivilDay> from = DateField(r->from(), r->has_from(), "from");
  if (!from.ok()) return Finish(context, from.status());
  absl::StatusOr<absl::CivilDay> to = DateField(r->to(), r->has_to(), "to");
  if (!to.ok()) return Finish(context, to.status());
  absl::StatusOr<std::string> next = service_.Breaches(
      r->unit(), *from, *to, r->page_size(), r->page_token(), response->mutable_entries());
  if (!next.ok()) return Finish(context, next.status());
  response->set_next_page_token(*std::move(next));
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* PathwayGrpcService::ListPatientPathways(
    grpc::CallbackServerContext* context, const v1::ListPatientPathwaysRequest* r,
    v1::ListPatientPathwaysResponse* response) {
  absl::StatusOr<std::vector<v1::Pathway>> pathways = service_.PatientPathways(r->patient());
  if (pathways.ok()) {
    es::rpc::AuditRead(audit_, *context, "ListPatientPathways",
                       {{"count", std::to_string(pathways->size())}});
    for (v1::Pathway& p : *pathways) *response->add_pathways() = std::move(p);
  }
  return Finish(context, pathways.status());
}

}  // namespace pathway::api
