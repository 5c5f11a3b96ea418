#pragma once

// The caller of an RPC as the services see it, and the audit line for reads of patient data.
// Authentication is off in this version (loopback deployments): the caller names itself in
// metadata x-actor-id, x-actor-role, x-actor-unit; x-correlation-id is carried through.
// The shape (an actor on every command, an audit line on every read) is ready for mTLS or
// bearer tokens.

#include <grpcpp/grpcpp.h>

#include <initializer_list>
#include <string>

#include "google/protobuf/message.h"
#include "libs/eventing/command_context.h"
#include "libs/runtime/log.h"

namespace es::rpc {

std::string MetadataValue(const grpc::CallbackServerContext& context, const std::string& name);

eventing::v1::Actor ActorFrom(const grpc::CallbackServerContext& context);

// Actor, idempotency key, correlation id and a fingerprint of `request` (full method name +
// its bytes), so a key reused for a different request is refused.
app::CommandContext CommandContextFrom(const grpc::CallbackServerContext& context,
                                       const google::protobuf::Message& request,
                                       const std::string& idempotency_key);

// One audit line: who read what (never the patient's id).
void AuditRead(const runtime::Logger& audit, const grpc::CallbackServerContext& context,
               const std::string& action, std::initializer_list<runtime::LogField> what);

}  // namespace es::rpc
