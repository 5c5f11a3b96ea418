#include <cstdlib>
#include <iostream>

#include "libs/runtime/signals.h"
#include "services/pathway/config.h"
#include "services/pathway/server.h"

int main(int argc, char** argv) {
  es::runtime::BlockTerminationSignals();
  std::string help;
  absl::StatusOr<pathway::Config> config = pathway::Config::FromArgs(argc, argv, &help);
  if (!help.empty()) {
    std::cout << help;
    return EXIT_SUCCESS;
  }
  if (!config.ok()) {
    std::cerr << "pathway-server: " << config.status().message() << "\n";
    return 2;
  }
  return pathway::RunUntilSignalled(*config);
}
