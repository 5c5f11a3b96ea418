#include "libs/kafka/broker_address_rewriter.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace es::kafka {
namespace {

constexpr int16_t kProduce = 0;
constexpr int16_t kFetch = 1;
constexpr int16_t kMetadata = 3;
constexpr int16_t kFindCoordinator = 10;
constexpr int32_t kMockPort = 40001;
constexpr int32_t kStablePort = 9092;

std::string Int16(int16_t v) {
  return {static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}

std::string Int32(int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  return {static_cast<char>(u >> 24), static_cast<char>(u >> 16), static_cast<char>(u >> 8),
          static_cast<char>(u)};
}

std::string Frame(const std::string& body) {
  return Int32(static_cast<int32_t>(body.size())) + body;
}

std::string Request(int16_t api_key, int32_t correlation_id, const std::string& rest = "") {
  return Frame(Int16(api_key) + Int16(/*api_version=*/2) + Int32(correlation_id) + Int16(4) +
               "test" + rest);
}

// A broker entry as in Metadata v1-v8 (int16-prefixed host) or v9+ (compact string: varint
// length + 1), without the surrounding arrays: enough for the rewriter, which never parses
// the layout.
std::string LegacyBroker(int32_t node, const std::string& host, int32_t port) {
  return Int32(node) + Int16(static_cast<int16_t>(host.size())) + host + Int32(port) + Int16(-1);
}

std::string CompactBroker(int32_t node, const std::string& host, int32_t port) {
  return Int32(node) + std::string(1, static_cast<char>(host.size() + 1)) + host + Int32(port) +
         std::string(1, '\0');
}

std::string Response(int32_t correlation_id, const std::string& body) {
  return Frame(Int32(correlation_id) + body);
}

BrokerAddressRewriter MakeRewriter() {
  return BrokerAddressRewriter("127.0.0.1", {{kMockPort, kStablePort}, {40002, 9093}});
}

// Feeds `responses` in pieces of `chunk` bytes and returns what the client would receive.
std::string FeedBroker(BrokerAddressRewriter& rewriter, const std::string& responses,
                       size_t chunk) {
  std::string out;
  for (size_t at = 0; at < responses.size(); at += chunk) {
    rewriter.OnBrokerBytes(std::string_view(responses).substr(at, chunk), &out);
  }
  return out;
}

void FeedClient(BrokerAddressRewriter& rewriter, const std::string& requests, size_t chunk) {
  for (size_t at = 0; at < requests.size(); at += chunk) {
    rewriter.OnClientBytes(std::string_view(requests).substr(at, chunk));
  }
}

TEST(BrokerAddressRewriter, GivenMetadataResponse_WhenRelayedInAnyChunking_ThenMockPortsReplaced) {
  const std::string requests = Request(kMetadata, 7);
  const std::string response =
      Response(7, Int32(2) + LegacyBroker(1, "127.0.0.1", kMockPort) +
                      LegacyBroker(2, "127.0.0.1", 40002) + Int16(0) + "rest-of-metadata");
  const std::string expected =
      Response(7, Int32(2) + LegacyBroker(1, "127.0.0.1", kStablePort) +
                      LegacyBroker(2, "127.0.0.1", 9093) + Int16(0) + "rest-of-metadata");

  for (size_t chunk = 1; chunk <= response.size(); ++chunk) {
    BrokerAddressRewriter rewriter = MakeRewriter();
    FeedClient(rewriter, requests, chunk);
    EXPECT_EQ(FeedBroker(rewriter, response, chunk), expected) << "chunk " << chunk;
  }
}

TEST(BrokerAddressRewriter, GivenFlexibleFindCoordinatorResponse_WhenRelayed_ThenPortReplaced) {
  BrokerAddressRewriter rewriter = MakeRewriter();
  rewriter.OnClientBytes(Request(kFindCoordinator, 42));

  const std::string out = FeedBroker(
      rewriter, Response(42, Int32(0) + Int16(0) + CompactBroker(1, "127.0.0.1", kMockPort)), 5);

  EXPECT_EQ(out, Response(42, Int32(0) + Int16(0) + CompactBroker(1, "127.0.0.1", kStablePort)));
}

TEST(BrokerAddressRewriter, GivenFetchResponseContainingAnAddress_WhenRelayed_ThenUntouched) {
  BrokerAddressRewriter rewriter = MakeRewriter();
  rewriter.OnClientBytes(Request(kFetch, 1));
  // Record bytes that happen to look like an advertised broker must never be changed.
  const std::string fetch_response = Response(1, "payload 127.0.0.1" + Int32(kMockPort));

  EXPECT_EQ(FeedBroker(rewriter, fetch_response, 3), fetch_response);
}

TEST(BrokerAddressRewriter,
     GivenPipelinedRequests_WhenResponsesArriveInOrder_ThenOnlyMetadataChanged) {
  BrokerAddressRewriter rewriter = MakeRewriter();
  FeedClient(rewriter,
             Request(kProduce, 1, "records") + Request(kMetadata, 2) + Request(kFetch, 3) +
                 Request(kMetadata, 4),
             7);
  const std::string untouched = "127.0.0.1" + Int32(kMockPort);
  const std::string responses =
      Response(1, untouched) + Response(2, LegacyBroker(1, "127.0.0.1", kMockPort)) +
      Response(3, untouched) + Response(4, LegacyBroker(2, "127.0.0.1", 40002));

  EXPECT_EQ(FeedBroker(rewriter, responses, 4),
            Response(1, untouched) + Response(2, LegacyBroker(1, "127.0.0.1", kStablePort)) +
                Response(3, untouched) + Response(4, LegacyBroker(2, "127.0.0.1", 9093)));
}

TEST(BrokerAddressRewriter, GivenUnknownPortOrOtherHost_WhenRewritten_ThenLeftAlone) {
  const BrokerAddressRewriter rewriter = MakeRewriter();
  std::string frame = Response(1, LegacyBroker(1, "127.0.0.1", 12345) +
                                      LegacyBroker(2, "10.0.0.1", kMockPort) + "127.0.0.1");
  const std::string before = frame;

  rewriter.RewriteFrame(&frame);

  EXPECT_EQ(frame, before);
}

TEST(BrokerAddressRewriter, GivenMalformedFrameSize_WhenRelayed_ThenEverythingPassesThrough) {
  BrokerAddressRewriter rewriter = MakeRewriter();
  rewriter.OnClientBytes(Int32(-5) + "garbage");
  const std::string bytes = Response(9, LegacyBroker(1, "127.0.0.1", kMockPort));

  EXPECT_EQ(FeedBroker(rewriter, bytes, 2), bytes);
}

TEST(BrokerAddressRewriter, GivenEmptyResponseBodyToMetadata_WhenRelayed_ThenForwarded) {
  BrokerAddressRewriter rewriter = MakeRewriter();
  rewriter.OnClientBytes(Request(kMetadata, 5) + Request(kMetadata, 6));
  const std::string responses =
      Response(5, "") + Response(6, LegacyBroker(1, "127.0.0.1", kMockPort));

  EXPECT_EQ(FeedBroker(rewriter, responses, 1),
            Response(5, "") + Response(6, LegacyBroker(1, "127.0.0.1", kStablePort)));
}

}  // namespace
}  // namespace es::kafka
