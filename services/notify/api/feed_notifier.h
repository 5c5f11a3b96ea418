#pragma once

// Wakes readers that tail feed rows (es::storage::AppendRequest::feed_rows) when the event store
// commits new ones, without doing their work on the store's writer thread.
//
// The store's feed listener calls Poke(), which only bumps an epoch and wakes the pump thread.
// A reader that has caught up reads Epoch() BEFORE its last (empty) read of the feed and parks
// with that value; the pump runs its resume callback once the epoch has moved past it. A commit
// racing with the reader is thus never missed: either the read saw its rows, or its Poke came
// after the Epoch() read and the parked reader is resumed at once.
//
// Wiring: store.SetFeedListener([&notifier] { notifier.Poke(); }). The notifier must outlive the
// store's writer (clear the listener or shut the store down before destroying it); Poke after
// Stop is harmless.
//
// Thread-safe. Resume callbacks run on the pump thread, one at a time, never under the
// notifier's lock, and may call Park again.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace notify::api {

class FeedNotifier {
 public:
  using ParkId = uint64_t;
  static constexpr ParkId kNotParked = 0;

  FeedNotifier();   // starts the pump thread
  ~FeedNotifier();  // Stop()
  FeedNotifier(const FeedNotifier&) = delete;
  FeedNotifier& operator=(const FeedNotifier&) = delete;

  // "The feed changed": bumps the epoch and wakes the pump. Safe on the store's writer thread:
  // it takes the notifier's lock only for an instant and never runs a callback.
  void Poke();
  // Starts at 0; grows by one per Poke.
  uint64_t Epoch() const { return epoch_.load(std::memory_order_acquire); }

  // Runs `resume` once, on the pump thread, as soon as Epoch() > seen_epoch (at once if it
  // already is). Returns kNotParked, without ever calling `resume`, once Stop has begun.
  ParkId Park(uint64_t seen_epoch, std::function<void()> resume);
  // Forgets a parked callback. True: it will never run. False: it already ran, is running, or
  // is about to run (the pump has taken it).
  bool Unpark(ParkId id);
  size_t parked_count() const;

  // Runs every parked callback one last time (each reader then finds Park refused and ends its
  // stream), then joins the pump. Idempotent.
  void Stop();

 private:
  struct Parked {
    uint64_t seen_epoch = 0;
    std::function<void()> resume;
  };
  void PumpLoop();
  bool AnyDueLocked() const;

  std::atomic<uint64_t> epoch_{0};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<ParkId, Parked> parked_;  // guarded by mutex_
  ParkId next_id_ = 1;               // guarded by mutex_
  bool stopping_ = false;            // guarded by mutex_
  std::thread pump_;
};

}  // namespace notify::api
