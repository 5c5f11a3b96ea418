#include "services/notify/api/feed_notifier.h"

#include <utility>
#include <vector>

namespace notify::api {

FeedNotifier::FeedNotifier() {
  pump_ = std::thread([this] { PumpLoop(); });
}

FeedNotifier::~FeedNotifier() { Stop(); }

void FeedNotifier::Poke() {
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  // Taking the lock between the bump and the notify closes the window in which the pump has
  // evaluated its wait predicate (seeing the old epoch) but not yet started waiting.
  { std::lock_guard<std::mutex> lock(mutex_); }
  wake_.notify_one();
}

FeedNotifier::ParkId FeedNotifier::Park(uint64_t seen_epoch, std::function<void()> resume) {
  bool due = false;
  ParkId id = kNotParked;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return kNotParked;
    id = next_id_++;
    parked_.emplace(id, Parked{seen_epoch, std::move(resume)});
    due = seen_epoch < Epoch();
  }
  // Only a waiter that is already due needs the pump now; the others wait for a Poke.
  if (due) wake_.notify_one();
  return id;
}

bool FeedNotifier::Unpark(ParkId id) {
  std::function<void()> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = parked_.find(id);
    if (it == parked_.end()) return false;
    dropped = std::move(it->second.resume);
    parked_.erase(it);
  }
  // `dropped` is destroyed here, outside the lock: it may own the last reference to a reader.
  return true;
}

size_t FeedNotifier::parked_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return parked_.size();
}

void FeedNotifier::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (pump_.joinable() && pump_.get_id() != std::this_thread::get_id()) pump_.join();
}

bool FeedNotifier::AnyDueLocked() const {
  const uint64_t epoch = Epoch();
  for (const auto& [id, parked] : parked_) {
    if (parked.seen_epoch < epoch) return true;
  }
  return false;
}

void FeedNotifier::PumpLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || AnyDueLocked(); });
    const bool stopping = stopping_;
    const uint64_t epoch = Epoch();
    std::vector<std::function<void()>> due;
    for (auto it = parked_.begin(); it != parked_.end();) {
      if (stopping || it->second.seen_epoch < epoch) {
        due.push_back(std::move(it->second.resume));
        it = parked_.erase(it);
      } else {
        ++it;
      }
    }
    // Callbacks read the feed and start gRPC writes: never under the lock, which Poke needs.
    lock.unlock();
    for (std::function<void()>& resume : due) resume();
    due.clear();
    lock.lock();
    // Park refuses new waiters once stopping_ is set, so one last pass empties the map.
    if (stopping && parked_.empty()) return;
  }
}

}  // namespace notify::api
