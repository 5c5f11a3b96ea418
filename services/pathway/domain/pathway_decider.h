#pragma once

// The pure core of the pathway service. Evolve folds an event into the pathway (timeline,
// corrections, appointments) and re-derives its deadlines with the deadline engine; Decide
// checks a command against the catalogue's rules (order of points, outcomes, occurrence limits)
// and the pathway's state. No clock, no I/O. Immutable; thread-safe.

#include <vector>

#include "absl/status/statusor.h"
#include "clinical/catalogue.h"
#include "pathway/v1/events.pb.h"
#include "pathway/v1/state.pb.h"
#include "services/pathway/domain/commands.h"
#include "services/pathway/domain/deadline_engine.h"

namespace pathway::domain {

class PathwayDecider {
 public:
  using State = v1::Pathway;
  using Command = PathwayCommand;
  using Event = v1::PathwayEvent;

  explicit PathwayDecider(const clinical::PathwayCatalogue& catalogue) : catalogue_(catalogue) {}

  State Initial() const { return State(); }

  // Total. Reads metadata for the version and event id (timeline, corrections).
  State Evolve(State state, const Event& event) const;

  // Events carry payloads only; the application stamps metadata. kInvalidArgument (field
  // named), kNotFound, kAlreadyExists, kFailedPrecondition (rule named).
  absl::StatusOr<std::vector<Event>> Decide(const Command& command, const State& state) const;

  const clinical::PathwayCatalogue& catalogue() const { return catalogue_; }

  // The points of the timeline with corrections applied.
  static std::vector<EffectivePoint> EffectivePoints(const State& state);

 private:
  void Rederive(State& state) const;
  const clinical::PathwayCatalogue& catalogue_;
};

bool IsValidId(const std::string& id);

}  // namespace pathway::domain
