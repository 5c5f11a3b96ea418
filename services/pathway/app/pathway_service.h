#pragma once

// The pathway application service: runs pathway commands through the shared command path,
// enforces the one rule that spans pathways (one active pathway of a type per patient and
// unit), and answers the worklist, breach and patient queries from indexes shaped for them.
// Thread-safe; command callbacks run on the event store's writer thread and must not block.

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clinical/calendar.h"
#include "libs/app/command_executor.h"
#include "libs/eventing/pseudonym.h"
#include "libs/storage/event_store.h"
#include "libs/storage/view_store.h"
#include "pathway/v1/service.pb.h"
#include "services/pathway/domain/pathway_decider.h"

namespace pathway::app {

using CommandContext = es::app::CommandContext;
using CommandResult = es::app::CommandResult;
using CommandCallback = es::app::CommandCallback;

struct PathwayServiceOptions {
  std::string topic = "pathways.pathway.events.v1";
  std::string source = "/pathways/pathway";
};

struct WorklistQuery {
  std::string unit;  // exactly one of unit and coordinator_id
  std::string coordinator_id;
  v1::WorklistFilter filter = v1::ALL_OPEN;
  std::optional<absl::CivilDay> due_from;
  std::optional<absl::CivilDay> due_to;
  int within_working_days = 0;
  absl::CivilDay today;
  int page_size = 0;
  std::string page_token;
};

// A page of deadline entries is appended to the caller's repeated field (the gRPC response's,
// allocated on its arena): rows are parsed straight from the scan into the response.
using Entries = google::protobuf::RepeatedPtrField<v1::DeadlineEntry>;

class PathwayService {
 public:
  PathwayService(es::storage::EventStore& store, es::storage::ViewStore& views,
                 const domain::PathwayDecider& decider, const es::Pseudonymizer& pseudonymizer,
                 const es::Clock& clock, absl::TimeZone zone, const clinical::Calendar& calendar,
                 PathwayServiceOptions options = {});

  // Commands carry `today` already (the unit's civil date); see Today().
  void Execute(domain::PathwayCommand command, CommandContext context, CommandCallback done);

  absl::StatusOr<v1::Pathway> Get(const std::string& pathway_id) const;
  // Both append the page to `entries` and return the next page token ("" on the last page).
  absl::StatusOr<std::string> Worklist(const WorklistQuery& query, Entries* entries) const;
  absl::StatusOr<std::string> Breaches(const std::string& unit, absl::CivilDay from,
                                       absl::CivilDay to, int page_size,
                                       const std::string& page_token, Entries* entries) const;
  absl::StatusOr<std::vector<v1::Pathway>> PatientPathways(
      const referral::v1::PatientIdentifier& patient) const;

  // Today's civil date in the units' time zone, by the injected clock.
  absl::CivilDay Today() const;
  absl::CivilDay DayOf(absl::Time t) const;
  const domain::PathwayDecider& decider() const { return decider_; }

 private:
  void Start(domain::StartPathway command, CommandContext context, CommandCallback done);

  es::storage::ViewStore& views_;
  const domain::PathwayDecider& decider_;
  const es::Pseudonymizer& pseudonymizer_;
  const es::Clock& clock_;
  const absl::TimeZone zone_;
  const clinical::Calendar& calendar_;  // working days of "due within N working days"
  es::app::CommandExecutor<domain::PathwayDecider> executor_;

  // Starts in flight per (unit, type, patient): the uniqueness check and the append of a start
  // must not interleave with another start for the same patient.
  std::mutex starting_mutex_;
  std::set<std::string> starting_;  // guarded by starting_mutex_
};

// The stream a command addresses.
std::string PathwayIdOf(const domain::PathwayCommand& command);

}  // namespace pathway::app
