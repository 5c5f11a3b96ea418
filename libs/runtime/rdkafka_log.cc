#include "libs/runtime/rdkafka_log.h"

#include <algorithm>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "libs/runtime/log.h"

namespace es::runtime {
namespace {

// librdkafka's log callback gets the client handle but no user pointer (the handle's opaque
// belongs to the application's other callbacks). So the component travels as an interceptor
// opaque: the on_new() interceptor, which librdkafka calls first thing in rd_kafka_new(),
// records it per handle, and the log callback looks the handle up.
constexpr char kInterceptorName[] = "es.runtime.json_log";
// For lines of a handle that is not registered (never expected).
constexpr char kFallbackComponent[] = "kafka";
// librdkafka calls on_destroy() early in rd_kafka_destroy(), while the handle's broker threads
// may still log, so destroyed handles stay known for a while (bounded: handles come and go in
// long-running services).
constexpr size_t kDestroyedKept = 64;

// Heap-allocated and never destroyed: librdkafka threads may still log while static objects
// are being destroyed at exit (the embedded broker reaps mock clusters then).
struct Registry {
  std::mutex mu;
  std::set<std::string> components;                         // interned; pointers stay valid
  std::map<const rd_kafka_t*, const std::string*> clients;  // live handles
  std::deque<std::pair<const rd_kafka_t*, const std::string*>> destroyed;  // newest last
};

Registry& GetRegistry() {
  static Registry* const registry = new Registry();
  return *registry;
}

const std::string* Intern(const std::string& component) {
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mu);
  return &*registry.components.insert(component).first;
}

LogLevel FromSyslog(int level) {
  if (level <= 3) return LogLevel::kError;  // emerg, alert, crit, err
  if (level == 4) return LogLevel::kWarning;
  if (level <= 6) return LogLevel::kInfo;  // notice, info
  return LogLevel::kDebug;
}

void OnLog(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  const std::string* component = nullptr;  // interned: valid after the lock is released
  if (rk != nullptr) {
    Registry& registry = GetRegistry();
    std::lock_guard<std::mutex> lock(registry.mu);
    auto it = registry.clients.find(rk);
    if (it != registry.clients.end()) {
      component = it->second;
    } else {
      auto old = std::find_if(registry.destroyed.rbegin(), registry.destroyed.rend(),
                              [rk](const auto& entry) { return entry.first == rk; });
      if (old != registry.destroyed.rend()) component = old->second;
    }
  }
  // rd_kafka_name() only reads a field set before the handle's first log line; it is safe here
  // despite the rule against calling librdkafka from a log callback.
  Log(FromSyslog(level), component != nullptr ? *component : kFallbackComponent,
      buf != nullptr ? buf : "",
      {{"fac", fac != nullptr ? fac : ""}, {"client", rk != nullptr ? rd_kafka_name(rk) : ""}});
}

rd_kafka_resp_err_t OnDestroy(rd_kafka_t* rk, void* /*ic_opaque*/) {
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mu);
  auto it = registry.clients.find(rk);
  if (it == registry.clients.end()) return RD_KAFKA_RESP_ERR_NO_ERROR;
  registry.destroyed.emplace_back(it->first, it->second);
  if (registry.destroyed.size() > kDestroyedKept) registry.destroyed.pop_front();
  registry.clients.erase(it);
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t OnNew(rd_kafka_t* rk, const rd_kafka_conf_t* /*conf*/, void* ic_opaque,
                          char* /*errstr*/, size_t /*errstr_size*/) {
  {
    Registry& registry = GetRegistry();
    std::lock_guard<std::mutex> lock(registry.mu);
    // A handle freed earlier may have had the same address: the new one wins.
    registry.clients[rk] = static_cast<const std::string*>(ic_opaque);
  }
  return rd_kafka_interceptor_add_on_destroy(rk, kInterceptorName, &OnDestroy, ic_opaque);
}

void AddConfInterceptors(rd_kafka_conf_t* conf, const std::string* component);

// rd_kafka_conf_dup() copies the log callback but no interceptors; the relay builds its
// producers from copies of one template, so the copy gets them here.
rd_kafka_resp_err_t OnConfDup(rd_kafka_conf_t* new_conf, const rd_kafka_conf_t* /*old_conf*/,
                              size_t /*filter_cnt*/, const char** /*filter*/, void* ic_opaque) {
  AddConfInterceptors(new_conf, static_cast<const std::string*>(ic_opaque));
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

void AddConfInterceptors(rd_kafka_conf_t* conf, const std::string* component) {
  void* opaque = const_cast<std::string*>(component);
  // Both fail only with __CONFLICT, i.e. when this conf already has them: the first call's
  // component then stays, as documented.
  rd_kafka_conf_interceptor_add_on_new(conf, kInterceptorName, &OnNew, opaque);
  rd_kafka_conf_interceptor_add_on_conf_dup(conf, kInterceptorName, &OnConfDup, opaque);
}

}  // namespace

void UseJsonLogging(rd_kafka_conf_t* conf, const std::string& component) {
  AddConfInterceptors(conf, Intern(component));
  rd_kafka_conf_set_log_cb(conf, &OnLog);
}

}  // namespace es::runtime
