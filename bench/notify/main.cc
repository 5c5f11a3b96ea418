// bench_notify: the figures of `bench/run notify` (see bench/README.md).
//
// notify_schedule  pathway events turned into scheduled notifications, events/s.
//   ours     a NotifyServer in this process (notify::Config::ForTest with the WAL synced as in
//            production, consumer queued.min.messages=1000000, fetch.wait.max.ms=10, clock fixed
//            at the data set's anchor day) consuming pre-produced pathway events (a cached
//            kOpenDeadline data set: start + first attendance per pathway, each of which
//            schedules a deadline reminder) until its consumer has caught up, i.e. every
//            reminder exists (counted in the dispatch-queue view rows).
//   ceiling  a bare librdkafka consumer (assign, same settings) that decodes each record and
//            writes two rows per record plus the partitions' offsets in one synced RocksDB batch
//            per 1000 records: the projection ceiling, on the same records and broker.
//   Rates count from the first stored work to the last, so the mock's ~3 s group join is out.
//
// notify_stream_p50 / _p99  end-to-end delay of a notification update, ms.
//   ours     a NotifyServer in a child process that has consumed the same data set plus an
//            appointment per pathway; 100 WatchNotifications clients in this process (two per
//            unit, one channel); one pathway event "appointment missed" produced at a time,
//            paced; each schedules a no-show alert at once. Delay = from just before the
//            produce call to the client's receipt of the update.
//   ceiling  a bare gRPC server (callback API) in a child process streaming the same update
//            message (one received from ours) to 100 clients, paced the same way, to the same
//            two clients each; delay from the server's send decision to the receipt.
//
// Server modes (--serve=notify|bare-watch) are for the child processes only.

#include <grpcpp/grpcpp.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/common/child_process.h"
#include "bench/common/dataset.h"
#include "bench/common/flags.h"
#include "bench/common/report.h"
#include "clinical/catalogue.h"
#include "libs/eventing/clock.h"
#include "libs/eventing/ids.h"
#include "libs/eventing/pseudonym.h"
#include "libs/kafka/embedded_broker.h"
#include "libs/outbox/cloud_event.h"
#include "libs/rpc/grpc_server.h"
#include "libs/runtime/log.h"
#include "libs/storage/event_store.h"
#include "libs/storage/rocks_db.h"
#include "libs/storage/view_store.h"
#include "notify/v1/service.grpc.pb.h"
#include "pathway/v1/events.pb.h"
#include "rocksdb/write_batch.h"
#include "services/notify/app/notify_service.h"
#include "services/notify/config.h"
#include "services/notify/server.h"
#include "services/notify/views/notification_view_rows.h"
#include "services/pathway/app/pathway_service.h"
#include "services/pathway/domain/pathway_decider.h"
#include "services/shared/service_config.h"

namespace bench {
namespace {

constexpr char kUsage[] = R"(Usage: bench_notify [FLAGS]

Prints `figure=NAME value=V unit=U ceiling=C ratio=R` lines to stdout, notes to stderr.
  --pathways=N       pathways of the data set (2 events each; default 20000, --quick 2000)
  --triggers=N       no-show events produced one at a time for notify_stream (default 2000,
                     --quick 200); the first 5% of deliveries are warm-up, not counted
  --trigger-rate=R   of those events, per second (default 100)
  --clients=N        WatchNotifications streams (default 100), spread over the 50 units
  --skip-schedule    only notify_stream
  --skip-stream      only notify_schedule
  --quick            small sizes for a smoke run (also BENCH_QUICK=1)
)";

constexpr char kNotifyTopic[] = "pathways.notify.events.v1";
constexpr int kPartitions = 6;
constexpr int kBatch = 1000;

int64_t NowNs() { return absl::ToUnixNanos(absl::Now()); }

void Report(const absl::Status& status) {
  Note("FAILED: %s", std::string(status.message()).c_str());
}

// ---------------------------------------------------------------------------------------------
// Records: the pathway service's own events, as its outbox relay publishes them.

struct Record {
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string stream_id;
};

struct Domain {
  Domain(clinical::PathwayCatalogue c, es::Pseudonymizer p, clinical::Calendar cal,
         absl::TimeZone z)
      : catalogue(std::move(c)),
        decider(catalogue),
        pseudonymizer(std::move(p)),
        calendar(std::move(cal)),
        zone(z) {}
  clinical::PathwayCatalogue catalogue;
  pathway::domain::PathwayDecider decider;
  es::Pseudonymizer pseudonymizer;
  clinical::Calendar calendar;
  absl::TimeZone zone;
};

absl::StatusOr<std::unique_ptr<Domain>> MakeDomain() {
  absl::StatusOr<clinical::PathwayCatalogue> catalogue =
      clinical::PathwayCatalogue::LoadDirectories({CatalogueDir()});
  if (!catalogue.ok()) return catalogue.status();
  absl::StatusOr<es::Pseudonymizer> pseudonymizer = es::Pseudonymizer::Create(kPseudonymSecret);
  if (!pseudonymizer.ok()) return pseudonymizer.status();
  pathways::ServiceConfig defaults;
  absl::StatusOr<absl::TimeZone> zone = defaults.Zone();
  if (!zone.ok()) return zone.status();
  absl::StatusOr<clinical::Calendar> calendar = defaults.WorkingCalendar();
  if (!calendar.ok()) return calendar.status();
  return std::make_unique<Domain>(std::move(*catalogue), std::move(*pseudonymizer),
                                  std::move(*calendar), *zone);
}

absl::Status ExecuteAndWait(pathway::app::PathwayService& service,
                            pathway::domain::PathwayCommand command, const std::string& key) {
  es::app::CommandContext context;
  context.idempotency_key = key;
  context.fingerprint = es::Sha256Hex(key);
  context.actor.set_subject("bench-notify");
  context.actor.set_role("coordinator");
  std::promise<absl::Status> done;
  service.Execute(std::move(command), std::move(context),
                  [&done](absl::StatusOr<es::app::CommandResult> result) {
                    done.set_value(result.ok() ? absl::OkStatus() : result.status());
                  });
  return done.get_future().get();
}

// Copies the data set to `dir`, adds an appointment (event 3) and its no-show (event 4) to the
// first `triggers` pathways through the pathway service's command path, and returns every
// event of the log in commit order: the data set's, then the appointments, then the no-shows.
absl::StatusOr<std::vector<Record>> BuildRecords(const Dataset& dataset, int64_t triggers,
                                                 const std::string& dir) {
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  std::filesystem::copy(dataset.db_dir, dir, std::filesystem::copy_options::recursive, error);
  if (error) return absl::InternalError(absl::StrCat("copy data set: ", error.message()));
  absl::StatusOr<std::unique_ptr<Domain>> d = MakeDomain();
  if (!d.ok()) return d.status();
  absl::StatusOr<std::unique_ptr<es::storage::RocksDb>> db =
      es::storage::RocksDb::Open({.path = dir, .sync_wal = false});
  if (!db.ok()) return db.status();
  es::ManualClock clock(AnchorNoon());
  std::vector<Record> records;
  {
    es::storage::EventStore store(**db);
    es::storage::ViewStore views(**db);
    pathway::app::PathwayService service(store, views, (*d)->decider, (*d)->pseudonymizer, clock,
                                         (*d)->zone, (*d)->calendar, {.topic = kPathwayTopic});
    const absl::Time appointment =
        absl::FromCivil(absl::CivilSecond((AnchorDay() - 1).year(), (AnchorDay() - 1).month(),
                                          (AnchorDay() - 1).day(), 9, 0, 0),
                        (*d)->zone);
    for (int step = 0; step < 2; ++step) {
      for (int64_t p = 0; p < triggers; ++p) {
        const std::string id = es::NameUuid(
            "pathway", absl::StrCat("bench-", StoryName(Story::kOpenDeadline), "-", p, "-0"));
        const std::string key = absl::StrCat("bench-notify-", p, "-", step);
        pathway::domain::PathwayCommand command =
            step == 0 ? pathway::domain::PathwayCommand(pathway::domain::ScheduleAppointment{
                            id, "appt-ns", appointment, "assessment"})
                      : pathway::domain::PathwayCommand(
                            pathway::domain::RecordAttendance{id, "appt-ns", false});
        if (absl::Status s = ExecuteAndWait(service, std::move(command), key); !s.ok()) {
          store.Shutdown();
          return absl::InternalError(
              absl::StrCat("pathway ", p, " step ", step, ": ", s.ToString()));
        }
      }
    }
    uint64_t after = 0;
    pathway::v1::PathwayEvent event;
    while (true) {
      absl::StatusOr<std::vector<es::storage::OutboxEntry>> page = store.ReadLog(after, 10000);
      if (!page.ok()) return page.status();
      if (page->empty()) break;
      for (es::storage::OutboxEntry& entry : *page) {
        Record r;
        r.headers = es::outbox::CloudEventHeaders(entry.event);
        r.key = entry.event.partition_key();
        r.value = std::move(*entry.event.mutable_payload());
        if (event.ParseFromString(r.value)) r.stream_id = event.metadata().stream_id();
        records.push_back(std::move(r));
        after = entry.sequence;
      }
    }
    store.Shutdown();
  }
  db->reset();
  std::filesystem::remove_all(dir, error);
  const int64_t expected = dataset.events + 2 * triggers;
  if (static_cast<int64_t>(records.size()) != expected) {
    return absl::InternalError(
        absl::StrCat("the log holds ", records.size(), " events, not ", expected));
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

std::atomic<int64_t> g_produce_failures{0};

// A producer as the outbox relay's (idempotent, acks=all), with the given linger.
absl::StatusOr<rd_kafka_t*> NewProducer(const std::string& bootstrap,
                                        const std::string& linger_ms) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] : std::vector<std::pair<const char*, std::string>>{
           {"bootstrap.servers", bootstrap},
           {"enable.idempotence", "true"},
           {"acks", "all"},
           {"linger.ms", linger_ms},
           {"queue.buffering.max.messages", "2000000"},
           {"queue.buffering.max.kbytes", "2097151"}}) {
    if (absl::Status s = SetConf(conf, name, value); !s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) ++g_produce_failures;
  });
  char errstr[512];
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (producer == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("producer: ", errstr));
  }
  return producer;
}

absl::Status ProduceOne(rd_kafka_t* producer, const Record& r) {
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
      return absl::InternalError(absl::StrCat("produce: ", rd_kafka_err2str(err)));
    }
    rd_kafka_poll(producer, 10);
  }
  rd_kafka_poll(producer, 0);
  return absl::OkStatus();
}

absl::Status FlushAndDestroy(rd_kafka_t* producer) {
  const rd_kafka_resp_err_t flushed = rd_kafka_flush(producer, 120'000);
  rd_kafka_destroy(producer);
  if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat("flush: ", rd_kafka_err2str(flushed)));
  }
  if (g_produce_failures > 0) {
    return absl::InternalError(absl::StrCat(g_produce_failures.load(), " records not delivered"));
  }
  return absl::OkStatus();
}

absl::Status ProduceAll(const std::string& bootstrap, const std::vector<Record>& records,
                        size_t begin, size_t end) {
  absl::StatusOr<rd_kafka_t*> producer = NewProducer(bootstrap, "5");
  if (!producer.ok()) return producer.status();
  for (size_t i = begin; i < end; ++i) {
    if (absl::Status s = ProduceOne(*producer, records[i]); !s.ok()) {
      rd_kafka_destroy(*producer);
      return s;
    }
  }
  return FlushAndDestroy(*producer);
}

absl::StatusOr<std::unique_ptr<es::kafka::EmbeddedBroker>> StartBroker() {
  return es::kafka::EmbeddedBroker::Start({.topics = {{kPathwayTopic, kPartitions},
                                                      {kReferralTopic, kPartitions},
                                                      {kNotifyTopic, kPartitions},
                                                      {kDeadLetterTopic, 1}}});
}

notify::Config NotifyConfig(const std::string& data_dir, const std::string& kafka) {
  notify::Config config = notify::Config::ForTest(data_dir, kafka, CatalogueDir());
  config.pathway_topic = kPathwayTopic;
  config.referral_topic = kReferralTopic;
  config.dead_letter_topic = kDeadLetterTopic;
  config.topic = kNotifyTopic;
  config.service.pseudonym_secret = kPseudonymSecret;
  config.service.sync_wal = true;  // as in production
  config.service.log_level = "warning";
  config.consumer_kafka_options.push_back({"queued.min.messages", "1000000"});
  config.consumer_kafka_options.push_back({"fetch.wait.max.ms", "10"});
  return config;
}

// ---------------------------------------------------------------------------------------------
// notify_schedule

struct Rate {
  double per_second = 0;
  double seconds = 0;
};

// The projection ceiling: consume, decode, 2 puts per record + offsets, one synced batch per
// 1000 records.
absl::StatusOr<Rate> RunCeiling(const std::string& bootstrap, int64_t expected,
                                const std::string& dir) {
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  absl::StatusOr<std::unique_ptr<es::storage::RocksDb>> db =
      es::storage::RocksDb::Open({.path = dir, .sync_wal = true});
  if (!db.ok()) return db.status();
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] :
       std::vector<std::pair<const char*, std::string>>{{"bootstrap.servers", bootstrap},
                                                        {"group.id", "bench-notify-ceiling"},
                                                        {"enable.auto.commit", "false"},
                                                        {"enable.auto.offset.store", "false"},
                                                        {"auto.offset.reset", "earliest"},
                                                        {"queued.min.messages", "1000000"},
                                                        {"fetch.wait.max.ms", "10"}}) {
    if (absl::Status s = SetConf(conf, name, value); !s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
  }
  char errstr[512];
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  if (consumer == nullptr) return absl::InternalError(errstr);
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(kPartitions);
  for (int p = 0; p < kPartitions; ++p) {
    rd_kafka_topic_partition_list_add(list, kPathwayTopic, p)->offset = RD_KAFKA_OFFSET_INVALID;
  }
  rd_kafka_assign(consumer, list);
  rd_kafka_topic_partition_list_destroy(list);

  es::storage::RocksDb& rocks = **db;
  rocksdb::ColumnFamilyHandle* views = rocks.handle(es::storage::Family::kViews);
  rocksdb::ColumnFamilyHandle* offsets = rocks.handle(es::storage::Family::kOffsets);
  std::vector<int64_t> next_offset(kPartitions, -1);
  std::vector<bool> touched(kPartitions, false);
  rocksdb::WriteBatch batch;
  int in_batch = 0;
  int64_t consumed = 0, first_count = 0;
  absl::Time first_at, last_at;
  absl::Status status;
  pathway::v1::PathwayEvent event;
  std::string key;
  const absl::Time give_up = absl::Now() + absl::Minutes(5);
  auto flush = [&]() -> absl::Status {
    for (int p = 0; p < kPartitions; ++p) {
      if (!touched[p]) continue;
      batch.Put(offsets, absl::StrCat("bench-ceiling/", kPathwayTopic, "/", p),
                es::storage::EncodeBigEndian64(static_cast<uint64_t>(next_offset[p])));
      touched[p] = false;
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
      next_offset[m->partition] = m->offset + 1;
      touched[m->partition] = true;
      ++consumed;
      if (++in_batch >= kBatch || consumed == expected) status = flush();
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  if (!status.ok()) return status;
  const double seconds = absl::ToDoubleSeconds(last_at - first_at);
  return Rate{seconds > 0 ? static_cast<double>(expected - first_count) / seconds : 0, seconds};
}

absl::StatusOr<size_t> CountDispatchRows(es::storage::ViewStore& views, size_t limit) {
  absl::StatusOr<std::vector<es::storage::ViewRow>> rows =
      views.Scan(notify::views::DispatchPrefix(), "", limit);
  if (!rows.ok()) return rows.status();
  return rows->size();
}

absl::StatusOr<Rate> RunOursSchedule(const std::string& bootstrap, int64_t expected,
                                     const std::string& dir, size_t* reminders) {
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  es::ManualClock clock(AnchorNoon());
  const absl::Time started = absl::Now();
  absl::StatusOr<std::unique_ptr<notify::NotifyServer>> server =
      notify::NotifyServer::Start(NotifyConfig(dir, bootstrap), &clock);
  if (!server.ok()) return server.status();
  es::storage::ViewStore& views = (*server)->service().views();
  const absl::Time give_up = started + absl::Minutes(5);
  absl::Time first_at;
  size_t first_count = 0;
  // The first reminder: a scan of one row, polled every 2 ms.
  while (true) {
    absl::StatusOr<size_t> any = CountDispatchRows(views, 1);
    if (!any.ok()) return any.status();
    if (*any > 0) {
      first_at = absl::Now();
      absl::StatusOr<size_t> n = CountDispatchRows(views, SIZE_MAX);
      if (!n.ok()) return n.status();
      first_count = *n;
      break;
    }
    if (absl::Now() > give_up) return absl::DeadlineExceededError("no reminder after 5 minutes");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  Note("  ours: first reminder %.1f s after Start() (group join)",
       absl::ToDoubleSeconds(first_at - started));
  // Caught up (SERVING): every pre-produced record is stored, with its reminders.
  while (!(*server)->ready()) {
    if (absl::Now() > give_up) return absl::DeadlineExceededError("not caught up after 5 minutes");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const absl::Time last_at = absl::Now();
  absl::StatusOr<size_t> total = CountDispatchRows(views, SIZE_MAX);
  if (!total.ok()) return total.status();
  *reminders = *total;
  (*server)->Shutdown();
  if (*total == 0) return absl::InternalError("no reminders");
  // Events handled before the first observation, estimated from the reminders then.
  const double before = static_cast<double>(expected) * static_cast<double>(first_count) /
                        static_cast<double>(*total);
  const double seconds = absl::ToDoubleSeconds(last_at - first_at);
  Note("  ours: %zu reminders (%zu at the first observation)", *total, first_count);
  return Rate{seconds > 0 ? (static_cast<double>(expected) - before) / seconds : 0, seconds};
}

absl::Status RunSchedule(const std::vector<Record>& records, int64_t events,
                         const std::string& scratch, const std::string& name) {
  absl::StatusOr<std::unique_ptr<es::kafka::EmbeddedBroker>> broker = StartBroker();
  if (!broker.ok()) return broker.status();
  const std::string bootstrap = (*broker)->bootstrap_servers();
  if (absl::Status s = ProduceAll(bootstrap, records, 0, static_cast<size_t>(events)); !s.ok())
    return s;
  Note("notify_schedule: %lld pathway events produced", static_cast<long long>(events));
  CpuWindow ceiling_cpu;
  absl::StatusOr<Rate> ceiling = RunCeiling(bootstrap, events, scratch + "/ceiling");
  ceiling_cpu.Stop();
  if (!ceiling.ok()) return ceiling.status();
  Note("ceiling: %.0f events/s (%.2f s)", ceiling->per_second, ceiling->seconds);
  ceiling_cpu.Report("schedule ceiling");
  CpuWindow ours_cpu;
  size_t reminders = 0;
  absl::StatusOr<Rate> ours = RunOursSchedule(bootstrap, events, scratch + "/schedule", &reminders);
  ours_cpu.Stop();
  if (!ours.ok()) return ours.status();
  Note("ours:    %.0f events/s (%.2f s)", ours->per_second, ours->seconds);
  ours_cpu.Report("schedule ours (group join included)");
  PrintRate(name, ours->per_second, ceiling->per_second, "events/s");
  broker->reset();
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// notify_stream: clients

class Collector {
 public:
  // Ours: a pathway's index -> the time its trigger was produced. Ceiling: send time in the cursor.
  Collector(bool ceiling, std::unordered_map<std::string, size_t> index, size_t triggers)
      : ceiling_(ceiling), index_(std::move(index)), produced_ns_(triggers) {
    for (auto& t : produced_ns_) t.store(0);
  }
  void SetProduced(size_t i, int64_t ns) { produced_ns_[i].store(ns, std::memory_order_release); }

  void Connected(bool ok) {
    std::lock_guard<std::mutex> lock(mu_);
    if (ok)
      ++connected_;
    else
      ++failed_;
    cv_.notify_all();
  }
  void Received(const notify::v1::NotificationUpdate& update, int64_t now) {
    int64_t sent = 0;
    if (ceiling_) {
      if (!absl::SimpleAtoi(update.cursor(), &sent)) return;
    } else {
      if (update.notification().kind() != notify::v1::NO_SHOW_ALERT) return;
      auto it = index_.find(update.notification().pathway_id());
      if (it == index_.end()) return;
      sent = produced_ns_[it->second].load(std::memory_order_acquire);
      if (sent == 0) return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (sample_.empty()) sample_ = update.SerializeAsString();
    delays_ms_.push_back(static_cast<double>(now - sent) / 1e6);
    cv_.notify_all();
  }
  void Ended() {
    std::lock_guard<std::mutex> lock(mu_);
    ++ended_;
    cv_.notify_all();
  }
  bool WaitConnected(int n, absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout), [&] {
      return connected_ + failed_ >= n;
    }) && failed_ == 0;
  }
  bool WaitReceived(size_t n, absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                        [&] { return delays_ms_.size() >= n; });
  }
  void WaitEnded(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return ended_ >= n; });
  }
  std::vector<double> delays() {
    std::lock_guard<std::mutex> lock(mu_);
    return delays_ms_;
  }
  std::string sample() {
    std::lock_guard<std::mutex> lock(mu_);
    return sample_;
  }

 private:
  const bool ceiling_;
  const std::unordered_map<std::string, size_t> index_;
  std::vector<std::atomic<int64_t>> produced_ns_;
  std::mutex mu_;
  std::condition_variable cv_;
  int connected_ = 0, failed_ = 0, ended_ = 0;
  std::vector<double> delays_ms_;
  std::string sample_;
};

class Watcher final : public grpc::ClientReadReactor<notify::v1::NotificationUpdate> {
 public:
  Watcher(notify::v1::NotifyService::Stub* stub, const std::string& unit, Collector* collector)
      : collector_(collector) {
    request_.set_unit(unit);
    context_.AddMetadata("x-actor-id", "bench-watcher");
    context_.AddMetadata("x-actor-role", "coordinator");
    stub->async()->WatchNotifications(&context_, &request_, this);
    StartRead(&update_);
    StartCall();
  }
  void OnReadInitialMetadataDone(bool ok) override { collector_->Connected(ok); }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    collector_->Received(update_, NowNs());
    StartRead(&update_);
  }
  void OnDone(const grpc::Status& status) override {
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED &&
        status.error_code() != grpc::StatusCode::UNAVAILABLE) {
      Note("watch ended: %d %s", status.error_code(), status.error_message().c_str());
    }
    collector_->Ended();
  }
  void Cancel() { context_.TryCancel(); }

 private:
  Collector* collector_;
  grpc::ClientContext context_;
  notify::v1::WatchNotificationsRequest request_;
  notify::v1::NotificationUpdate update_;
};

struct Delays {
  double p50 = 0, p99 = 0;
  size_t samples = 0;
};

Delays Percentiles(std::vector<double> all, size_t warmup) {
  Delays d;
  if (all.size() <= warmup) return d;
  // Delivery order is roughly trigger order: the first deliveries are the warm-up.
  std::vector<double> v(all.begin() + static_cast<std::ptrdiff_t>(warmup), all.end());
  std::sort(v.begin(), v.end());
  d.samples = v.size();
  d.p50 = v[v.size() / 2];
  d.p99 = v[std::min(v.size() - 1, static_cast<size_t>(static_cast<double>(v.size()) * 0.99))];
  return d;
}

struct Clients {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<notify::v1::NotifyService::Stub> stub;
  std::vector<std::unique_ptr<Watcher>> watchers;
  Collector* collector = nullptr;
  ~Clients() {
    for (auto& w : watchers) w->Cancel();
    if (collector != nullptr) collector->WaitEnded(static_cast<int>(watchers.size()));
  }
};

absl::Status OpenClients(Clients& clients, int port, int n, Collector* collector) {
  grpc::ChannelArguments args;
  clients.channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                              grpc::InsecureChannelCredentials(), args);
  clients.stub = notify::v1::NotifyService::NewStub(clients.channel);
  clients.collector = collector;
  for (int i = 0; i < n; ++i) {
    clients.watchers.push_back(
        std::make_unique<Watcher>(clients.stub.get(), UnitName(i % kUnits), collector));
  }
  if (!collector->WaitConnected(n, absl::Seconds(30))) {
    return absl::DeadlineExceededError("the watch streams did not all open");
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// notify_stream: servers (child processes)

int ServeNotify(const std::string& ready_file, const std::string& data_dir,
                const std::string& kafka) {
  es::ManualClock clock(AnchorNoon());
  absl::StatusOr<std::unique_ptr<notify::NotifyServer>> server =
      notify::NotifyServer::Start(NotifyConfig(data_dir, kafka), &clock);
  if (!server.ok()) {
    Note("notify server: %s", std::string(server.status().message()).c_str());
    return 1;
  }
  const absl::Time give_up = absl::Now() + absl::Minutes(5);
  while (!(*server)->ready()) {
    if (absl::Now() > give_up) {
      Note("notify server: not caught up after 5 minutes");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!WriteReadyFile(ready_file, absl::StrCat((*server)->port())).ok()) return 1;
  WaitForStdinClosed();
  (*server)->Shutdown();
  return 0;
}

class BareWatchService;

class BareStream final : public grpc::ServerWriteReactor<notify::v1::NotificationUpdate> {
 public:
  BareStream(BareWatchService* service, std::string unit)
      : service_(service), unit_(std::move(unit)) {
    StartSendInitialMetadata();
  }
  const std::string& unit() const { return unit_; }
  // From the sender thread: queue one update (the reactor keeps one write in flight).
  void Send(notify::v1::NotificationUpdate update) {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    queue_.push_back(std::move(update));
    if (!writing_) {
      writing_ = true;
      StartWrite(&queue_.front());
    }
  }
  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.pop_front();
    if (!ok) {
      writing_ = false;
      return;
    }
    if (!queue_.empty()) {
      StartWrite(&queue_.front());
    } else {
      writing_ = false;
    }
  }
  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!finished_) {
      finished_ = true;
      Finish(grpc::Status::CANCELLED);
    }
  }
  void OnDone() override;

 private:
  BareWatchService* service_;
  const std::string unit_;
  std::mutex mu_;
  std::deque<notify::v1::NotificationUpdate> queue_;
  bool writing_ = false;
  bool finished_ = false;
};

class BareWatchService final : public notify::v1::NotifyService::CallbackService {
 public:
  grpc::ServerWriteReactor<notify::v1::NotificationUpdate>* WatchNotifications(
      grpc::CallbackServerContext* /*context*/,
      const notify::v1::WatchNotificationsRequest* request) override {
    auto* stream = new BareStream(this, request->unit());
    std::lock_guard<std::mutex> lock(mu_);
    streams_.push_back(stream);
    cv_.notify_all();
    return stream;
  }
  void Remove(BareStream* stream) {
    std::lock_guard<std::mutex> lock(mu_);
    streams_.erase(std::remove(streams_.begin(), streams_.end(), stream), streams_.end());
  }
  bool WaitStreams(size_t n, absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                        [&] { return streams_.size() >= n; });
  }
  // The send decision: the time goes into the cursor, then to every stream of the unit.
  void SendToUnit(const std::string& unit, const notify::v1::NotificationUpdate& sample) {
    std::lock_guard<std::mutex> lock(mu_);
    notify::v1::NotificationUpdate update = sample;
    update.set_cursor(absl::StrCat(NowNs()));
    for (BareStream* s : streams_) {
      if (s->unit() == unit) s->Send(update);
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<BareStream*> streams_;
};

void BareStream::OnDone() {
  service_->Remove(this);
  delete this;
}

int ServeBareWatch(const std::string& ready_file, const std::string& sample_file, int64_t clients,
                   int64_t updates, double rate) {
  notify::v1::NotificationUpdate sample;
  {
    std::ifstream in(sample_file, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    if (!sample.ParseFromString(bytes.str())) {
      Note("bare server: cannot read the sample update %s", sample_file.c_str());
      return 1;
    }
  }
  BareWatchService service;
  absl::StatusOr<std::unique_ptr<es::rpc::GrpcServer>> server = es::rpc::GrpcServer::Start(
      "127.0.0.1:0", {{&service, notify::v1::NotifyService::service_full_name()}});
  if (!server.ok()) return 1;
  (*server)->SetServing(true);
  if (!WriteReadyFile(ready_file, absl::StrCat((*server)->port())).ok()) return 1;
  std::thread sender([&] {
    if (!service.WaitStreams(static_cast<size_t>(clients), absl::Seconds(60))) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const absl::Time start = absl::Now();
    for (int64_t i = 0; i < updates; ++i) {
      const absl::Time at = start + absl::Seconds(static_cast<double>(i) / rate);
      const absl::Duration wait = at - absl::Now();
      if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
      service.SendToUnit(UnitName(static_cast<int>(i % kUnits)), sample);
    }
  });
  WaitForStdinClosed();
  sender.join();
  (*server)->Shutdown(absl::Seconds(5));
  return 0;
}

// ---------------------------------------------------------------------------------------------
// notify_stream: the run

struct StreamFlags {
  int64_t triggers = 0;
  double rate = 100;
  int64_t clients = 100;
};

absl::Status RunStream(const std::vector<Record>& records, int64_t triggers, const StreamFlags& f,
                       const std::string& scratch) {
  absl::StatusOr<std::unique_ptr<es::kafka::EmbeddedBroker>> broker = StartBroker();
  if (!broker.ok()) return broker.status();
  const std::string bootstrap = (*broker)->bootstrap_servers();
  const size_t first_trigger = records.size() - static_cast<size_t>(triggers);
  if (absl::Status s = ProduceAll(bootstrap, records, 0, first_trigger); !s.ok()) return s;
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < static_cast<size_t>(triggers); ++i)
    index[records[first_trigger + i].stream_id] = i;
  // Every no-show reaches every client of its unit (two with 100 clients over 50 units); the
  // triggers go round the units in data-set order (pathway p is in unit p % 50), so this counts.
  size_t expected = 0;
  for (int64_t i = 0; i < triggers; ++i) {
    for (int64_t c = 0; c < f.clients; ++c) expected += (c % kUnits == i % kUnits) ? 1 : 0;
  }
  const size_t warmup = expected / 20;

  // Ours.
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start({"--serve=notify", absl::StrCat("--data-dir=", scratch, "/stream-notify"),
                           absl::StrCat("--kafka=", bootstrap)},
                          scratch, absl::Minutes(5));
  if (!child.ok()) return child.status();
  int port = 0;
  if (!absl::SimpleAtoi((*child)->ready(), &port)) return absl::InternalError("bad port");
  Note("notify_stream: notify server caught up on %zu events %.1f s after start", first_trigger,
       absl::ToDoubleSeconds(absl::Now() - start));
  Collector ours(false, index, static_cast<size_t>(triggers));
  Delays ours_delays;
  std::string sample;
  {
    Clients clients;
    if (absl::Status s = OpenClients(clients, port, static_cast<int>(f.clients), &ours); !s.ok())
      return s;
    absl::StatusOr<rd_kafka_t*> producer = NewProducer(bootstrap, "0");
    if (!producer.ok()) return producer.status();
    CpuWindow cpu((*child)->pid());
    const absl::Time t0 = absl::Now();
    for (int64_t i = 0; i < triggers; ++i) {
      const absl::Time at = t0 + absl::Seconds(static_cast<double>(i) / f.rate);
      const absl::Duration wait = at - absl::Now();
      if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
      ours.SetProduced(static_cast<size_t>(i), NowNs());
      if (absl::Status s = ProduceOne(*producer, records[first_trigger + static_cast<size_t>(i)]);
          !s.ok()) {
        rd_kafka_destroy(*producer);
        return s;
      }
    }
    const bool all = ours.WaitReceived(expected, absl::Seconds(30));
    cpu.Stop();
    cpu.Report("stream ours", "notify server");
    if (absl::Status s = FlushAndDestroy(*producer); !s.ok()) return s;
    std::vector<double> delays = ours.delays();
    if (!all) {
      return absl::InternalError(
          absl::StrCat("ours: ", delays.size(), " of ", expected, " updates received"));
    }
    ours_delays = Percentiles(delays, warmup);
    sample = ours.sample();
  }
  if (absl::Status s = (*child)->Stop(); !s.ok())
    Note("notify server stop: %s", s.ToString().c_str());
  broker->reset();
  Note("ours:    p50 %.3f ms  p99 %.3f ms over %zu deliveries", ours_delays.p50, ours_delays.p99,
       ours_delays.samples);

  // Ceiling.
  const std::string sample_file = scratch + "/sample-update.bin";
  {
    std::ofstream out(sample_file, std::ios::binary);
    out << sample;
  }
  notify::v1::NotificationUpdate parsed;
  parsed.ParseFromString(sample);
  Note("ceiling: the bare server streams the received update (%zu bytes, kind %s)", sample.size(),
       notify::v1::NotificationKind_Name(parsed.notification().kind()).c_str());
  absl::StatusOr<std::unique_ptr<ChildProcess>> bare = ChildProcess::Start(
      {"--serve=bare-watch", absl::StrCat("--sample=", sample_file),
       absl::StrCat("--clients=", f.clients), absl::StrCat("--triggers=", triggers),
       absl::StrCat("--trigger-rate=", f.rate)},
      scratch, absl::Seconds(30));
  if (!bare.ok()) return bare.status();
  if (!absl::SimpleAtoi((*bare)->ready(), &port)) return absl::InternalError("bad port");
  Collector ceiling(true, {}, 0);
  Delays ceiling_delays;
  {
    Clients clients;
    if (absl::Status s = OpenClients(clients, port, static_cast<int>(f.clients), &ceiling); !s.ok())
      return s;
    CpuWindow cpu((*bare)->pid());
    const bool all = ceiling.WaitReceived(
        expected, absl::Seconds(30) + absl::Seconds(static_cast<double>(triggers) / f.rate));
    cpu.Stop();
    cpu.Report("stream ceiling", "bare server");
    std::vector<double> delays = ceiling.delays();
    if (!all) {
      return absl::InternalError(
          absl::StrCat("ceiling: ", delays.size(), " of ", expected, " updates received"));
    }
    ceiling_delays = Percentiles(delays, warmup);
  }
  if (absl::Status s = (*bare)->Stop(); !s.ok()) Note("bare server stop: %s", s.ToString().c_str());
  Note("ceiling: p50 %.3f ms  p99 %.3f ms over %zu deliveries", ceiling_delays.p50,
       ceiling_delays.p99, ceiling_delays.samples);
  PrintLatency("notify_stream_p50", ours_delays.p50, ceiling_delays.p50);
  PrintLatency("notify_stream_p99", ours_delays.p99, ceiling_delays.p99);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------

int RunServer(int argc, char** argv) {
  std::string mode, ready_file, data_dir, kafka, sample;
  int64_t clients = 100, triggers = 0;
  double rate = 100;
  FlagSet flags("server mode of bench_notify (started by the binary itself)\n");
  flags.String("--serve", &mode);
  flags.String("--ready-file", &ready_file);
  flags.String("--data-dir", &data_dir);
  flags.String("--kafka", &kafka);
  flags.String("--sample", &sample);
  flags.Int("--clients", &clients, 1);
  flags.Int("--triggers", &triggers, 1);
  flags.Double("--trigger-rate", &rate, 0.001);
  ParseOrExit(flags, argc, argv);
  es::runtime::SetMinLogLevel(es::runtime::LogLevel::kWarning);
  if (mode == "notify") return ServeNotify(ready_file, data_dir, kafka);
  if (mode == "bare-watch") return ServeBareWatch(ready_file, sample, clients, triggers, rate);
  Note("unknown --serve=%s", mode.c_str());
  return 2;
}

int Run(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--serve=", 8) == 0) return RunServer(argc, argv);
  }
  bool quick = QuickFromEnvironment();
  bool skip_schedule = false, skip_stream = false;
  int64_t pathways = 0;
  StreamFlags sf;
  FlagSet flags(kUsage);
  flags.Bool("--quick", &quick);
  flags.Int("--pathways", &pathways, 0);
  flags.Int("--triggers", &sf.triggers, 0);
  flags.Double("--trigger-rate", &sf.rate, 0.001);
  flags.Int("--clients", &sf.clients, 1);
  flags.Bool("--skip-schedule", &skip_schedule);
  flags.Bool("--skip-stream", &skip_stream);
  ParseOrExit(flags, argc, argv);
  if (pathways == 0) pathways = quick ? 2'000 : 20'000;
  if (sf.triggers == 0) sf.triggers = quick ? 200 : 2'000;
  sf.triggers = std::min(sf.triggers, pathways);
  es::runtime::SetMinLogLevel(es::runtime::LogLevel::kWarning);
  Note(
      "notify: %lld pathways (%lld events), %lld triggers at %.0f/s to %lld clients; load average "
      "%s",
      static_cast<long long>(pathways), static_cast<long long>(2 * pathways),
      static_cast<long long>(sf.triggers), sf.rate, static_cast<long long>(sf.clients),
      LoadAverage().c_str());

  absl::StatusOr<Dataset> dataset = EnsureDataset(Story::kOpenDeadline, pathways);
  if (!dataset.ok()) return Report(dataset.status()), 1;
  char scratch_template[] = "/tmp/pathways-bench-notify-XXXXXX";
  if (mkdtemp(scratch_template) == nullptr) {
    std::perror("bench: mkdtemp");
    return 1;
  }
  const std::string scratch = scratch_template;
  int exit_code = 0;
  {
    absl::StatusOr<std::vector<Record>> records =
        BuildRecords(*dataset, sf.triggers, scratch + "/gen");
    if (!records.ok()) {
      Report(records.status());
      exit_code = 1;
    } else {
      const std::string name = pathways == 20'000
                                   ? "notify_schedule"
                                   : absl::StrCat("notify_schedule_", SizeLabel(2 * pathways));
      if (!skip_schedule) {
        if (absl::Status s = RunSchedule(*records, dataset->events, scratch, name); !s.ok()) {
          Report(s);
          exit_code = 1;
        }
      }
      if (!skip_stream) {
        if (absl::Status s = RunStream(*records, sf.triggers, sf, scratch); !s.ok()) {
          Report(s);
          exit_code = 1;
        }
      }
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(scratch, ignored);
  return exit_code;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) { return bench::Run(argc, argv); }
