#pragma once

// Builds and runs a gRPC server with what every service carries: the standard health service,
// server reflection, no port sharing (a clash fails loudly instead of splitting traffic), and
// an ordered drain. Thread-safe.

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace es::rpc {

class GrpcServer {
 public:
  struct NamedService {
    grpc::Service* service;  // not owned; must outlive the server
    std::string name;        // full name for health checks, e.g. "referral.v1.ReferralService"
  };
  // `address` like "127.0.0.1:0" (port 0 picks a free port). kUnavailable when the address
  // cannot be bound.
  // `interceptors`: e.g. es::metrics::Metrics::GrpcInterceptors().
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const std::string& address, const std::vector<NamedService>& services,
      std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
          interceptors = {});
  ~GrpcServer();

  int port() const { return port_; }
  // Health for the overall server ("") and each service name.
  void SetServing(bool serving);
  // Health NOT_SERVING, then stop taking calls and wait up to `grace` for calls in flight.
  void Shutdown(absl::Duration grace);

 private:
  GrpcServer() = default;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::string> service_names_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace es::rpc
