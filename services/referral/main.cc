#include <cstdlib>
#include <iostream>

#include "libs/runtime/signals.h"
#include "services/referral/config.h"
#include "services/referral/server.h"

int main(int argc, char** argv) {
  es::runtime::BlockTerminationSignals();
  std::string help;
  absl::StatusOr<referral::Config> config = referral::Config::FromArgs(argc, argv, &help);
  if (!help.empty()) {
    std::cout << help;
    return EXIT_SUCCESS;
  }
  if (!config.ok()) {
    std::cerr << "referral-server: " << config.status().message() << "\n";
    return 2;
  }
  return referral::RunUntilSignalled(*config);
}
