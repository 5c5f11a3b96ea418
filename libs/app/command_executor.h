#pragma once

// The command path every event-sourced service shares: answer a retried command from its
// idempotency record, load the stream head, call the pure Decide, stamp event metadata, fold
// the events with Evolve, compute the service's own view rows, and append everything in one
// batch through the event store. A version conflict with a concurrent command is decided again
// (unless the client pinned expected_version: then it gets kAborted).
//
// Decider needs State (a proto with version() and patient_key()), Command, Event (a proto with
// `eventing.v1.EventMetadata metadata` and a `payload` oneof), Initial, Evolve, Decide.
// Thread-safe; callbacks run on the event store's writer thread and must not block.

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "eventing/v1/metadata.pb.h"
#include "libs/eventing/clock.h"
#include "libs/eventing/command_context.h"
#include "libs/eventing/ids.h"
#include "libs/eventing/proto_time.h"
#include "libs/storage/event_store.h"

namespace es::app {

template <typename Decider>
class CommandExecutor {
 public:
  using State = typename Decider::State;
  using Command = typename Decider::Command;
  using Event = typename Decider::Event;

  struct Options {
    std::string topic;   // Kafka topic of the service's events
    std::string source;  // CloudEvents source, e.g. "/pathways/referral"
    int conflict_retries = 3;
  };

  struct Hooks {
    // The service's own view rows for a change of state (pure).
    std::function<std::vector<storage::ViewWrite>(const State&, const State&)> view_rows;
    // When the fact happened in the clinic (the time the command carried).
    std::function<google::protobuf::Timestamp(const Event&)> occurred_at;
    // Event id; random unless the service needs a deterministic one (e.g. a timer's breach).
    std::function<std::string(const Command&, const Event&)> event_id;
    // Feed rows (prefix, value) keyed by commit order, for readers that tail a feed.
    std::function<std::vector<std::pair<std::string, std::string>>(const State&, const State&)>
        feed_rows;
  };

  CommandExecutor(storage::EventStore& store, const Decider& decider, const Clock& clock,
                  Options options, Hooks hooks)
      : store_(store),
        decider_(decider),
        clock_(clock),
        options_(std::move(options)),
        hooks_(std::move(hooks)) {}

  // `patient_key`: the pseudonymous key for a new stream; existing streams keep theirs.
  void Execute(std::string stream_id, Command command, CommandContext context,
               std::string patient_key, CommandCallback done) {
    if (context.idempotency_key.empty() || context.idempotency_key.size() > 128) {
      done(absl::InvalidArgumentError("idempotency_key: must be 1..128 characters"));
      return;
    }
    if (context.correlation_id.empty()) context.correlation_id = NewUuid();
    if (context.causation_id.empty()) context.causation_id = context.idempotency_key;
    auto call = std::make_shared<const Call>(
        Call{std::move(stream_id), std::move(command), std::move(context), std::move(patient_key)});
    Attempt(std::move(call), std::move(done), options_.conflict_retries);
  }

  // The stream's current state; Initial() (version 0) when it does not exist.
  absl::StatusOr<State> Load(const std::string& stream_id) const {
    State state = decider_.Initial();
    absl::StatusOr<std::optional<eventing::v1::StreamHead>> head = store_.ReadHead(stream_id);
    if (!head.ok()) return head.status();
    if (head->has_value() && !state.ParseFromString((*head)->state())) {
      return absl::DataLossError(absl::StrCat("stream ", stream_id, ": state unreadable"));
    }
    return state;
  }

 private:
  struct Call {
    std::string stream_id;
    Command command;
    CommandContext context;
    std::string patient_key;
  };

  static std::string TypeName(const Event& event) {
    const google::protobuf::Reflection* reflection = event.GetReflection();
    const google::protobuf::OneofDescriptor* oneof =
        Event::descriptor()->FindOneofByName("payload");
    const google::protobuf::FieldDescriptor* field =
        oneof ? reflection->GetOneofFieldDescriptor(event, oneof) : nullptr;
    return field == nullptr ? "unknown" : field->message_type()->full_name();
  }

  void Attempt(std::shared_ptr<const Call> call, CommandCallback done, int retries_left) {
    const CommandContext& context = call->context;
    // A retried call answers with what the first one produced, even if the stream moved on.
    absl::StatusOr<std::optional<eventing::v1::IdempotencyRecord>> seen =
        store_.FindIdempotency(context.idempotency_key);
    if (!seen.ok()) return done(seen.status());
    if (seen->has_value()) {
      if ((*seen)->fingerprint() != context.fingerprint) {
        return done(
            absl::AlreadyExistsError("idempotency_key: already used for a different command"));
      }
      return done(CommandResult{(*seen)->stream_id(), (*seen)->version(), true});
    }

    State state = decider_.Initial();
    if (!call->stream_id.empty() && call->stream_id.find('\0') == std::string::npos) {
      absl::StatusOr<State> loaded = Load(call->stream_id);
      if (!loaded.ok()) return done(loaded.status());
      state = std::move(*loaded);
    }
    if (context.expected_version != 0 && context.expected_version != state.version()) {
      return done(
          absl::AbortedError(absl::StrCat("expected_version: stream is at version ",
                                          state.version(), ", not ", context.expected_version)));
    }
    absl::StatusOr<std::vector<Event>> decided = decider_.Decide(call->command, state);
    if (!decided.ok()) return done(decided.status());

    const google::protobuf::Timestamp recorded_at = ToProtoTimestamp(clock_.Now());
    const std::string patient_key =
        state.patient_key().empty() ? call->patient_key : state.patient_key();
    storage::AppendRequest request;
    request.stream_id = call->stream_id;
    request.expected_version = state.version();
    request.idempotency_key = context.idempotency_key;
    request.fingerprint = context.fingerprint;
    State next = state;
    int64_t version = state.version();
    for (Event& event : *decided) {
      eventing::v1::EventMetadata& m = *event.mutable_metadata();
      m.set_event_id(hooks_.event_id ? hooks_.event_id(call->command, event) : NewUuid());
      m.set_stream_id(call->stream_id);
      m.set_stream_version(++version);
      if (hooks_.occurred_at) *m.mutable_occurred_at() = hooks_.occurred_at(event);
      *m.mutable_recorded_at() = recorded_at;
      *m.mutable_actor() = context.actor;
      m.set_correlation_id(context.correlation_id);
      m.set_causation_id(context.causation_id);
      m.set_idempotency_key(context.idempotency_key);
      m.set_patient_key(patient_key);
      next = decider_.Evolve(std::move(next), event);

      eventing::v1::StoredEvent stored;
      stored.set_event_id(m.event_id());
      stored.set_stream_id(call->stream_id);
      stored.set_stream_version(version);
      stored.set_type(TypeName(event));
      stored.set_source(options_.source);
      stored.set_topic(options_.topic);
      stored.set_partition_key(patient_key);
      *stored.mutable_time() = recorded_at;
      stored.set_payload(event.SerializeAsString());
      request.events.push_back(std::move(stored));
    }
    if (hooks_.view_rows) request.view_writes = hooks_.view_rows(state, next);
    if (hooks_.feed_rows) request.feed_rows = hooks_.feed_rows(state, next);
    request.state = next.SerializeAsString();

    store_.AppendAsync(std::move(request), [this, call, done = std::move(done), retries_left](
                                               absl::StatusOr<storage::AppendResult> result) {
      if (!result.ok()) {
        // Another command on this stream won the race: decide again against its result,
        // unless the client pinned a version, in which case the conflict is theirs to see.
        if (result.status().code() == absl::StatusCode::kAborted &&
            call->context.expected_version == 0 && retries_left > 0) {
          return Attempt(call, done, retries_left - 1);
        }
        return done(result.status());
      }
      done(CommandResult{result->stream_id, result->version, result->replayed});
    });
  }

  storage::EventStore& store_;
  const Decider& decider_;
  const Clock& clock_;
  const Options options_;
  const Hooks hooks_;
};

}  // namespace es::app
