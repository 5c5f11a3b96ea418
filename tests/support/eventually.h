#pragma once

// Waiting in tests for something another thread or process brings about.

#include <chrono>
#include <functional>
#include <thread>

namespace es::testing {

// Polls `condition` every 50 ms until it holds or `timeout` passes; true when it held.
inline bool Eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace es::testing
