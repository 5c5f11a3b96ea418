#pragma once

// The pathway catalogue: pathway types with their rule versions, measurement points, order and
// deadline rules, and holiday calendars, as data (catalogue.v1.Catalogue in protobuf text
// format). Hospitals load their own files, so every value is validated here, once, and the
// rest of the system can trust what it finds.
//
// Immutable after load; thread-safe. Copies are cheap and share one immutable state, so the
// pointers returned by the Find* functions stay valid while any copy is alive.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "catalogue/v1/catalogue.pb.h"
#include "clinical/calendar.h"

namespace clinical {

class PathwayCatalogue {
 public:
  // Loads every *.textproto file (protobuf text format of catalogue.v1.Catalogue) in each
  // directory, in order; files sorted by name within a directory. A pathway type or calendar
  // with an id already loaded REPLACES the earlier one (so a hospital overrides the shipped
  // default by putting a file with the same id in a later directory).
  // Any syntax or validation error is kInvalidArgument with
  // "<file>:<line>:<column>: <field path>: <problem>" (one line per error, at most 20).
  // A directory that does not exist is kNotFound; an unreadable file kInvalidArgument.
  static absl::StatusOr<PathwayCatalogue> LoadDirectories(const std::vector<std::string>& dirs);

  // Validates an in-memory catalogue (tests); errors name "<origin>: <field path>: <problem>".
  static absl::StatusOr<PathwayCatalogue> FromProto(catalogue::v1::Catalogue catalogue,
                                                    const std::string& origin);

  // The merged catalogue, after replacements.
  const catalogue::v1::Catalogue& proto() const;

  // nullptr if unknown.
  const catalogue::v1::PathwayType* FindType(std::string_view id) const;

  // The version whose effective_from is the latest on or before `day`; kNotFound naming the
  // type when the type is unknown or has no version in force on `day`.
  absl::StatusOr<const catalogue::v1::RuleVersion*> VersionInForce(std::string_view type_id,
                                                                   absl::CivilDay day) const;

  // nullptr if the type or the version is unknown.
  const catalogue::v1::RuleVersion* FindVersion(std::string_view type_id,
                                                std::string_view version_id) const;

  // The calendar built from the CalendarDef with this id; nullptr if unknown.
  const Calendar* FindCalendar(std::string_view id) const;

  // The point with this id in `v`; nullptr if none.
  static const catalogue::v1::MeasurementPoint* FindPoint(const catalogue::v1::RuleVersion& v,
                                                          std::string_view point_id);

 private:
  struct Data;
  explicit PathwayCatalogue(std::shared_ptr<const Data> data);
  // Builds the calendars and the indexes of a catalogue that has passed validation.
  static absl::StatusOr<PathwayCatalogue> FromValidated(catalogue::v1::Catalogue merged);

  std::shared_ptr<const Data> data_;
};

}  // namespace clinical
