// Small librdkafka C clients for tests of the Kafka plumbing: a producer that collects delivery
// reports, a consumer that uses assign() (no group join, which costs ~3 s on the mock), and
// metadata/watermark queries. Not thread-safe: each object belongs to the test thread, and
// delivery callbacks run inside its Poll/Wait calls.
//
// Set KAFKA_TEST_DEBUG (e.g. "broker,metadata,eos") to pass a librdkafka `debug` setting to every
// client created here.

#ifndef TESTS_LIBS_KAFKA_KAFKA_TEST_CLIENTS_H_
#define TESTS_LIBS_KAFKA_KAFKA_TEST_CLIENTS_H_

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

// rdkafka_mock.h (included by tests) must come after rdkafka.h.
#include <librdkafka/rdkafka.h>

namespace es::kafka::testing {

using Clock = std::chrono::steady_clock;
using Config = std::map<std::string, std::string>;
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Record {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
  std::string key;
  std::string value;
  Headers headers;
};

struct Delivery {
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
  int32_t partition = -1;
  int64_t offset = -1;
};

namespace internal {

inline absl::StatusOr<rd_kafka_conf_t*> MakeConf(const Config& settings) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Config all = settings;
  if (const char* debug = std::getenv("KAFKA_TEST_DEBUG"); debug != nullptr && *debug != '\0') {
    all["debug"] = debug;
  }
  char errstr[512];
  for (const auto& [name, value] : all) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(absl::StrCat(name, "=", value, ": ", errstr));
    }
  }
  return conf;
}

inline absl::StatusOr<rd_kafka_t*> NewHandle(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(errstr);
  }
  return rk;
}

}  // namespace internal

// Partition count per topic, from a metadata request for all topics (which, unlike a request
// naming a topic, never auto-creates one on the mock).
inline absl::StatusOr<std::map<std::string, int>> PartitionCounts(rd_kafka_t* rk, int timeout_ms) {
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &metadata, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("metadata: ", rd_kafka_err2str(err)));
  }
  std::map<std::string, int> counts;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    counts[metadata->topics[i].topic] = metadata->topics[i].partition_cnt;
  }
  rd_kafka_metadata_destroy(metadata);
  return counts;
}

inline absl::StatusOr<int64_t> HighWatermark(rd_kafka_t* rk, const std::string& topic,
                                             int32_t partition, int timeout_ms) {
  int64_t low = 0;
  int64_t high = 0;
  const rd_kafka_resp_err_t err =
      rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition, &low, &high, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(
        absl::StrCat("watermarks of ", topic, "[", partition, "]: ", rd_kafka_err2str(err)));
  }
  return high;
}

// Idempotent producer (acks=all) whose delivery reports are collected in order of arrival.
class TestProducer {
 public:
  static absl::StatusOr<std::unique_ptr<TestProducer>> Create(const std::string& bootstrap,
                                                              const Config& extra = {}) {
    Config settings = {{"bootstrap.servers", bootstrap},
                       {"enable.idempotence", "true"},
                       {"acks", "all"},
                       {"linger.ms", "5"}};
    for (const auto& [name, value] : extra) settings[name] = value;
    absl::StatusOr<rd_kafka_conf_t*> conf = internal::MakeConf(settings);
    if (!conf.ok()) return conf.status();
    std::unique_ptr<TestProducer> producer(new TestProducer());
    rd_kafka_conf_set_opaque(*conf, producer.get());
    rd_kafka_conf_set_dr_msg_cb(*conf, &TestProducer::OnDelivery);
    absl::StatusOr<rd_kafka_t*> rk = internal::NewHandle(RD_KAFKA_PRODUCER, *conf);
    if (!rk.ok()) return rk.status();
    producer->rk_ = *rk;
    return producer;
  }

  ~TestProducer() {
    rd_kafka_flush(rk_, 2000);
    rd_kafka_destroy(rk_);
  }

  rd_kafka_t* handle() const { return rk_; }
  const std::vector<Delivery>& deliveries() const { return deliveries_; }

  // Enqueues one record; delivery is reported later through deliveries().
  absl::Status Produce(const std::string& topic, int32_t partition, const std::string& key,
                       const std::string& value, const Headers& headers = {}) {
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
    for (const auto& [name, header_value] : headers) {
      rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), header_value.data(),
                          static_cast<ssize_t>(header_value.size()));
    }
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_destroy(hdrs);  // ownership passes to librdkafka only on success
      return absl::InternalError(absl::StrCat("produce: ", rd_kafka_err2str(err)));
    }
    return absl::OkStatus();
  }

  // Polls until `count` delivery reports have arrived in total or `timeout` passes.
  bool WaitForDeliveries(size_t count, Clock::duration timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    while (deliveries_.size() < count && Clock::now() < deadline) rd_kafka_poll(rk_, 50);
    return deliveries_.size() >= count;
  }

 private:
  TestProducer() = default;

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    static_cast<TestProducer*>(opaque)->deliveries_.push_back(
        Delivery{message->err, message->partition, message->offset});
  }

  rd_kafka_t* rk_ = nullptr;
  std::vector<Delivery> deliveries_;
};

// Consumer reading from the earliest offset. By default it uses assign() and joins no group
// (a group.id is still required by librdkafka for assign(); nothing is committed); Subscribe()
// joins the group instead.
class TestConsumer {
 public:
  static absl::StatusOr<std::unique_ptr<TestConsumer>> Create(const std::string& bootstrap,
                                                              const Config& extra = {}) {
    static int sequence = 0;
    Config settings = {
        {"bootstrap.servers", bootstrap},  {"group.id", absl::StrCat("test-assign-", ++sequence)},
        {"enable.auto.commit", "false"},   {"auto.offset.reset", "earliest"},
        {"enable.partition.eof", "false"}, {"fetch.wait.max.ms", "10"},
        {"queued.min.messages", "1000000"}};
    for (const auto& [name, value] : extra) settings[name] = value;
    absl::StatusOr<rd_kafka_conf_t*> conf = internal::MakeConf(settings);
    if (!conf.ok()) return conf.status();
    absl::StatusOr<rd_kafka_t*> rk = internal::NewHandle(RD_KAFKA_CONSUMER, *conf);
    if (!rk.ok()) return rk.status();
    rd_kafka_poll_set_consumer(*rk);
    std::unique_ptr<TestConsumer> consumer(new TestConsumer());
    consumer->rk_ = *rk;
    return consumer;
  }

  ~TestConsumer() {
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }

  rd_kafka_t* handle() const { return rk_; }

  // Assigns `partitions` of `topic` starting at OFFSET_INVALID, which with
  // auto.offset.reset=earliest starts at the beginning without the 0.5-1 s delay that an
  // explicit OFFSET_BEGINNING causes on the mock.
  absl::Status Assign(const std::string& topic, const std::vector<int32_t>& partitions) {
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
    for (const int32_t partition : partitions) {
      rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset =
          RD_KAFKA_OFFSET_INVALID;
    }
    const rd_kafka_resp_err_t err = rd_kafka_assign(rk_, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::InternalError(absl::StrCat("assign: ", rd_kafka_err2str(err)));
    }
    return absl::OkStatus();
  }

  // Joins the consumer's group (group.id) for `topic`; assignments arrive while polling.
  absl::Status Subscribe(const std::string& topic) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), RD_KAFKA_PARTITION_UA);
    const rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::InternalError(absl::StrCat("subscribe: ", rd_kafka_err2str(err)));
    }
    return absl::OkStatus();
  }

  // The member id the group coordinator gave this consumer; empty when not in a group.
  std::string MemberId() const {
    char* id = rd_kafka_memberid(rk_);
    std::string result = id != nullptr ? id : "";
    if (id != nullptr) rd_kafka_mem_free(rk_, id);
    return result;
  }

  int AssignedPartitions() const {
    rd_kafka_topic_partition_list_t* list = nullptr;
    if (rd_kafka_assignment(rk_, &list) != RD_KAFKA_RESP_ERR_NO_ERROR) return -1;
    const int count = list->cnt;
    rd_kafka_topic_partition_list_destroy(list);
    return count;
  }

  // Commits `offset` for one partition through the group coordinator and waits for the answer.
  absl::Status CommitSync(const std::string& topic, int32_t partition, int64_t offset) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = offset;
    const rd_kafka_resp_err_t err = rd_kafka_commit(rk_, list, 0);
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat("commit: ", rd_kafka_err2str(err)));
    }
    return absl::OkStatus();
  }

  // Polls until `count` records arrived or `timeout` passes; returns what arrived. Consumer
  // errors (e.g. transient transport errors) are skipped: librdkafka retries by itself.
  std::vector<Record> Consume(size_t count, Clock::duration timeout) {
    std::vector<Record> records;
    const Clock::time_point deadline = Clock::now() + timeout;
    while (records.size() < count && Clock::now() < deadline) {
      rd_kafka_message_t* message = rd_kafka_consumer_poll(rk_, 50);
      if (message == nullptr) continue;
      if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) records.push_back(ToRecord(*message));
      rd_kafka_message_destroy(message);
    }
    return records;
  }

 private:
  TestConsumer() = default;

  static Record ToRecord(const rd_kafka_message_t& message) {
    Record record;
    record.topic = rd_kafka_topic_name(message.rkt);
    record.partition = message.partition;
    record.offset = message.offset;
    if (message.key != nullptr) {
      record.key.assign(static_cast<const char*>(message.key), message.key_len);
    }
    if (message.payload != nullptr) {
      record.value.assign(static_cast<const char*>(message.payload), message.len);
    }
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(&message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name = nullptr;
      const void* value = nullptr;
      size_t size = 0;
      for (size_t i = 0;
           rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        record.headers.emplace_back(name, value == nullptr
                                              ? std::string()
                                              : std::string(static_cast<const char*>(value), size));
      }
    }
    return record;
  }

  rd_kafka_t* rk_ = nullptr;
};

}  // namespace es::kafka::testing

#endif  // TESTS_LIBS_KAFKA_KAFKA_TEST_CLIENTS_H_
