// An in-process Kafka broker for development and tests: librdkafka's mock cluster behind TCP
// forwarders that give it stable addresses.
//
// librdkafka's mock brokers always listen on ports chosen by the kernel. Here every client byte
// goes through a forwarder listening on a stable address per broker, and the forwarder rewrites
// the broker ports in Metadata and FindCoordinator responses to those addresses, so clients
// never learn a mock port. Broker 1 is reachable at the bootstrap address itself, broker i at
// bootstrap_port + i - 1 (kernel-chosen ports when bootstrap_port is 0). The addresses survive
// RestartEmpty(), and a restarted broker process with the same configuration has the same ones,
// which is what lets long-lived clients, group consumers included, carry on (the .cc explains
// what librdkafka does otherwise). The mock advertises host 127.0.0.1, so only clients on this
// host can use the broker.
//
// What the mock cannot do (see facts.md): Admin API, TLS/SASL, compaction, read_committed; it keeps
// only ~5 MiB per partition and nothing across a restart.

#ifndef LIBS_KAFKA_EMBEDDED_BROKER_H_
#define LIBS_KAFKA_EMBEDDED_BROKER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace es::kafka {

// A topic to create with an exact partition count.
struct TopicSpec {
  std::string name;
  int partitions = 1;

  friend bool operator==(const TopicSpec&, const TopicSpec&) = default;
};

// Parses "name:partitions,name:partitions". Whitespace around names, numbers, colons and commas is
// ignored; an empty or all-blank text is an empty list. Names must be legal Kafka topic names
// ([A-Za-z0-9._-], at most 249 characters), partitions an integer in [1, 10000], and names unique.
// Returns kInvalidArgument naming the offending entry otherwise.
absl::StatusOr<std::vector<TopicSpec>> ParseTopicSpecs(std::string_view text);

struct EmbeddedBrokerOptions {
  // Where the forwarders listen: 127.0.0.1 (or a name for it) or a wildcard address, because
  // the brokers are advertised as 127.0.0.1.
  std::string listen_host = "127.0.0.1";
  // Bootstrap address port, which is also broker 1's; broker i listens on bootstrap_port + i - 1.
  // 0 = ports chosen by the kernel.
  int bootstrap_port = 0;
  int num_brokers = 1;  // mock brokers, ids 1..num_brokers (at most 16); replication min(n, 3)
  std::vector<TopicSpec> topics;  // created before the forwarders accept their first connection
};

// librdkafka's mock cluster behind forwarders on stable addresses, so that clients in this and
// other processes (kcat, services) keep working across RestartEmpty() and SetAvailable().
//
// Thread-safe: every method may be called from any thread. The destructor must not race with
// other calls; it returns at once and the old cluster is destroyed in the background (a
// process-wide helper waits for that at exit).
class EmbeddedBroker {
 public:
  // Binds the forwarders, creates the cluster and `options.topics`, then starts accepting.
  // Returns kInvalidArgument for bad options, kAlreadyExists when a listen address is in use,
  // kInternal/kUnavailable when sockets or the mock cluster cannot be set up.
  static absl::StatusOr<std::unique_ptr<EmbeddedBroker>> Start(EmbeddedBrokerOptions options);

  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  // Stops the forwarders (closing forwarded connections) and takes the cluster down.
  ~EmbeddedBroker();

  // "HOST:PORT" of the bootstrap forwarder, e.g. "127.0.0.1:9092"; a wildcard listen host is
  // reported as 127.0.0.1. Stable for the lifetime of this object.
  std::string bootstrap_servers() const;

  // The configured topics (as created on every (re)start).
  const std::vector<TopicSpec>& topics() const { return options_.topics; }

  // Replaces the mock cluster with a new, empty one with the same topics behind the same
  // addresses (simulates a broker that lost everything: data, groups, committed offsets,
  // producer ids). Every connection is closed; the new cluster is available even if
  // SetAvailable(false) was in effect. Connected clients reconnect by themselves; consumers
  // positioned beyond the new, empty logs get OFFSET_OUT_OF_RANGE and follow auto.offset.reset.
  // Returns kInternal if the new cluster cannot be created; the broker is then unusable.
  absl::Status RestartEmpty();

  // All brokers down (false) or up (true) via rd_kafka_mock_broker_set_down/up: connections are
  // closed and clients see connection failures while down. Data is kept.
  // Returns kFailedPrecondition if an earlier RestartEmpty() failed.
  absl::Status SetAvailable(bool available);

 private:
  class Impl;
  EmbeddedBroker(EmbeddedBrokerOptions options, std::unique_ptr<Impl> impl);

  const EmbeddedBrokerOptions options_;
  const std::unique_ptr<Impl> impl_;
};

}  // namespace es::kafka

#endif  // LIBS_KAFKA_EMBEDDED_BROKER_H_
