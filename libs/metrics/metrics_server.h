#pragma once

// Prometheus metrics of one service process, served as text at http://<listen>/metrics.
//
// What is measured lives where it happens, as plain counters (EventStore, OutboxRelay,
// ProjectionConsumer keep their own stats); this library only turns them into Prometheus
// families when scraped (AddCounter/AddGauge callbacks), plus gRPC request counts and latencies
// from a server interceptor (GrpcInterceptors). Thread-safe.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/support/server_interceptor.h"
#include "prometheus/registry.h"

namespace es::metrics {

using Labels = std::map<std::string, std::string>;

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // A value read at every scrape. Counters must never decrease.
  void AddCounter(const std::string& name, const std::string& help, Labels labels,
                  std::function<double()> read);
  void AddGauge(const std::string& name, const std::string& help, Labels labels,
                std::function<double()> read);

  // For grpc::ServerBuilder::experimental().SetInterceptorCreators: counts every call by
  // service, method and status code (grpc_server_handled_total) and times it
  // (grpc_server_handling_seconds), the names the Go and Java gRPC exporters use.
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
  GrpcInterceptors();

  // Serves /metrics on `listen` ("HOST:PORT"; port 0 picks one). kUnavailable when the
  // address cannot be bound.
  absl::Status Serve(const std::string& listen);
  int port() const;    // 0 when not serving
  void StopServing();  // idempotent

  prometheus::Registry& registry() { return *registry_; }
  // The text a scrape returns (for tests and logs).
  std::string Render() const;

 private:
  class Callbacks;
  class Impl;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<Callbacks> callbacks_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace es::metrics
