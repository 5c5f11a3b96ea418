#pragma once

// The body of every service's RunUntilSignalled: start the server, wait for SIGTERM or SIGINT
// (blocked in main() before any thread started), drain, and return the exit code.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "libs/runtime/log.h"
#include "libs/runtime/signals.h"

namespace es::host {

// Server: static StatusOr<unique_ptr<Server>> Start(const Config&); void Shutdown().
template <typename Server, typename Config>
int RunUntilSignalled(const Config& config, const std::string& service) {
  runtime::Logger log(service + ".main");
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config);
  if (!server.ok()) {
    log.Error("start failed", {{"reason", std::string(server.status().message())}});
    return 1;
  }
  int signal_number = runtime::WaitForTerminationSignal();
  log.Info("signal received", {{"signal", std::to_string(signal_number)}});
  (*server)->Shutdown();
  return 0;
}

}  // namespace es::host
