// The webhook channel against a real HTTP server on 127.0.0.1: what it posts (JSON body,
// Idempotency-Key, configured headers) and how it reads the answer (2xx delivered; 4xx refused
// except 408/429; 5xx, 408, 429, timeouts and refused connections retryable).

#include "services/notify/channels/webhook_channel.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/services/notify/channels/test_http_server.h"
#include "tests/support/status_matchers.h"

namespace notify::channels {
namespace {

using es::testing::StatusIs;
using test_support::TestHttpServer;

v1::Notification Sample() {
  v1::Notification n;
  n.set_notification_id("breach:dl-42");
  n.set_status(v1::SCHEDULED);
  n.set_kind(v1::BREACH_ALERT);
  n.mutable_recipient()->set_role(v1::Recipient::COORDINATOR);
  n.mutable_recipient()->set_id("coord-1");
  n.mutable_recipient()->set_address("gw-key-1");
  n.mutable_recipient()->set_language("en");
  n.set_channel(v1::WEBHOOK);
  n.set_unit("unit-a");
  n.set_subject("Deadline breached");
  n.set_body("Deadline dl-42 was breached.");
  return n;
}

WebhookChannelOptions Options(std::string url, std::vector<std::string> headers = {}) {
  WebhookChannelOptions options;
  options.url = std::move(url);
  options.connect_timeout = absl::Seconds(1);
  options.headers = std::move(headers);
  return options;
}

std::unique_ptr<WebhookChannel> MakeChannel(const TestHttpServer& server,
                                            absl::Duration timeout = absl::Seconds(5)) {
  WebhookChannelOptions options =
      Options(server.Url(), {"Authorization: Bearer test-token", "X-Source: pathways"});
  options.timeout = timeout;
  absl::StatusOr<std::unique_ptr<WebhookChannel>> channel = WebhookChannel::Create(options);
  EXPECT_TRUE(channel.ok()) << channel.status();
  return channel.ok() ? std::move(*channel) : nullptr;
}

TEST(WebhookChannelTest, GivenGatewayAnswers200_WhenSent_ThenOkAndJsonPostedWithIdempotencyKey) {
  TestHttpServer server;
  auto channel = MakeChannel(server);
  ASSERT_NE(channel, nullptr);

  ES_ASSERT_OK(channel->Send(Sample()));

  ASSERT_EQ(server.request_count(), 1u);
  const TestHttpServer::Request request = server.requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/notify");
  EXPECT_EQ(request.Header("idempotency-key"), "breach:dl-42");
  EXPECT_EQ(request.Header("content-type"), "application/json");
  EXPECT_EQ(request.Header("authorization"), "Bearer test-token");
  EXPECT_EQ(request.Header("x-source"), "pathways");
  const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << request.body;
  EXPECT_EQ(body["notification_id"], "breach:dl-42");
  EXPECT_EQ(body["kind"], "BREACH_ALERT");
  EXPECT_EQ(body["recipient"]["address"], "gw-key-1");
  EXPECT_EQ(body["subject"], "Deadline breached");
}

TEST(WebhookChannelTest, GivenGatewayAnswers204_WhenSent_ThenOk) {
  TestHttpServer server;
  server.Script({{.status = 204, .body = ""}});
  auto channel = MakeChannel(server);
  ASSERT_NE(channel, nullptr);

  ES_EXPECT_OK(channel->Send(Sample()));
}

class WebhookStatusTest : public ::testing::TestWithParam<std::pair<int, absl::StatusCode>> {};

TEST_P(WebhookStatusTest, GivenGatewayAnswersCode_WhenSent_ThenMappedStatus) {
  const auto [http, expected] = GetParam();
  TestHttpServer server;
  server.Script({{.status = http}});
  auto channel = MakeChannel(server);
  ASSERT_NE(channel, nullptr);

  const absl::Status status = channel->Send(Sample());

  EXPECT_THAT(status, StatusIs(expected)) << "HTTP " << http;
  EXPECT_NE(std::string(status.message()).find(std::to_string(http)), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Codes, WebhookStatusTest,
                         ::testing::Values(std::pair{500, absl::StatusCode::kUnavailable},
                                           std::pair{502, absl::StatusCode::kUnavailable},
                                           std::pair{503, absl::StatusCode::kUnavailable},
                                           std::pair{408, absl::StatusCode::kUnavailable},
                                           std::pair{429, absl::StatusCode::kUnavailable},
                                           std::pair{400, absl::StatusCode::kFailedPrecondition},
                                           std::pair{401, absl::StatusCode::kFailedPrecondition},
                                           std::pair{404, absl::StatusCode::kFailedPrecondition},
                                           std::pair{422, absl::StatusCode::kFailedPrecondition}));

TEST(WebhookChannelTest, GivenSlowGateway_WhenSent_ThenUnavailableAfterTheTimeout) {
  TestHttpServer server;
  server.Script({{.status = 200, .delay = absl::Seconds(3)}});
  auto channel = MakeChannel(server, absl::Milliseconds(200));
  ASSERT_NE(channel, nullptr);

  const auto start = std::chrono::steady_clock::now();
  const absl::Status status = channel->Send(Sample());
  const auto elapsed = std::chrono::steady_clock::now() - start;

  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_GE(elapsed, std::chrono::milliseconds(150));
  EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
}

TEST(WebhookChannelTest, GivenNothingListening_WhenSent_ThenUnavailable) {
  // A port that was free a moment ago: connecting to it is refused.
  const int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&address), size), 0);
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &size);
  const int port = ntohs(address.sin_port);
  ::close(probe);
  auto channel = WebhookChannel::Create(Options(absl::StrCat("http://127.0.0.1:", port, "/x")));
  ASSERT_TRUE(channel.ok()) << channel.status();

  EXPECT_THAT((*channel)->Send(Sample()), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(WebhookChannelTest, GivenLargeBody_WhenSent_ThenNoExpectContinueStall) {
  TestHttpServer server;
  auto channel = MakeChannel(server);
  ASSERT_NE(channel, nullptr);
  v1::Notification n = Sample();
  n.set_body(std::string(2 << 20, 'x'));  // past curl 7.88's 1 MiB Expect threshold

  const auto start = std::chrono::steady_clock::now();
  ES_ASSERT_OK(channel->Send(n));
  const auto elapsed = std::chrono::steady_clock::now() - start;

  ASSERT_EQ(server.request_count(), 1u);
  EXPECT_EQ(server.requests()[0].Header("expect"), "");
  EXPECT_LT(elapsed, std::chrono::milliseconds(800));
}

TEST(WebhookChannelTest, GivenOneChannel_WhenSentTwice_ThenTwoRequestsWithTheirOwnKeys) {
  TestHttpServer server;
  auto channel = MakeChannel(server);
  ASSERT_NE(channel, nullptr);
  v1::Notification second = Sample();
  second.set_notification_id("breach:dl-43");

  ES_ASSERT_OK(channel->Send(Sample()));
  ES_ASSERT_OK(channel->Send(second));

  ASSERT_EQ(server.request_count(), 2u);
  EXPECT_EQ(server.requests()[0].Header("idempotency-key"), "breach:dl-42");
  EXPECT_EQ(server.requests()[1].Header("idempotency-key"), "breach:dl-43");
}

TEST(WebhookChannelTest, GivenBadOptions_WhenCreated_ThenInvalidArgument) {
  const auto code = [](const std::string& url, std::vector<std::string> headers = {},
                       absl::Duration timeout = absl::Seconds(5)) {
    WebhookChannelOptions options = Options(url, std::move(headers));
    options.timeout = timeout;
    return WebhookChannel::Create(std::move(options)).status().code();
  };
  EXPECT_EQ(code(""), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("ftp://gateway/x"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("http://gateway:notaport/x"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("http://gw/x", {}, absl::ZeroDuration()), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("http://gw/x", {"NoColon"}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("http://gw/x", {"X-A: 1\r\nX-Injected: 2"}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("http://gw/x", {"idempotency-key: mine"}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("https://gw.example/x", {"Authorization: Bearer t"}), absl::StatusCode::kOk);
}

}  // namespace
}  // namespace notify::channels
