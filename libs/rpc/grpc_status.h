#pragma once

// absl::Status and grpc::Status share their codes (checked against gRPC 1.51): a cast suffices.

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace es::rpc {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace es::rpc
