#include "bench/common/dataset.h"

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/common/report.h"
#include "bench/submit_referral/fodselsnummer.h"
#include "clinical/catalogue.h"
#include "libs/eventing/clock.h"
#include "libs/eventing/ids.h"
#include "libs/eventing/proto_time.h"
#include "libs/eventing/pseudonym.h"
#include "libs/storage/event_store.h"
#include "libs/storage/rocks_db.h"
#include "libs/storage/view_store.h"
#include "rocksdb/db.h"
#include "services/pathway/app/pathway_service.h"
#include "services/pathway/domain/pathway_decider.h"
#include "services/pathway/views/pathway_view_rows.h"
#include "services/shared/patient_identity.h"
#include "services/shared/service_config.h"

#ifndef BENCH_SOURCE_DIR
#error "BENCH_SOURCE_DIR must be defined (bench/common/CMakeLists.txt)"
#endif
#ifndef BENCH_BINARY_DIR
#error "BENCH_BINARY_DIR must be defined (bench/common/CMakeLists.txt)"
#endif

namespace bench {
namespace {

namespace domain = pathway::domain;
namespace v1 = pathway::v1;
using es::storage::Family;

// Bump when the generated data changes: cached sets of another format are loaded again.
constexpr char kFormat[] = "pathways-bench-dataset format=1 anchor=2026-11-02";

absl::TimeZone Oslo() {
  static const absl::TimeZone zone = [] {
    absl::TimeZone z;
    if (!absl::LoadTimeZone("Europe/Oslo", &z)) z = absl::UTCTimeZone();
    return z;
  }();
  return zone;
}

absl::Time At(absl::CivilDay day, int hour) {
  return absl::FromCivil(absl::CivilSecond(day.year(), day.month(), day.day(), hour, 0, 0), Oslo());
}

std::string StartKey(Story story, int64_t p) {
  return absl::StrCat("bench-", StoryName(story), "-", p, "-0");
}

// The command `step` of pathway `p`. `patient` matters for the start only. Dates are relative
// to the anchor and never after it, and every deadline that stays open is due after it.
domain::PathwayCommand CommandFor(Story story, int64_t p, int step, const std::string& id,
                                  const referral::v1::PatientIdentifier& patient) {
  const absl::CivilDay today = AnchorDay();
  const std::string unit = UnitName(static_cast<int>(p % kUnits));
  const std::string coordinator = absl::StrFormat("coord-%02d-%02d", static_cast<int>(p % kUnits),
                                                  static_cast<int>((p / kUnits) % 20));
  // Every tenth pathway of each unit is inpatient (shorter deadlines).
  const bool inpatient = (p / kUnits) % 10 == 9;
  const catalogue::v1::Setting setting =
      inpatient ? catalogue::v1::INPATIENT : catalogue::v1::OUTPATIENT;
  auto start = [&](absl::CivilDay start_date, absl::CivilDay legal) {
    domain::StartPathway c;
    c.pathway_id = id;
    c.pathway_type = "NO_TSB";
    c.unit = unit;
    c.patient = patient;
    c.setting = setting;
    c.start_date = start_date;
    c.legal_deadline = legal;
    c.coordinator_id = coordinator;
    c.referral_id = es::NameUuid("referral", StartKey(story, p));
    c.today = today;
    return domain::PathwayCommand(std::move(c));
  };
  auto point = [&](const char* point_id, const char* outcome, absl::CivilDay date) {
    return domain::PathwayCommand(domain::RecordPoint{id, point_id, outcome, date, today});
  };

  if (story == Story::kOpenDeadline) {
    // First attendance in the last 20 (outpatient) / 6 (inpatient) days: the decision
    // deadline (21 / 7 days) is due 1-21 days after the anchor.
    const int64_t back = (p / kUnits) % (inpatient ? 7 : 21);
    const absl::CivilDay attended = today - back;
    const absl::CivilDay started = attended - (p / 7) % 30;
    if (step == 0) return start(started, started + 42);
    return point("forste_fremmote", "", attended);
  }

  // kLongPathway: started 61-100 days before the anchor; the second evaluation is 60 days in,
  // so the next evaluation deadline (56 / 42 days) is due after the anchor.
  const absl::CivilDay s = today - 100 + (p / kUnits) % 40;
  switch (step) {
    case 0:
      return start(s, s + 30);
    case 1:
      return point("forste_fremmote", "", s + 5);
    case 2:
      return domain::ScheduleAppointment{id, "appt-1", At(s + 10, 9), "assessment"};
    case 3:
      return domain::RecordAttendance{id, "appt-1", true};
    case 4:
      return point("klinisk_beslutning", "CT", s + 14);
    case 5: {
      referral::v1::MunicipalContact contact;
      contact.set_name("Kari Nordmann");
      contact.set_municipality(absl::StrFormat("kommune-%03d", static_cast<int>(p % 356)));
      contact.set_phone("+4722000000");
      return domain::ScheduleMeeting{id, "meet-1", At(s + 18, 10), contact};
    }
    case 6:
      return domain::RecordMeetingHeld{id, "meet-1", s + 18, today};
    case 7:
      return point("evaluering", "", s + 18);
    case 8:
      return domain::ScheduleAppointment{id, "appt-2", At(s + 40, 13), "treatment"};
    default:
      return point("evaluering", "", s + 60);
  }
}

// Drives PathwayService::Execute with up to `max_active` pathways in flight, each one command
// at a time: the completion of a command (on the event store's writer thread) queues the
// pathway's next command for the worker threads, which do the reads and the decision.
class LoadDriver {
 public:
  LoadDriver(pathway::app::PathwayService& service, Story story, int64_t pathways, int max_active)
      : service_(service),
        story_(story),
        pathways_(pathways),
        steps_(EventsPerPathway(story)),
        max_active_(max_active),
        step_(static_cast<size_t>(pathways), 0) {}

  absl::Status Run(int threads) {
    const absl::Time started = absl::Now();
    std::vector<std::thread> workers;
    for (int i = 0; i < threads; ++i) workers.emplace_back([this] { Work(); });
    {
      std::unique_lock<std::mutex> lock(mu_);
      int64_t last_done = 0;
      absl::Time last_at = started;
      while (error_.ok() && done_ < pathways_) {
        // Polled: waking this thread on every completion would cost more than the check.
        finished_.wait_for(lock, std::chrono::seconds(1));
        const absl::Time now = absl::Now();
        if (now - last_at >= absl::Seconds(30) || done_ == pathways_) {
          Note("  loaded %lld / %lld pathways (%.0f commands/s lately), load average %s",
               static_cast<long long>(done_), static_cast<long long>(pathways_),
               static_cast<double>((done_ - last_done) * steps_) /
                   absl::ToDoubleSeconds(now - last_at),
               LoadAverage().c_str());
          last_done = done_;
          last_at = now;
        }
      }
      stopping_ = true;
      work_.notify_all();
    }
    for (std::thread& worker : workers) worker.join();
    // Commands still in flight after an error complete on the writer thread; wait for them.
    std::unique_lock<std::mutex> lock(mu_);
    finished_.wait(lock, [this] { return in_flight_ == 0; });
    return error_;
  }

 private:
  void Work() {
    while (true) {
      int64_t p = 0;
      int step = 0;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_.wait(lock, [this] {
          return stopping_ || !ready_.empty() || (next_new_ < pathways_ && active_ < max_active_);
        });
        if (stopping_) return;
        if (!ready_.empty()) {
          p = ready_.front();
          ready_.pop_front();
        } else {
          p = next_new_++;
          ++active_;
        }
        step = step_[static_cast<size_t>(p)];
        ++in_flight_;
      }
      Issue(p, step);
    }
  }

  void Issue(int64_t p, int step) {
    const std::string key0 = StartKey(story_, p);
    const std::string id = es::NameUuid("pathway", key0);  // as the API derives it
    referral::v1::PatientIdentifier patient;
    if (step == 0) {
      patient.set_system(referral::v1::PatientIdentifier::NO_FODSELSNUMMER);
      patient.set_value(numbers_.Next());
    }
    es::app::CommandContext context;
    context.idempotency_key =
        step == 0 ? key0 : absl::StrCat("bench-", StoryName(story_), "-", p, "-", step);
    context.fingerprint = es::Sha256Hex(context.idempotency_key);
    context.actor.set_subject("bench-loader");
    context.actor.set_role("coordinator");
    context.actor.set_organisation(UnitName(static_cast<int>(p % kUnits)));
    service_.Execute(
        CommandFor(story_, p, step, id, patient), std::move(context),
        [this, p, step](absl::StatusOr<es::app::CommandResult> result) { Done(p, step, result); });
  }

  void Done(int64_t p, int step, const absl::StatusOr<es::app::CommandResult>& result) {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    if (!result.ok() || result->replayed) {
      if (error_.ok()) {
        error_ = absl::InternalError(
            absl::StrCat("loading pathway ", p, " command ", step, ": ",
                         result.ok() ? "replayed (the data directory was not empty)"
                                     : result.status().ToString()));
      }
      finished_.notify_all();
      return;
    }
    uint8_t& s = step_[static_cast<size_t>(p)];
    ++s;
    if (s == steps_) {
      ++done_;
      --active_;
      if (done_ == pathways_) finished_.notify_all();
    } else {
      ready_.push_back(p);
    }
    if (stopping_ && in_flight_ == 0) finished_.notify_all();
    work_.notify_one();
  }

  pathway::app::PathwayService& service_;
  const Story story_;
  const int64_t pathways_;
  const int steps_;
  const int max_active_;
  FodselsnummerSource numbers_;

  std::mutex mu_;
  std::condition_variable work_;      // workers: a pathway is ready or may start
  std::condition_variable finished_;  // the driver: all done, an error, nothing in flight
  std::vector<uint8_t> step_;         // guarded by mu_: commands completed per pathway
  std::deque<int64_t> ready_;         // guarded by mu_: pathways whose next command may go
  int64_t next_new_ = 0;              // guarded by mu_
  int64_t active_ = 0;                // guarded by mu_: started, not finished
  int64_t done_ = 0;                  // guarded by mu_
  int64_t in_flight_ = 0;             // guarded by mu_
  bool stopping_ = false;             // guarded by mu_
  absl::Status error_;                // guarded by mu_
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
  domain::PathwayDecider decider;  // refers to `catalogue`
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
  pathways::ServiceConfig defaults;  // the service's defaults: Europe/Oslo, the NO calendar
  absl::StatusOr<absl::TimeZone> zone = defaults.Zone();
  if (!zone.ok()) return zone.status();
  absl::StatusOr<clinical::Calendar> calendar = defaults.WorkingCalendar();
  if (!calendar.ok()) return calendar.status();
  return std::make_unique<Domain>(std::move(*catalogue), std::move(*pseudonymizer),
                                  std::move(*calendar), *zone);
}

absl::Status CompactAll(es::storage::RocksDb& db) {
  rocksdb::FlushOptions flush;
  flush.wait = true;
  for (Family family : {Family::kEvents, Family::kStreams, Family::kLog, Family::kOutbox,
                        Family::kIdempotency, Family::kViews, Family::kOffsets}) {
    rocksdb::Status s = db.db()->Flush(flush, db.handle(family));
    if (!s.ok()) return es::storage::FromRocks(s, "flush");
    rocksdb::CompactRangeOptions compact;
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
    s = db.db()->CompactRange(compact, db.handle(family), nullptr, nullptr);
    if (!s.ok()) return es::storage::FromRocks(s, "compact");
  }
  return absl::OkStatus();
}

absl::Status Load(Story story, int64_t pathways, const std::string& db_dir) {
  absl::StatusOr<std::unique_ptr<Domain>> d = MakeDomain();
  if (!d.ok()) return d.status();
  // The load's own settings: unsynced WAL, bigger memtables. The benchmarks open the directory
  // with the service's settings.
  absl::StatusOr<std::unique_ptr<es::storage::RocksDb>> db =
      es::storage::RocksDb::Open({.path = db_dir,
                                  .sync_wal = false,
                                  .block_cache_bytes = 256ull << 20,
                                  .write_buffer_bytes = 64ull << 20});
  if (!db.ok()) return db.status();
  es::ManualClock clock(AnchorNoon());
  const absl::Time started = absl::Now();
  {
    es::storage::EventStore store(**db);
    es::storage::ViewStore views(**db);
    pathway::app::PathwayService service(store, views, (*d)->decider, (*d)->pseudonymizer, clock,
                                         (*d)->zone, (*d)->calendar, {.topic = kPathwayTopic});
    LoadDriver driver(service, story, pathways, /*max_active=*/4096);
    absl::Status loaded = driver.Run(/*threads=*/2);
    store.Shutdown();
    if (!loaded.ok()) return loaded;
    // As if the relay had published everything: a running service's outbox is near empty.
    if (absl::Status s = store.MarkOutboxDelivered(store.LastSequence()); !s.ok()) return s;
  }
  const double load_seconds = absl::ToDoubleSeconds(absl::Now() - started);
  Note("  %lld commands in %.0f s (%.0f/s); compacting",
       static_cast<long long>(pathways * EventsPerPathway(story)), load_seconds,
       static_cast<double>(pathways * EventsPerPathway(story)) / load_seconds);
  const absl::Time compact_start = absl::Now();
  if (absl::Status c = CompactAll(**db); !c.ok()) return c;
  Note("  compacted in %.0f s", absl::ToDoubleSeconds(absl::Now() - compact_start));
  return absl::OkStatus();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace

int EventsPerPathway(Story story) { return story == Story::kOpenDeadline ? 2 : 10; }
const char* StoryName(Story story) { return story == Story::kOpenDeadline ? "open" : "long"; }

absl::CivilDay AnchorDay() { return absl::CivilDay(2026, 11, 2); }
absl::Time AnchorNoon() { return At(AnchorDay(), 12); }
std::string UnitName(int index) { return absl::StrFormat("unit-%02d", index); }
std::string CatalogueDir() { return std::string(BENCH_SOURCE_DIR) + "/catalogue"; }

std::string DataRoot() {
  const char* dir = std::getenv("BENCH_DATA_DIR");
  if (dir != nullptr && *dir != '\0') return dir;
  return std::string(BENCH_BINARY_DIR) + "/data";
}

absl::StatusOr<Dataset> EnsureDataset(Story story, int64_t pathways) {
  if (pathways < 1) return absl::InvalidArgumentError("pathways: must be >= 1");
  const std::string dir = absl::StrCat(DataRoot(), "/pathways-", StoryName(story), "-", pathways);
  const std::string marker = dir + "/COMPLETE";
  Dataset dataset{dir + "/db", pathways, pathways * EventsPerPathway(story)};
  const std::string expected =
      absl::StrCat(kFormat, " story=", StoryName(story), " pathways=", pathways, "\n");
  const std::string found = ReadFile(marker);
  if (found.rfind(expected, 0) == 0) {
    Note(
        "data set %s: cached (%s)", dir.c_str(),
        found.substr(expected.size(), found.find('\n', expected.size()) - expected.size()).c_str());
    return dataset;
  }
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  if (error) return absl::InternalError(absl::StrCat("cannot remove ", dir, ": ", error.message()));
  std::filesystem::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", error.message()));
  Note("data set %s: loading %lld pathways x %d commands (cached for later runs)", dir.c_str(),
       static_cast<long long>(pathways), EventsPerPathway(story));
  const absl::Time started = absl::Now();
  if (absl::Status s = Load(story, pathways, dataset.db_dir); !s.ok()) return s;
  const double seconds = absl::ToDoubleSeconds(absl::Now() - started);
  {
    std::ofstream out(marker);
    out << expected << absl::StrFormat("loaded in %.0f s, load average %s", seconds, LoadAverage())
        << "\n";
    if (!out.flush()) return absl::InternalError(absl::StrCat("cannot write ", marker));
  }
  return dataset;
}

absl::StatusOr<v1::WorklistResponse> SampleWorklistPage(int entries) {
  absl::StatusOr<std::unique_ptr<Domain>> d = MakeDomain();
  if (!d.ok()) return d.status();
  FodselsnummerSource numbers;
  v1::WorklistResponse page;
  std::string last_key;
  for (int64_t p = 0; page.entries_size() < entries; ++p) {
    const std::string id = es::NameUuid("pathway", StartKey(Story::kOpenDeadline, p));
    referral::v1::PatientIdentifier patient;
    patient.set_system(referral::v1::PatientIdentifier::NO_FODSELSNUMMER);
    patient.set_value(numbers.Next());
    absl::StatusOr<std::string> key =
        pathways::PatientKeyOf(patient, (*d)->pseudonymizer, "patient");
    if (!key.ok()) return key.status();
    v1::Pathway state = (*d)->decider.Initial();
    for (int step = 0; step < EventsPerPathway(Story::kOpenDeadline); ++step) {
      domain::PathwayCommand command = CommandFor(Story::kOpenDeadline, p, step, id, patient);
      if (auto* start = std::get_if<domain::StartPathway>(&command)) start->patient_key = *key;
      absl::StatusOr<std::vector<v1::PathwayEvent>> events = (*d)->decider.Decide(command, state);
      if (!events.ok()) return events.status();
      for (v1::PathwayEvent& event : *events) {
        eventing::v1::EventMetadata& m = *event.mutable_metadata();
        m.set_event_id(es::NewUuid());
        m.set_stream_id(id);
        m.set_stream_version(state.version() + 1);
        m.set_patient_key(*key);
        state = (*d)->decider.Evolve(std::move(state), event);
      }
    }
    for (const auto& [row_key, value] : pathway::views::RowsOf(state)) {
      if (row_key.rfind("wu/", 0) != 0 || page.entries_size() >= entries) continue;
      if (!page.add_entries()->ParseFromString(value)) {
        return absl::DataLossError("sample worklist row: unreadable");
      }
      last_key = row_key;
    }
  }
  page.set_next_page_token(absl::WebSafeBase64Escape(last_key));  // as es::app::NextPageToken
  *page.mutable_today() = es::ToProtoDate(AnchorDay());
  return page;
}

}  // namespace bench
