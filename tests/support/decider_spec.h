#pragma once

// Given-when-then for deciders: Given(history) folds events with the production Evolve,
// When(command) calls Decide once, Then/ThenFails check the outcome.

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/equals_proto.h"

namespace es::testing {

template <typename Decider>
class DeciderSpec {
 public:
  using State = typename Decider::State;
  using Command = typename Decider::Command;
  using Event = typename Decider::Event;

  explicit DeciderSpec(const Decider& decider) : decider_(decider), state_(decider.Initial()) {}

  DeciderSpec& Given(const std::vector<Event>& history) {
    for (const Event& event : history) state_ = decider_.Evolve(std::move(state_), event);
    return *this;
  }
  DeciderSpec& When(Command command) {
    result_ = decider_.Decide(command, state_);
    return *this;
  }
  // The decision succeeded with exactly these events, in order.
  void Then(const std::vector<Event>& expected) const {
    ASSERT_TRUE(result_.has_value()) << "When() was not called";
    ASSERT_TRUE(result_->ok()) << "decision failed: " << result_->status();
    ASSERT_EQ(result_->value().size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_THAT(result_->value()[i], EqualsProto(expected[i])) << "event " << i;
    }
  }
  // The decision failed with `code` (the wording is free to change).
  void ThenFails(absl::StatusCode code) const {
    ASSERT_TRUE(result_.has_value()) << "When() was not called";
    ASSERT_FALSE(result_->ok()) << "decision unexpectedly succeeded";
    EXPECT_EQ(result_->status().code(), code) << result_->status();
  }
  const absl::StatusOr<std::vector<Event>>& result() const { return *result_; }
  const State& state() const { return state_; }

 private:
  const Decider& decider_;
  State state_;
  std::optional<absl::StatusOr<std::vector<Event>>> result_;
};

}  // namespace es::testing
