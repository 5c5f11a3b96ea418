#pragma once

// gRPC adapter of the pathway service (callback API): requests to commands and queries, results
// and statuses back. Handlers never block on a write. Thread-safe.

#include <grpcpp/grpcpp.h>

#include "libs/rpc/arena_allocator.h"
#include "libs/runtime/log.h"
#include "pathway/v1/service.grpc.pb.h"
#include "services/pathway/app/pathway_service.h"

namespace pathway::api {

class PathwayGrpcService final : public v1::PathwayService::CallbackService {
 public:
  explicit PathwayGrpcService(app::PathwayService& service) : service_(service) {
    // The list answers are pages of many small messages: build them on a per-call arena.
    SetMessageAllocatorFor_GetWorklist(&worklist_allocator_);
    SetMessageAllocatorFor_ListBreaches(&breaches_allocator_);
  }

  grpc::ServerUnaryReactor* StartPathway(grpc::CallbackServerContext*,
                                         const v1::StartPathwayRequest*,
                                         v1::CommandResponse*) override;
  grpc::ServerUnaryReactor* RecordPoint(grpc::CallbackServerContext*, const v1::RecordPointRequest*,
                                        v1::CommandResponse*) override;
  grpc::ServerUnaryReactor* CorrectPoint(grpc::CallbackServerContext*,
                                         const v1::CorrectPointRequest*,
                                         v1::CommandResponse*) override;
  grpc::ServerUnaryReactor* ScheduleAppointment(grpc::CallbackServerContext*,
                                                const v1::ScheduleAppointmentRequest*,
                                                v1::CommandResponse*) override;
  grpc::ServerUnaryReactor* RecordAttendance(grpc::CallbackServerContext*,
                                             const v1::RecordAttendanceRequest*,
                                             v1::CommandResponse*) override;
  grpc::ServerUnaryReactor* ScheduleCollaborationMeeting(
      grpc::CallbackServerContext*, const v1::ScheduleCollaborationMeetingRequest*,
      v1::CommandResponse*) override;
  grpc::ServerUnaryReactor* RecordCollaborationMeetingHeld(
      grpc::CallbackServerContext*, const v1::RecordCollaborationMeetingHeldRequest*,
      v1::CommandResponse*) override;
  grpc::ServerUnaryReactor* AssignCoordinator(grpc::CallbackServerContext*,
                                              const v1::AssignPathwayCoordinatorRequest*,
                                              v1::CommandResponse*) override;
  grpc::ServerUnaryReactor* TransferPathway(grpc::CallbackServerContext*,
                                            const v1::TransferPathwayRequest*,
                                            v1::CommandResponse*) override;
  grpc::ServerUnaryReactor* EndPathway(grpc::CallbackServerContext*, const v1::EndPathwayRequest*,
                                       v1::CommandResponse*) override;
  grpc::ServerUnaryReactor* GetPathway(grpc::CallbackServerContext*, const v1::GetPathwayRequest*,
                                       v1::Pathway*) override;
  grpc::ServerUnaryReactor* GetWorklist(grpc::CallbackServerContext*, const v1::GetWorklistRequest*,
                                        v1::WorklistResponse*) override;
  grpc::ServerUnaryReactor* ListBreaches(grpc::CallbackServerContext*,
                                         const v1::ListBreachesRequest*,
                                         v1::ListBreachesResponse*) override;
  grpc::ServerUnaryReactor* ListPatientPathways(grpc::CallbackServerContext*,
                                                const v1::ListPatientPathwaysRequest*,
                                                v1::ListPatientPathwaysResponse*) override;

 private:
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* context,
                                const google::protobuf::Message& request, const std::string& key,
                                int64_t expected_version, domain::PathwayCommand command,
                                v1::CommandResponse* response);

  app::PathwayService& service_;
  es::runtime::Logger audit_{"pathway.audit"};
  es::rpc::ArenaMessageAllocator<v1::GetWorklistRequest, v1::WorklistResponse> worklist_allocator_;
  es::rpc::ArenaMessageAllocator<v1::ListBreachesRequest, v1::ListBreachesResponse>
      breaches_allocator_;
};

}  // namespace pathway::api
