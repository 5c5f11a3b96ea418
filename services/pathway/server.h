#pragma once

// Wiring of the pathway service: the one place that builds every part from the Config, owns
// their lifetimes and stops them in order. Tests start the same PathwayServer.

#include <memory>

#include "absl/status/statusor.h"
#include "libs/eventing/clock.h"
#include "services/pathway/config.h"

namespace pathway {

namespace app {
class PathwayService;
class DeadlineTimer;
}  // namespace app

class PathwayServer {
 public:
  // Loads the catalogue (a broken file stops start-up with file, line and field), opens the
  // data directory, starts the relay, the referral policy consumer, the deadline timer and
  // gRPC. Health is SERVING once the policy consumer has caught up. `clock` (optional, not
  // owned) replaces the system clock in tests.
  static absl::StatusOr<std::unique_ptr<PathwayServer>> Start(const Config& config,
                                                              const es::Clock* clock = nullptr);
  ~PathwayServer();

  int port() const;
  bool ready() const;
  app::PathwayService& service();
  app::DeadlineTimer& timer();
  // Drain: NOT_SERVING, finish calls, stop the timer and the consumer (its last batch and
  // offsets written), flush the outbox, close RocksDB. Idempotent.
  void Shutdown();

  struct Parts;

 private:
  explicit PathwayServer(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

int RunUntilSignalled(const Config& config);

}  // namespace pathway
