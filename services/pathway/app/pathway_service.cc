#include "services/pathway/app/pathway_service.h"

#include "absl/strings/str_cat.h"
#include "clinical/calendar.h"
#include "libs/app/paging.h"
#include "libs/eventing/ids.h"
#include "libs/eventing/proto_time.h"
#include "services/pathway/views/pathway_view_rows.h"
#include "services/shared/patient_identity.h"

namespace pathway::app {
namespace {

using es::storage::ViewRow;

google::protobuf::Timestamp OccurredAt(const v1::PathwayEvent& event) {
  auto at_date = [](const eventing::v1::Date& d) {
    return es::ToProtoTimestamp(absl::FromCivil(es::FromProtoDate(d), absl::UTCTimeZone()));
  };
  switch (event.payload_case()) {
    case v1::PathwayEvent::kStarted:
      return at_date(event.started().start_date());
    case v1::PathwayEvent::kPointRecorded:
      return at_date(event.point_recorded().date());
    case v1::PathwayEvent::kPointCorrected:
      return at_date(event.point_corrected().date());
    case v1::PathwayEvent::kAppointmentScheduled:
      return event.appointment_scheduled().at();
    case v1::PathwayEvent::kMeetingScheduled:
      return event.meeting_scheduled().at();
    case v1::PathwayEvent::kMeetingHeld:
      return at_date(event.meeting_held().date());
    case v1::PathwayEvent::kTransferred:
      return at_date(event.transferred().date());
    case v1::PathwayEvent::kEnded:
      return at_date(event.ended().date());
    case v1::PathwayEvent::kDeadlineBreached:
      return at_date(event.deadline_breached().breached_on());
    default:
      return google::protobuf::Timestamp();  // recorded_at tells when
  }
}

// A breach is recorded once per deadline: the same id however often the timer sees it.
std::string EventIdFor(const domain::PathwayCommand& command, const v1::PathwayEvent&) {
  if (const auto* breach = std::get_if<domain::RecordBreach>(&command)) {
    return es::NameUuid("pathway-breach", breach->deadline_id);
  }
  return es::NewUuid();
}

// Reads one page of deadline rows in [from, to) into `entries`; returns the next page token.
absl::StatusOr<std::string> ReadEntryPage(const es::storage::ViewStore& views,
                                          const std::string& from, const std::string& to,
                                          int page_size, Entries* entries) {
  entries->Reserve(entries->size() + page_size);
  std::string last_key;
  absl::StatusOr<size_t> visited = views.VisitRange(
      from, to, static_cast<size_t>(page_size),
      [entries](std::string_view, std::string_view value) {
        if (!entries->Add()->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          return absl::DataLossError("deadline row: unreadable");
        }
        return absl::OkStatus();
      },
      &last_key);
  if (!visited.ok()) return visited.status();
  return es::app::NextPageToken(*visited, last_key, static_cast<size_t>(page_size));
}

}  // namespace

std::string PathwayIdOf(const domain::PathwayCommand& command) {
  return std::visit([](const auto& c) { return c.pathway_id; }, command);
}

PathwayService::PathwayService(es::storage::EventStore& store, es::storage::ViewStore& views,
                               const domain::PathwayDecider& decider,
                               const es::Pseudonymizer& pseudonymizer, const es::Clock& clock,
                               absl::TimeZone zone, const clinical::Calendar& calendar,
                               PathwayServiceOptions options)
    : views_(views),
      decider_(decider),
      pseudonymizer_(pseudonymizer),
      clock_(clock),
      zone_(zone),
      calendar_(calendar),
      executor_(store, decider, clock, {.topic = options.topic, .source = options.source},
                {.view_rows = views::RowsForChange,
                 .occurred_at = OccurredAt,
                 .event_id = EventIdFor,
                 .feed_rows = {}}) {}

absl::CivilDay PathwayService::Today() const { return DayOf(clock_.Now()); }
absl::CivilDay PathwayService::DayOf(absl::Time t) const { return clinical::CivilDayIn(t, zone_); }

void PathwayService::Execute(domain::PathwayCommand command, CommandContext context,
                             CommandCallback done) {
  if (auto* start = std::get_if<domain::StartPathway>(&command)) {
    return Start(std::move(*start), std::move(context), std::move(done));
  }
  std::string id = PathwayIdOf(command);
  executor_.Execute(std::move(id), std::move(command), std::move(context), "", std::move(done));
}

void PathwayService::Start(domain::StartPathway command, CommandContext context,
                           CommandCallback done) {
  referral::v1::PatientIdentifier normalised;
  absl::StatusOr<std::string> key =
      pathways::PatientKeyOf(command.patient, pseudonymizer_, "patient", &normalised);
  if (!key.ok()) return done(key.status());
  command.patient = normalised;
  command.patient_key = *key;

  const std::string active_key = views::ActiveKey(command.unit, command.pathway_type, *key);
  {
    std::lock_guard<std::mutex> lock(starting_mutex_);
    if (!starting_.insert(active_key).second) {
      return done(absl::AbortedError(
          "another start for this patient, pathway type and unit is in progress; retry"));
    }
  }
  auto release = [this, active_key] {
    std::lock_guard<std::mutex> lock(starting_mutex_);
    starting_.erase(active_key);
  };
  absl::StatusOr<std::optional<std::string>> active = views_.Get(active_key);
  if (!active.ok()) {
    release();
    return done(active.status());
  }
  if (active->has_value() && **active != command.pathway_id) {
    release();
    return done(absl::AlreadyExistsError(absl::StrCat("the patient already has an active ",
                                                      command.pathway_type, " pathway at unit ",
                                                      command.unit, " (pathway ", **active, ")")));
  }
  std::string id = command.pathway_id;
  executor_.Execute(std::move(id), std::move(command), std::move(context), *key,
                    [release, done = std::move(done)](absl::StatusOr<CommandResult> result) {
                      release();
                      done(std::move(result));
                    });
}

absl::StatusOr<v1::Pathway> PathwayService::Get(const std::string& pathway_id) const {
  if (!domain::IsValidId(pathway_id)) {
    return absl::InvalidArgumentError("pathway_id: must be 1-64 of [A-Za-z0-9._:-]");
  }
  absl::StatusOr<v1::Pathway> pathway = executor_.Load(pathway_id);
  if (!pathway.ok()) return pathway.status();
  if (pathway->version() == 0) {
    return absl::NotFoundError(absl::StrCat("pathway ", pathway_id, " does not exist"));
  }
  return pathway;
}

absl::StatusOr<std::string> PathwayService::Worklist(const WorklistQuery& q,
                                                     Entries* entries) const {
  if (q.unit.empty() == q.coordinator_id.empty()) {
    return absl::InvalidArgumentError("owner: exactly one of unit and coordinator_id is required");
  }
  const std::string& owner = q.unit.empty() ? q.coordinator_id : q.unit;
  if (!domain::IsValidId(owner)) {
    return absl::InvalidArgumentError(absl::StrCat(q.unit.empty() ? "coordinator_id" : "unit",
                                                   ": must be 1-64 of [A-Za-z0-9._:-]"));
  }
  absl::StatusOr<int> size = es::app::PageSize(q.page_size);
  if (!size.ok()) return size.status();
  const std::string prefix = q.unit.empty() ? views::CoordinatorDeadlinePrefix(q.coordinator_id)
                                            : views::UnitDeadlinePrefix(q.unit);
  // Each filter is one date range of the owner's index: [from, to] on the due date.
  std::string from = prefix;
  std::string to = prefix + "\xff";
  switch (q.filter) {
    case v1::WORKLIST_FILTER_UNSPECIFIED:
    case v1::ALL_OPEN:
      if (q.due_from.has_value()) from = prefix + views::DateKey(*q.due_from);
      if (q.due_to.has_value()) to = prefix + views::DateKey(*q.due_to + 1);
      if (q.due_from.has_value() && q.due_to.has_value() && *q.due_to < *q.due_from) {
        return absl::InvalidArgumentError("due_to: is before due_from");
      }
      break;
    case v1::DUE_WITHIN: {
      if (q.within_working_days < 0 || q.within_working_days > 365) {
        return absl::InvalidArgumentError("within_working_days: must be 0..365");
      }
      const absl::CivilDay last = calendar_.AddWorkingDays(q.today, q.within_working_days);
      from = prefix + views::DateKey(q.today);
      to = prefix + views::DateKey(last + 1);
      break;
    }
    case v1::BREACHED:
      to = prefix + views::DateKey(q.today);  // due before today
      break;
    default:
      return absl::InvalidArgumentError("filter: unknown value");
  }
  absl::StatusOr<std::string> after = es::app::DecodePageToken(q.page_token, prefix);
  if (!after.ok()) return after.status();
  if (!after->empty() && *after >= from) from = *after + '\0';
  return ReadEntryPage(views_, from, to, *size, entries);
}

absl::StatusOr<std::string> PathwayService::Breaches(const std::string& unit, absl::CivilDay from,
                                                     absl::CivilDay to, int page_size,
                                                     const std::string& page_token,
                                                     Entries* entries) const {
  if (!domain::IsValidId(unit))
    return absl::InvalidArgumentError("unit: must be 1-64 of [A-Za-z0-9._:-]");
  if (to < from) return absl::InvalidArgumentError("to: is before from");
  absl::StatusOr<int> size = es::app::PageSize(page_size);
  if (!size.ok()) return size.status();
  const std::string prefix = views::UnitBreachPrefix(unit);
  std::string begin = prefix + views::DateKey(from);
  const std::string end = prefix + views::DateKey(to + 1);
  absl::StatusOr<std::string> after = es::app::DecodePageToken(page_token, prefix);
  if (!after.ok()) return after.status();
  if (!after->empty() && *after >= begin) begin = *after + '\0';
  return ReadEntryPage(views_, begin, end, *size, entries);
}

absl::StatusOr<std::vector<v1::Pathway>> PathwayService::PatientPathways(
    const referral::v1::PatientIdentifier& patient) const {
  absl::StatusOr<std::string> key = pathways::PatientKeyOf(patient, pseudonymizer_, "patient");
  if (!key.ok()) return key.status();
  absl::StatusOr<std::vector<ViewRow>> rows =
      views_.Scan(views::PatientPrefix(*key), "", es::app::kMaxPageSize);
  if (!rows.ok()) return rows.status();
  std::vector<v1::Pathway> pathways;
  for (const ViewRow& row : *rows) {
    absl::StatusOr<v1::Pathway> pathway = Get(row.value);
    if (!pathway.ok()) return pathway.status();
    pathways.push_back(std::move(*pathway));
  }
  return pathways;
}

}  // namespace pathway::app
