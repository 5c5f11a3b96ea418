#pragma once

// Reads what is on a topic, as an outside consumer would, for tests: assign() to every
// partition from the earliest offset (no consumer group: joining one costs seconds on the mock).

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace es::testing {

struct ProbedRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;

  std::string Header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return "";
  }
};

// Consumes `topic` (all `partitions`) until `expected` records were read or `timeout` passed.
inline std::vector<ProbedRecord> ReadTopic(const std::string& bootstrap, const std::string& topic,
                                           int partitions, size_t expected,
                                           std::chrono::milliseconds timeout) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error, sizeof(error));
  rd_kafka_conf_set(conf, "group.id", "test-probe", error, sizeof(error));
  rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", error, sizeof(error));
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", error, sizeof(error));
  rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", error, sizeof(error));
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
  std::vector<ProbedRecord> records;
  if (consumer == nullptr) return records;
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_INVALID;
  }
  rd_kafka_assign(consumer, list);
  rd_kafka_topic_partition_list_destroy(list);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (records.size() < expected && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 50);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ProbedRecord r;
      r.topic = rd_kafka_topic_name(m->rkt);
      r.partition = m->partition;
      r.offset = m->offset;
      if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          r.headers.emplace_back(name, std::string(static_cast<const char*>(value), size));
        }
      }
      records.push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return records;
}

}  // namespace es::testing
