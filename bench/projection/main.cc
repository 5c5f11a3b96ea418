// bench_projection: the figure of `bench/run projection` (see bench/README.md).
//
// Pathway events consumed from the embedded broker into views, in events/s:
//   ours     es::projection::ProjectionConsumer (group member, per-stream version check,
//            resume fingerprints, offsets in the batch) with ReportingProjector, which decodes
//            each pathway.v1.PathwayEvent and writes two view rows (reading one);
//   ceiling  a bare librdkafka consumer (assign, queued.min.messages=1000000,
//            fetch.wait.max.ms=10) that parses each record's protobuf and puts two rows per
//            record plus the partitions' offsets into one RocksDB WriteBatch per 1000 records.
// Same records, same broker, both write with the WAL synced, each into a fresh RocksDB.
//
// The records are the pathway service's own: a cached data set (kLongPathway, 10 events per
// pathway) loaded through the service's command path, read back from its event log in commit
// order and produced the way the outbox relay publishes them (key = patient key, value = the
// event, CloudEvents headers). They are produced before either consumer starts; rates count
// from each consumer's first stored batch to its last, so the mock's ~3 s group join (ours is
// a group member, the ceiling uses assign) is not part of the figure.

#include <librdkafka/rdkafka.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/common/dataset.h"
#include "bench/common/flags.h"
#include "bench/common/report.h"
#include "bench/projection/reporting_projector.h"
#include "eventing/v1/store.pb.h"
#include "libs/kafka/embedded_broker.h"
#include "libs/outbox/cloud_event.h"
#include "libs/projection/projection_consumer.h"
#include "libs/runtime/log.h"
#include "libs/storage/event_store.h"
#include "libs/storage/rocks_db.h"
#include "pathway/v1/events.pb.h"
#include "rocksdb/write_batch.h"

namespace bench {
namespace {

constexpr char kUsage[] = R"(Usage: bench_projection [FLAGS]

Prints `figure=NAME value=V unit=U ceiling=C ratio=R` lines to stdout, notes to stderr.
  --events=N        pathway events to consume (default 1000000; --quick: 100000); a multiple
                    of 10. The figure name carries the size when it is not 1000000.
  --partitions=N    partitions of the topic (default: enough for ~3 MiB each, at least 6: the
                    mock keeps only ~5 MiB per partition)
  --batch=N         records per RocksDB batch, both consumers (default 1000)
  --prepare-only    load (or find) the cached data set, measure nothing
  --quick           small sizes for a smoke run (also BENCH_QUICK=1)
)";

constexpr char kGroup[] = "bench-reporting";
constexpr int64_t kBytesPerPartition = 3ll << 20;

struct Record {
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  size_t bytes() const {
    size_t n = key.size() + value.size() + 70;  // + record and batch overhead
    for (const auto& [name, v] : headers) n += name.size() + v.size() + 2;
    return n;
  }
};

struct Rate {
  double per_second = 0;
  double seconds = 0;  // first stored batch to last
};

absl::StatusOr<std::vector<Record>> ReadRecords(const Dataset& dataset, int64_t events) {
  absl::StatusOr<std::unique_ptr<es::storage::RocksDb>> db =
      // A cache that holds the whole set: the log is in commit order, so the events are read
      // in random order, and with the default 128 MiB cache the index blocks thrash.
      es::storage::RocksDb::Open(
          {.path = dataset.db_dir, .sync_wal = false, .block_cache_bytes = 2ull << 30});
  if (!db.ok()) return db.status();
  es::storage::EventStore store(**db);
  std::vector<Record> records;
  records.reserve(static_cast<size_t>(events));
  uint64_t after = 0;
  while (static_cast<int64_t>(records.size()) < events) {
    absl::StatusOr<std::vector<es::storage::OutboxEntry>> page = store.ReadLog(after, 10000);
    if (!page.ok()) return page.status();
    if (page->empty()) break;
    for (es::storage::OutboxEntry& entry : *page) {
      if (static_cast<int64_t>(records.size()) == events) break;
      Record r;
      r.headers = es::outbox::CloudEventHeaders(entry.event);
      r.key = entry.event.partition_key();
      r.value = std::move(*entry.event.mutable_payload());
      records.push_back(std::move(r));
      after = entry.sequence;
    }
  }
  store.Shutdown();
  if (static_cast<int64_t>(records.size()) != events) {
    return absl::InternalError(
        absl::StrCat("the data set's log holds ", records.size(), " events, not ", events));
  }
  return records;
}

absl::Status SetConf(rd_kafka_conf_t* conf, const char* name, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name, value.c_str(), errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", errstr));
  }
  return absl::OkStatus();
}

// Produces every record as the outbox relay does (idempotent, acks=all, linger 5 ms).
absl::Status Produce(const std::string& bootstrap, const std::vector<Record>& records) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] : std::vector<std::pair<const char*, std::string>>{
           {"bootstrap.servers", bootstrap},
           {"enable.idempotence", "true"},
           {"acks", "all"},
           {"linger.ms", "5"},
           {"queue.buffering.max.messages", "2000000"},
           {"queue.buffering.max.kbytes", "2097151"}}) {
    if (absl::Status s = SetConf(conf, name, value); !s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
  }
  static std::atomic<int64_t> failures{0};
  failures = 0;
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) ++failures;
  });
  char errstr[512];
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (producer == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("producer: ", errstr));
  }
  for (const Record& r : records) {
    rd_kafka_headers_t* headers = rd_kafka_headers_new(r.headers.size());
    for (const auto& [name, value] : r.headers) {
      rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                          static_cast<ssize_t>(value.size()));
    }
    while (true) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          producer, RD_KAFKA_V_TOPIC(kPathwayTopic), RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_headers_destroy(headers);
        rd_kafka_destroy(producer);
        return absl::InternalError(absl::StrCat("produce: ", rd_kafka_err2str(err)));
      }
      rd_kafka_poll(producer, 10);
    }
    rd_kafka_poll(producer, 0);
  }
  const rd_kafka_resp_err_t flushed = rd_kafka_flush(producer, 120'000);
  rd_kafka_destroy(producer);
  if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat("flush: ", rd_kafka_err2str(flushed)));
  }
  if (failures > 0)
    return absl::InternalError(absl::StrCat(failures.load(), " records not delivered"));
  return absl::OkStatus();
}

rd_kafka_t* NewConsumer(const std::string& bootstrap, const std::string& group,
                        std::string* error) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] :
       std::vector<std::pair<const char*, std::string>>{{"bootstrap.servers", bootstrap},
                                                        {"group.id", group},
                                                        {"enable.auto.commit", "false"},
                                                        {"enable.auto.offset.store", "false"},
                                                        {"auto.offset.reset", "earliest"},
                                                        {"enable.partition.eof", "false"},
                                                        {"queued.min.messages", "1000000"},
                                                        {"fetch.wait.max.ms", "10"}}) {
    if (absl::Status s = SetConf(conf, name, value); !s.ok()) {
      *error = std::string(s.message());
      rd_kafka_conf_destroy(conf);
      return nullptr;
    }
  }
  char errstr[512];
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  if (consumer == nullptr) {
    *error = errstr;
    rd_kafka_conf_destroy(conf);
    return nullptr;
  }
  rd_kafka_poll_set_consumer(consumer);
  return consumer;
}

// Every partition holds its records from offset 0 (the mock dropped nothing), and all records
// arrived.
absl::Status CheckTopic(const std::string& bootstrap, int partitions, int64_t expected) {
  std::string error;
  rd_kafka_t* consumer = NewConsumer(bootstrap, "bench-watermarks", &error);
  if (consumer == nullptr) return absl::InternalError(error);
  int64_t total = 0, smallest = INT64_MAX, largest = 0;
  absl::Status status;
  for (int p = 0; p < partitions && status.ok(); ++p) {
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(consumer, kPathwayTopic, p, &low, &high, 10'000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = absl::InternalError(absl::StrCat("watermarks: ", rd_kafka_err2str(err)));
    } else if (low != 0) {
      status = absl::InternalError(absl::StrCat(
          "partition ", p, " starts at offset ", low,
          ": the mock dropped records (more than ~5 MiB in it); use more --partitions"));
    }
    total += high;
    smallest = std::min(smallest, high);
    largest = std::max(largest, high);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  if (!status.ok()) return status;
  if (total != expected) {
    return absl::InternalError(absl::StrCat("the topic holds ", total, " records, not ", expected));
  }
  Note("topic holds %lld records, %lld-%lld per partition", static_cast<long long>(total),
       static_cast<long long>(smallest), static_cast<long long>(largest));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<es::storage::RocksDb>> FreshDb(const std::string& dir) {
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  // The service's settings: WAL synced, default block cache and memtables.
  return es::storage::RocksDb::Open({.path = dir, .sync_wal = true});
}

// The ceiling: consume, parse, batched write with the offsets, nothing else.
absl::StatusOr<Rate> RunCeiling(const std::string& bootstrap, int partitions, int64_t expected,
                                size_t batch_size, const std::string& dir) {
  absl::StatusOr<std::unique_ptr<es::storage::RocksDb>> db = FreshDb(dir);
  if (!db.ok()) return db.status();
  std::string error;
  rd_kafka_t* consumer = NewConsumer(bootstrap, "bench-ceiling", &error);
  if (consumer == nullptr) return absl::InternalError(error);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    // OFFSET_INVALID with auto.offset.reset=earliest: OFFSET_BEGINNING delays some partitions.
    rd_kafka_topic_partition_list_add(list, kPathwayTopic, p)->offset = RD_KAFKA_OFFSET_INVALID;
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(consumer, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(consumer);
    return absl::InternalError(absl::StrCat("assign: ", rd_kafka_err2str(err)));
  }

  es::storage::RocksDb& rocks = **db;
  rocksdb::ColumnFamilyHandle* views = rocks.handle(es::storage::Family::kViews);
  rocksdb::ColumnFamilyHandle* offsets = rocks.handle(es::storage::Family::kOffsets);
  std::vector<int64_t> next_offset(static_cast<size_t>(partitions), -1);
  std::vector<bool> touched(static_cast<size_t>(partitions), false);
  rocksdb::WriteBatch batch;
  size_t in_batch = 0;
  int64_t consumed = 0, first_count = 0;
  absl::Time first_at, last_at;
  absl::Status status;
  pathway::v1::PathwayEvent event;
  std::string key;
  const absl::Time give_up = absl::Now() + absl::Minutes(10);
  auto flush = [&]() -> absl::Status {
    for (int p = 0; p < partitions; ++p) {
      if (!touched[static_cast<size_t>(p)]) continue;
      batch.Put(offsets, absl::StrCat("bench-ceiling/", kPathwayTopic, "/", p),
                es::storage::EncodeBigEndian64(
                    static_cast<uint64_t>(next_offset[static_cast<size_t>(p)])));
      touched[static_cast<size_t>(p)] = false;
    }
    absl::Status s = rocks.Write(batch);
    batch.Clear();
    in_batch = 0;
    if (first_count == 0) {
      first_count = consumed;
      first_at = absl::Now();
    }
    last_at = absl::Now();
    return s;
  };
  while (consumed < expected && status.ok()) {
    if (absl::Now() > give_up) {
      status = absl::DeadlineExceededError(absl::StrCat("ceiling consumed only ", consumed));
      break;
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (m == nullptr) continue;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Note("ceiling consumer: %s", rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      continue;
    }
    if (!event.ParseFromArray(m->payload, static_cast<int>(m->len))) {
      status = absl::DataLossError("ceiling: record is not a PathwayEvent");
    } else {
      const eventing::v1::EventMetadata& meta = event.metadata();
      key = meta.stream_id();
      key.push_back('\0');
      key += es::storage::EncodeBigEndian64(static_cast<uint64_t>(meta.stream_version()));
      batch.Put(views, key, rocksdb::Slice(static_cast<const char*>(m->payload), m->len));
      batch.Put(views, absl::StrCat("i/", meta.event_id()), meta.stream_id());
      next_offset[static_cast<size_t>(m->partition)] = m->offset + 1;
      touched[static_cast<size_t>(m->partition)] = true;
      ++consumed;
      if (++in_batch >= batch_size || consumed == expected) status = flush();
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  if (!status.ok()) return status;
  const double seconds = absl::ToDoubleSeconds(last_at - first_at);
  return Rate{seconds > 0 ? static_cast<double>(expected - first_count) / seconds : 0, seconds};
}

absl::StatusOr<Rate> RunOurs(const std::string& bootstrap, int64_t expected, size_t batch_size,
                             const std::string& dir) {
  absl::StatusOr<std::unique_ptr<es::storage::RocksDb>> db = FreshDb(dir);
  if (!db.ok()) return db.status();
  ReportingProjector projector;
  es::projection::ConsumerOptions options;
  options.bootstrap_servers = bootstrap;
  options.group_id = kGroup;
  options.topics = {kPathwayTopic};
  options.dead_letter_topic = kDeadLetterTopic;
  options.max_batch = batch_size;
  options.kafka_config = {{"fetch.wait.max.ms", "10"},
                          {"session.timeout.ms", "6000"},
                          {"heartbeat.interval.ms", "500"}};
  es::projection::ProjectionConsumer consumer(**db, projector, options);
  if (absl::Status s = consumer.Start(); !s.ok()) return s;
  const absl::Time started = absl::Now();
  const absl::Time give_up = started + absl::Minutes(10);
  int64_t first_count = 0;
  absl::Time first_at, last_at;
  es::projection::ConsumerStats stats;
  while (true) {
    stats = consumer.stats();
    const int64_t handled = static_cast<int64_t>(stats.applied + stats.duplicates_skipped +
                                                 stats.gaps_skipped + stats.dead_lettered);
    if (first_count == 0 && handled > 0) {
      first_count = handled;
      first_at = absl::Now();
      Note("  ours: first batch stored %.1f s after Start() (group join)",
           absl::ToDoubleSeconds(first_at - started));
    }
    if (handled >= expected) {
      last_at = absl::Now();
      break;
    }
    if (absl::Now() > give_up) {
      consumer.Stop();
      return absl::DeadlineExceededError(absl::StrCat("ours handled only ", handled));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  consumer.Stop();
  if (stats.applied != static_cast<uint64_t>(expected)) {
    return absl::InternalError(absl::StrCat(
        "ours applied ", stats.applied, " of ", expected, " (duplicates ", stats.duplicates_skipped,
        ", gaps ", stats.gaps_skipped, ", dead-lettered ", stats.dead_lettered, ")"));
  }
  Note("  ours: %llu records in %llu batches", static_cast<unsigned long long>(stats.applied),
       static_cast<unsigned long long>(stats.batches));
  const double seconds = absl::ToDoubleSeconds(last_at - first_at);
  return Rate{seconds > 0 ? static_cast<double>(expected - first_count) / seconds : 0, seconds};
}

int Run(int argc, char** argv) {
  bool quick = QuickFromEnvironment();
  bool prepare_only = false;
  int64_t events = 0, partitions = 0, batch = 1000;
  FlagSet flags(kUsage);
  flags.Bool("--quick", &quick);
  flags.Int("--events", &events, 10);
  flags.Int("--partitions", &partitions, 0);
  flags.Int("--batch", &batch, 1);
  flags.Bool("--prepare-only", &prepare_only);
  ParseOrExit(flags, argc, argv);
  if (events == 0) events = quick ? 100'000 : 1'000'000;
  if (events % 10 != 0) {
    Note("--events must be a multiple of 10");
    return 2;
  }
  es::runtime::SetMinLogLevel(es::runtime::LogLevel::kWarning);
  const std::string name =
      events == 1'000'000 ? "projection" : absl::StrCat("projection_", SizeLabel(events));
  Note("projection: %lld pathway events, batches of %lld, WAL synced; load average %s",
       static_cast<long long>(events), static_cast<long long>(batch), LoadAverage().c_str());

  auto fail = [](const absl::Status& status) {
    Note("FAILED: %s", std::string(status.message()).c_str());
    return 1;
  };
  absl::StatusOr<Dataset> dataset = EnsureDataset(Story::kLongPathway, events / 10);
  if (!dataset.ok()) return fail(dataset.status());
  if (prepare_only) return 0;
  absl::StatusOr<std::vector<Record>> records = ReadRecords(*dataset, events);
  if (!records.ok()) return fail(records.status());
  size_t bytes = 0, value_bytes = 0;
  for (const Record& r : *records) {
    bytes += r.bytes();
    value_bytes += r.value.size();
  }
  if (partitions == 0) {
    partitions = std::max<int64_t>(
        6, (static_cast<int64_t>(bytes) + kBytesPerPartition - 1) / kBytesPerPartition);
  }
  Note("records: %.0f bytes on average (value %.0f), %.0f MiB in all, over %lld partitions",
       static_cast<double>(bytes) / static_cast<double>(events),
       static_cast<double>(value_bytes) / static_cast<double>(events),
       static_cast<double>(bytes) / (1 << 20), static_cast<long long>(partitions));

  absl::StatusOr<std::unique_ptr<es::kafka::EmbeddedBroker>> broker =
      es::kafka::EmbeddedBroker::Start(
          {.topics = {{kPathwayTopic, static_cast<int>(partitions)}, {kDeadLetterTopic, 1}}});
  if (!broker.ok()) return fail(broker.status());
  const std::string bootstrap = (*broker)->bootstrap_servers();
  const absl::Time produce_start = absl::Now();
  if (absl::Status s = Produce(bootstrap, *records); !s.ok()) return fail(s);
  Note("produced in %.1f s", absl::ToDoubleSeconds(absl::Now() - produce_start));
  records->clear();
  records->shrink_to_fit();
  if (absl::Status s = CheckTopic(bootstrap, static_cast<int>(partitions), events); !s.ok()) {
    return fail(s);
  }

  char scratch[] = "/tmp/pathways-bench-projection-XXXXXX";
  if (mkdtemp(scratch) == nullptr) {
    std::perror("bench: mkdtemp");
    return 1;
  }
  int exit_code = 0;
  {
    CpuWindow ceiling_cpu;
    absl::StatusOr<Rate> ceiling =
        RunCeiling(bootstrap, static_cast<int>(partitions), events, static_cast<size_t>(batch),
                   absl::StrCat(scratch, "/ceiling"));
    ceiling_cpu.Stop();
    if (!ceiling.ok()) {
      exit_code = fail(ceiling.status());
    } else {
      Note("ceiling: %.0f events/s (%.2f s)", ceiling->per_second, ceiling->seconds);
      ceiling_cpu.Report("ceiling");
      CpuWindow ours_cpu;
      absl::StatusOr<Rate> ours =
          RunOurs(bootstrap, events, static_cast<size_t>(batch), absl::StrCat(scratch, "/ours"));
      ours_cpu.Stop();
      if (!ours.ok()) {
        exit_code = fail(ours.status());
      } else {
        Note("ours:    %.0f events/s (%.2f s)", ours->per_second, ours->seconds);
        ours_cpu.Report("ours (group join included)");
        PrintRate(name, ours->per_second, ceiling->per_second, "events/s");
        Note("target: >= 0.5 x ceiling: %s",
             ours->per_second >= 0.5 * ceiling->per_second ? "met" : "MISSED");
      }
    }
  }
  broker->reset();
  std::error_code ignored;
  std::filesystem::remove_all(scratch, ignored);
  return exit_code;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) { return bench::Run(argc, argv); }
