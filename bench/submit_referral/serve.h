#pragma once

// The server side of the benchmark, run in a child process (bench/common/child_process.h): it
// writes its gRPC port to `ready_file` when ready and serves until its stdin reaches end of file,
// which happens when the parent closes the pipe or dies, so no server outlives a benchmark run.

#include <string>

namespace bench {

// The ceiling: the same ReferralService and message types, served by the project's GrpcServer
// setup (callback API, port sharing off), whose SubmitReferral answers at once with a filled
// CommandResponse. Returns the process exit code.
int ServeBare(const std::string& ready_file);

// The real thing: an EmbeddedBroker (port 0) with the referral topic, and a ReferralServer on a
// fresh data directory under /tmp with the WAL synced. Returns the process exit code.
int ServeReferral(const std::string& ready_file);

}  // namespace bench
