#include <cstdlib>
#include <iostream>

#include "libs/runtime/signals.h"
#include "services/notify/config.h"
#include "services/notify/server.h"

int main(int argc, char** argv) {
  es::runtime::BlockTerminationSignals();
  std::string help;
  absl::StatusOr<notify::Config> config = notify::Config::FromArgs(argc, argv, &help);
  if (!help.empty()) {
    std::cout << help;
    return EXIT_SUCCESS;
  }
  if (!config.ok()) {
    std::cerr << "notify-server: " << config.status().message() << "\n";
    return 2;
  }
  return notify::RunUntilSignalled(*config);
}
