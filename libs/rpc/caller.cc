#include "libs/rpc/caller.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/eventing/ids.h"

namespace es::rpc {

std::string MetadataValue(const grpc::CallbackServerContext& context, const std::string& name) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(name);
  if (it == metadata.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

eventing::v1::Actor ActorFrom(const grpc::CallbackServerContext& context) {
  eventing::v1::Actor actor;
  actor.set_subject(MetadataValue(context, "x-actor-id"));
  if (actor.subject().empty()) actor.set_subject("anonymous");
  actor.set_role(MetadataValue(context, "x-actor-role"));
  actor.set_organisation(MetadataValue(context, "x-actor-unit"));
  return actor;
}

app::CommandContext CommandContextFrom(const grpc::CallbackServerContext& context,
                                       const google::protobuf::Message& request,
                                       const std::string& idempotency_key) {
  app::CommandContext command_context;
  command_context.actor = ActorFrom(context);
  command_context.idempotency_key = idempotency_key;
  command_context.fingerprint = Sha256Hex(
      absl::StrCat(request.GetDescriptor()->full_name(), "\n", request.SerializeAsString()));
  command_context.correlation_id = MetadataValue(context, "x-correlation-id");
  return command_context;
}

void AuditRead(const runtime::Logger& audit, const grpc::CallbackServerContext& context,
               const std::string& action, std::initializer_list<runtime::LogField> what) {
  eventing::v1::Actor actor = ActorFrom(context);
  std::vector<runtime::LogField> fields = {{"action", action},
                                           {"actor", actor.subject()},
                                           {"role", actor.role()},
                                           {"unit", actor.organisation()}};
  fields.insert(fields.end(), what.begin(), what.end());
  audit.At(runtime::LogLevel::kInfo, "patient data read", fields);
}

}  // namespace es::rpc
