#pragma once

// The server side of the benchmarks, run in child processes (see child_process.h). Every group
// binary calls RunServerMode() first: with --serve=MODE it runs that server and returns its exit
// code, otherwise nullopt and the binary goes on as the client.
//
//   --serve=broker         an EmbeddedBroker with the pathway, referral and dead-letter topics;
//                          the ready file gets its bootstrap address
//   --serve=pathway        a PathwayServer on --data-dir, Kafka at --kafka, WAL synced, block
//                          cache --block-cache-mb and memtables --write-buffer-mb, clock fixed
//                          at the data sets' anchor day; the ready file gets its gRPC port once
//                          it is SERVING
//   --serve=bare-worklist  the ceiling: the same PathwayService on the project's GrpcServer
//                          (callback API), whose GetWorklist answers at once with a prepared
//                          page of 50 entries; the ready file gets its port

#include <optional>
#include <string>
#include <vector>

namespace bench {

std::optional<int> RunServerMode(int argc, char** argv);

// The child arguments for the pathway server.
std::vector<std::string> PathwayServerArgs(const std::string& data_dir, const std::string& kafka,
                                           int block_cache_mb, int write_buffer_mb);

}  // namespace bench
