#pragma once

// The pathway service's own view rows, written in the same batch as the events. Pure: the rows
// are a function of the pathway's state only, so rebuilding them from the event store gives
// byte-identical views.
//
//   wu/<unit>/<due yyyymmdd>/<deadline id>         -> DeadlineEntry   open deadlines by unit
//   wc/<coordinator>/<due yyyymmdd>/<deadline id>  -> DeadlineEntry   open deadlines by coordinator
//   td/<due yyyymmdd>/<deadline id>                -> DeadlineEntry   open, breach not recorded
//   (timer) bu/<unit>/<breached on yyyymmdd>/<deadline id> -> DeadlineEntry   recorded breaches by
//   unit pp/<patient key>/<pathway id>                  -> pathway id      pathways of a patient
//   ap/<unit>/<type>/<patient key>                 -> pathway id      active pathway (one per type)
// Ids never contain '/', so each owner's rows are one contiguous, date-ordered key range.

#include <map>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "libs/storage/view_write.h"
#include "pathway/v1/state.pb.h"

namespace pathway::views {

// Every row the state implies, by key.
std::map<std::string, std::string> RowsOf(const v1::Pathway& pathway);

// The writes that take the rows of `before` to the rows of `after`.
std::vector<es::storage::ViewWrite> RowsForChange(const v1::Pathway& before,
                                                  const v1::Pathway& after);

std::string DateKey(absl::CivilDay day);  // yyyymmdd
std::string UnitDeadlinePrefix(const std::string& unit);
std::string CoordinatorDeadlinePrefix(const std::string& coordinator);
std::string TimerPrefix();
std::string UnitBreachPrefix(const std::string& unit);
std::string PatientPrefix(const std::string& patient_key);
std::string ActiveKey(const std::string& unit, const std::string& type,
                      const std::string& patient_key);

}  // namespace pathway::views
