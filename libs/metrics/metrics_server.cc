#include "libs/metrics/metrics_server.h"

#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/histogram.h"
#include "prometheus/text_serializer.h"

namespace es::metrics {

// Values read from their owners at scrape time, grouped into one family per name.
class Metrics::Callbacks : public prometheus::Collectable {
 public:
  void Add(const std::string& name, const std::string& help, prometheus::MetricType type,
           Labels labels, std::function<double()> read) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.push_back(Entry{name, help, type, std::move(labels), std::move(read)});
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<prometheus::MetricFamily> families;
    std::map<std::string, size_t> index;
    for (const Entry& entry : entries_) {
      auto [it, added] = index.emplace(entry.name, families.size());
      if (added) families.push_back({entry.name, entry.help, entry.type, {}});
      prometheus::ClientMetric metric;
      for (const auto& [name, value] : entry.labels) metric.label.push_back({name, value});
      const double value = entry.read();
      if (entry.type == prometheus::MetricType::Counter) {
        metric.counter.value = value;
      } else {
        metric.gauge.value = value;
      }
      families[it->second].metric.push_back(std::move(metric));
    }
    return families;
  }

 private:
  struct Entry {
    std::string name;
    std::string help;
    prometheus::MetricType type;
    Labels labels;
    std::function<double()> read;
  };
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

class Metrics::Impl {
 public:
  explicit Impl(prometheus::Registry& registry)
      : handled_(prometheus::BuildCounter()
                     .Name("grpc_server_handled_total")
                     .Help("gRPC calls completed on the server, by method and status code")
                     .Register(registry)),
        handling_(prometheus::BuildHistogram()
                      .Name("grpc_server_handling_seconds")
                      .Help("Time from a gRPC call's arrival to its status being sent")
                      .Register(registry)) {}

  void Record(const char* full_method, grpc::StatusCode code, double seconds) {
    MethodSeries& series = SeriesOf(full_method);
    const size_t index = static_cast<size_t>(code) < kCodes ? static_cast<size_t>(code) : 2;
    prometheus::Counter* handled = series.handled[index].load(std::memory_order_acquire);
    if (handled == nullptr) {
      std::lock_guard<std::mutex> lock(mutex_);
      handled = &handled_.Add({{"grpc_service", series.service},
                               {"grpc_method", series.method},
                               {"grpc_code", CodeName(code)}});
      series.handled[index].store(handled, std::memory_order_release);
    }
    handled->Increment();
    series.handling->Observe(seconds);
  }

  std::unique_ptr<prometheus::Exposer> exposer;

 private:
  static const prometheus::Histogram::BucketBoundaries& Buckets() {
    static const prometheus::Histogram::BucketBoundaries buckets = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    return buckets;
  }
  // gRPC and Abseil number their status codes alike; Abseil names them ("NOT_FOUND").
  static std::string CodeName(grpc::StatusCode code) {
    return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  }

  static constexpr size_t kCodes = 17;  // OK .. UNAUTHENTICATED; others count as UNKNOWN (2)

  // A method's series, resolved once: Family::Add builds a label map, hashes it and takes the
  // family's lock, too much to do on every call.
  struct MethodSeries {
    std::string service;
    std::string method;
    prometheus::Histogram* handling = nullptr;
    std::array<std::atomic<prometheus::Counter*>, kCodes> handled{};
  };

  MethodSeries& SeriesOf(const char* full_method) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = series_.find(full_method);
    if (it != series_.end()) return *it->second;
    // "/referral.v1.ReferralService/SubmitReferral" -> service, method
    const std::string path(full_method);
    std::string service = "unknown";
    std::string method = "unknown";
    if (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0) {
      service = path.substr(1, slash - 1);
      method = path.substr(slash + 1);
    }
    // Label values come from the client (an unknown method reaches the interceptor with the
    // path it sent): only methods of services compiled into this binary get their own series,
    // so a client cannot grow the metrics (or this map) without bound.
    const google::protobuf::ServiceDescriptor* known =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
    const bool is_known = known != nullptr && known->FindMethodByName(method) != nullptr;
    const std::string key = is_known ? path : std::string();
    if (!is_known) {
      it = series_.find(key);
      if (it != series_.end()) return *it->second;
      service = "unknown";
      method = "unknown";
    }
    auto series = std::make_unique<MethodSeries>();
    series->service = service;
    series->method = method;
    series->handling =
        &handling_.Add({{"grpc_service", service}, {"grpc_method", method}}, Buckets());
    return *series_.emplace(key, std::move(series)).first->second;
  }

  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& handling_;
  std::mutex mutex_;
  // By full method path; "" holds the series of every method this binary does not serve.
  std::unordered_map<std::string, std::unique_ptr<MethodSeries>> series_;
};

namespace {

class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(grpc::experimental::ServerRpcInfo* info,
                     std::function<void(const char*, grpc::StatusCode, double)> record)
      : method_(info->method()),  // gRPC keeps the method name for the server's lifetime
        record_(std::move(record)),
        started_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started_;
      record_(method_, methods->GetSendStatus().error_code(), elapsed.count());
    }
    methods->Proceed();
  }

 private:
  const char* const method_;
  const std::function<void(const char*, grpc::StatusCode, double)> record_;
  const std::chrono::steady_clock::time_point started_;
};

class MetricsInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(
      std::function<void(const char*, grpc::StatusCode, double)> record)
      : record_(std::move(record)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(info, record_);
  }

 private:
  const std::function<void(const char*, grpc::StatusCode, double)> record_;
};

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      callbacks_(std::make_shared<Callbacks>()),
      impl_(std::make_unique<Impl>(*registry_)) {}

Metrics::~Metrics() = default;

void Metrics::AddCounter(const std::string& name, const std::string& help, Labels labels,
                         std::function<double()> read) {
  callbacks_->Add(name, help, prometheus::MetricType::Counter, std::move(labels), std::move(read));
}

void Metrics::AddGauge(const std::string& name, const std::string& help, Labels labels,
                       std::function<double()> read) {
  callbacks_->Add(name, help, prometheus::MetricType::Gauge, std::move(labels), std::move(read));
}

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
Metrics::GrpcInterceptors() {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> out;
  Impl* impl = impl_.get();
  out.push_back(std::make_unique<MetricsInterceptorFactory>(
      [impl](const char* method, grpc::StatusCode code, double seconds) {
        impl->Record(method, code, seconds);
      }));
  return out;
}

absl::Status Metrics::Serve(const std::string& listen) {
  try {
    impl_->exposer = std::make_unique<prometheus::Exposer>(listen, 1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("--metrics-listen ", listen, ": ", e.what()));
  }
  impl_->exposer->RegisterCollectable(registry_);
  impl_->exposer->RegisterCollectable(callbacks_);
  return absl::OkStatus();
}

void Metrics::StopServing() { impl_->exposer.reset(); }

int Metrics::port() const {
  if (!impl_->exposer) return 0;
  std::vector<int> ports = impl_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

std::string Metrics::Render() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<prometheus::MetricFamily> more = callbacks_->Collect();
  families.insert(families.end(), more.begin(), more.end());
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace es::metrics
