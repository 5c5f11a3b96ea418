// Metrics as Prometheus scrapes them: over HTTP from the process's /metrics endpoint.

#include "libs/metrics/metrics_server.h"

#include <curl/curl.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "libs/rpc/grpc_server.h"

namespace es::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// GET http://127.0.0.1:<port><path>; returns the body, or "HTTP <code>" when not 200.
std::string Get(int port, const std::string& path) {
  CURL* curl = curl_easy_init();
  std::string body;
  const std::string url = absl::StrCat("http://127.0.0.1:", port, path);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) return absl::StrCat("curl error ", curl_easy_strerror(rc));
  return code == 200 ? body : absl::StrCat("HTTP ", code);
}

TEST(Metrics, GivenCallbacks_WhenScraped_ThenCurrentValuesWithLabelsAndHelp) {
  Metrics metrics;
  std::atomic<int> committed{3};
  metrics.AddCounter("pathways_things_total", "Things done", {{"consumer", "a"}},
                     [&] { return double(committed.load()); });
  metrics.AddGauge("pathways_ready", "1 when ready", {}, [] { return 1.0; });
  ASSERT_TRUE(metrics.Serve("127.0.0.1:0").ok());
  ASSERT_GT(metrics.port(), 0);

  std::string text = Get(metrics.port(), "/metrics");
  EXPECT_THAT(text, HasSubstr("# HELP pathways_things_total Things done"));
  EXPECT_THAT(text, HasSubstr("# TYPE pathways_things_total counter"));
  EXPECT_THAT(text, HasSubstr("pathways_things_total{consumer=\"a\"} 3"));
  EXPECT_THAT(text, HasSubstr("# TYPE pathways_ready gauge"));
  EXPECT_THAT(text, HasSubstr("pathways_ready 1"));

  committed = 7;  // read at scrape time, not at registration
  EXPECT_THAT(Get(metrics.port(), "/metrics"),
              HasSubstr("pathways_things_total{consumer=\"a\"} 7"));
}

TEST(Metrics, GivenGrpcServerWithInterceptors_WhenCalled_ThenCallsCountedByMethodAndCode) {
  Metrics metrics;
  ASSERT_TRUE(metrics.Serve("127.0.0.1:0").ok());
  auto server = rpc::GrpcServer::Start("127.0.0.1:0", {}, metrics.GrpcInterceptors());
  ASSERT_TRUE(server.ok()) << server.status();
  (*server)->SetServing(true);

  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  for (const std::string service : {"", "", "no.such.Service"}) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    stub->Check(&context, request, &response);
  }

  const std::string text = Get(metrics.port(), "/metrics");
  EXPECT_THAT(text, HasSubstr("grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Check\","
                              "grpc_service=\"grpc.health.v1.Health\"} 2"));
  EXPECT_THAT(text, HasSubstr("grpc_server_handled_total{grpc_code=\"NOT_FOUND\","
                              "grpc_method=\"Check\",grpc_service=\"grpc.health.v1.Health\"} 1"));
  EXPECT_THAT(text, HasSubstr("grpc_server_handling_seconds_count{grpc_method=\"Check\","
                              "grpc_service=\"grpc.health.v1.Health\"} 3"));

  // A method the server does not have: counted, but under "unknown", not under its made-up name.
  grpc::GenericStub generic(channel);
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext context;
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1);
    grpc::ByteBuffer response;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    generic.UnaryCall(&context, absl::StrCat("/made.up.Service", i, "/Method"), grpc::StubOptions(),
                      &request, &response, [&](grpc::Status) {
                        std::lock_guard<std::mutex> lock(mu);
                        done = true;
                        cv.notify_one();
                      });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
  }
  const std::string after = Get(metrics.port(), "/metrics");
  EXPECT_THAT(after, Not(HasSubstr("made.up")));
  EXPECT_THAT(after, HasSubstr("grpc_server_handled_total{grpc_code=\"UNIMPLEMENTED\","
                               "grpc_method=\"unknown\",grpc_service=\"unknown\"} 3"));
  (*server)->Shutdown(absl::Seconds(1));
}

TEST(Metrics, GivenAddressInUse_WhenServed_ThenUnavailableNamingTheFlag) {
  Metrics first;
  ASSERT_TRUE(first.Serve("127.0.0.1:0").ok());
  Metrics second;
  absl::Status s = second.Serve(absl::StrCat("127.0.0.1:", first.port()));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("--metrics-listen"));
}

TEST(Metrics, GivenStoppedServing_ThenNothingListens) {
  Metrics metrics;
  ASSERT_TRUE(metrics.Serve("127.0.0.1:0").ok());
  const int port = metrics.port();
  metrics.StopServing();
  EXPECT_EQ(metrics.port(), 0);
  EXPECT_THAT(Get(port, "/metrics"), Not(HasSubstr("# TYPE")));
}

}  // namespace
}  // namespace es::metrics
