#pragma once

// Wiring of the notify service: the one place that builds every part from the Config, owns
// their lifetimes and stops them in order. Tests start the same NotifyServer.

#include <memory>

#include "absl/status/statusor.h"
#include "libs/eventing/clock.h"
#include "services/notify/config.h"

namespace notify {

namespace app {
class NotifyService;
class Dispatcher;
}  // namespace app

class NotifyServer {
 public:
  // Loads the catalogue, opens the data directory, starts the relay, the consumer of pathway
  // and referral events, the dispatcher and gRPC. SERVING once the consumer has caught up.
  // `clock` (optional, not owned) replaces the system clock in tests.
  static absl::StatusOr<std::unique_ptr<NotifyServer>> Start(const Config& config,
                                                             const es::Clock* clock = nullptr);
  ~NotifyServer();

  int port() const;
  bool ready() const;
  app::NotifyService& service();
  app::Dispatcher& dispatcher();
  // Drain: NOT_SERVING, end open streams, finish calls, stop the dispatcher and the consumer,
  // flush the outbox, close RocksDB. Idempotent.
  void Shutdown();

  struct Parts;

 private:
  explicit NotifyServer(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

int RunUntilSignalled(const Config& config);

}  // namespace notify
