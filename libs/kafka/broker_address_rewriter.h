// Kafka wire-protocol helper for the embedded broker's forwarder: replaces the broker ports that
// Metadata and FindCoordinator responses advertise, so that clients only ever learn forwarder
// addresses, which stay the same when the mock cluster behind them is replaced.

#ifndef LIBS_KAFKA_BROKER_ADDRESS_REWRITER_H_
#define LIBS_KAFKA_BROKER_ADDRESS_REWRITER_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_set>

namespace es::kafka {

// Follows one client connection's two byte streams (Kafka frames: an int32 size, then for
// requests api_key, api_version, correlation_id; for responses correlation_id). Responses to
// Metadata (api key 3) and FindCoordinator (api key 10) requests are held back until complete,
// and every `host` string followed by a port listed in `ports` gets the replacement port. The
// host string and the port have the same length in every protocol version, so frame sizes never
// change. Every other byte passes through untouched and unbuffered.
//
// A stream that is not valid Kafka framing switches the rewriter to plain pass-through.
// Not thread-safe: one instance per connection, used by the thread that pipes it.
class BrokerAddressRewriter {
 public:
  // `ports`: advertised port -> port to advertise instead, for brokers advertised as `host`.
  BrokerAddressRewriter(std::string host, std::map<int32_t, int32_t> ports);

  // Bytes the client sent, in order (forwarded unchanged by the caller).
  void OnClientBytes(std::string_view data);

  // Bytes the broker sent, in order; appends what the client should receive to `out`.
  void OnBrokerBytes(std::string_view data, std::string* out);

  // Rewrites every advertised address in one complete response frame. Exposed for tests.
  void RewriteFrame(std::string* frame) const;

 private:
  // Largest response frame held back for rewriting; anything larger breaks the framing contract
  // for these APIs and switches to pass-through.
  static constexpr int64_t kMaxHeldFrame = 64 << 20;

  const std::string host_;
  const std::map<int32_t, int32_t> ports_;
  bool pass_through_ = false;
  std::unordered_set<int32_t> pending_;  // correlation ids whose responses get rewritten

  // Request stream: the first 12 bytes of the current frame, then how much of it to skip.
  std::string request_header_;
  int64_t request_left_ = 0;

  // Response stream: the first 8 bytes of the current frame, then its remaining body.
  std::string response_header_;
  int64_t response_left_ = 0;
  bool holding_ = false;
  std::string held_;
};

}  // namespace es::kafka

#endif  // LIBS_KAFKA_BROKER_ADDRESS_REWRITER_H_
