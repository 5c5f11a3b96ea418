#pragma once

// Wiring of the referral service: the one place that builds every adapter from the Config,
// owns their lifetimes, and stops them in order. Tests start the same ReferralServer.

#include <memory>

#include "absl/status/statusor.h"
#include "libs/eventing/clock.h"
#include "services/referral/config.h"

namespace referral {

class ReferralServer {
 public:
  // Opens the data directory, starts the outbox relay and the gRPC server. `clock` (optional,
  // not owned) replaces the system clock in tests.
  static absl::StatusOr<std::unique_ptr<ReferralServer>> Start(const Config& config,
                                                               const es::Clock* clock = nullptr);
  ~ReferralServer();

  int port() const;
  // Drain: health NOT_SERVING, finish calls in flight, commit queued writes, flush the outbox
  // to Kafka (bounded by the drain timeout), close RocksDB. Idempotent.
  void Shutdown();

  struct Parts;

 private:
  explicit ReferralServer(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

// Runs until SIGTERM or SIGINT, then drains. Returns the process exit code.
int RunUntilSignalled(const Config& config);

}  // namespace referral
