#pragma once

// SIGTERM / SIGINT handling for services: block them in every thread at start-up, then wait for
// one on the main thread, which then drains the service in order.

namespace es::runtime {

// Call first in main(), before any thread starts, so every thread inherits the mask.
void BlockTerminationSignals();
// Blocks until SIGTERM or SIGINT arrives; returns the signal number.
int WaitForTerminationSignal();

}  // namespace es::runtime
