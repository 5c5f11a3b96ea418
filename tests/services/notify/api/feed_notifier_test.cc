// The FeedNotifier's pump on its own: when a parked callback runs, that Unpark keeps it from
// running, and that Stop runs the parked ones a last time and refuses new ones.

#include "services/notify/api/feed_notifier.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace notify::api {
namespace {

using ::testing::ElementsAre;

constexpr auto kTimeout = std::chrono::seconds(10);

// Records which callbacks ran, in order, and lets a test wait for one.
class Runs {
 public:
  std::function<void()> Callback(std::string name) {
    return [this, name] {
      std::lock_guard<std::mutex> lock(mutex_);
      names_.push_back(name);
      changed_.notify_all();
    };
  }
  bool WaitFor(const std::string& name) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, kTimeout, [&] {
      for (const std::string& n : names_) {
        if (n == name) return true;
      }
      return false;
    });
  }
  std::vector<std::string> names() {
    std::lock_guard<std::mutex> lock(mutex_);
    return names_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> names_;
};

TEST(FeedNotifier, GivenEpochAlreadyPastSeen_WhenParked_ThenResumedWithoutPoke) {
  FeedNotifier notifier;
  Runs runs;
  const uint64_t seen = notifier.Epoch();
  notifier.Poke();

  EXPECT_NE(notifier.Park(seen, runs.Callback("a")), FeedNotifier::kNotParked);

  EXPECT_TRUE(runs.WaitFor("a"));
  EXPECT_EQ(notifier.parked_count(), 0u);
}

TEST(FeedNotifier, GivenParkedAtCurrentEpoch_WhenNotPoked_ThenWaitsAndPokeResumesIt) {
  FeedNotifier notifier;
  Runs runs;
  notifier.Poke();
  notifier.Park(notifier.Epoch(), runs.Callback("waits"));
  // "due" is parked after "waits" and is due at once; the pump takes every due callback in one
  // pass, so once "due" has run, a wrongly due "waits" would have run too.
  notifier.Park(notifier.Epoch() - 1, runs.Callback("due"));
  ASSERT_TRUE(runs.WaitFor("due"));
  EXPECT_THAT(runs.names(), ElementsAre("due"));
  EXPECT_EQ(notifier.parked_count(), 1u);

  notifier.Poke();

  EXPECT_TRUE(runs.WaitFor("waits"));
  EXPECT_THAT(runs.names(), ElementsAre("due", "waits"));
}

TEST(FeedNotifier, GivenParked_WhenUnparkedBeforePoke_ThenNeverResumed) {
  FeedNotifier notifier;
  Runs runs;
  const FeedNotifier::ParkId id = notifier.Park(notifier.Epoch(), runs.Callback("dropped"));

  EXPECT_TRUE(notifier.Unpark(id));
  EXPECT_FALSE(notifier.Unpark(id));
  notifier.Poke();
  notifier.Park(notifier.Epoch() - 1, runs.Callback("marker"));

  ASSERT_TRUE(runs.WaitFor("marker"));
  EXPECT_THAT(runs.names(), ElementsAre("marker"));
}

TEST(FeedNotifier, GivenParkedCallbacks_WhenStopped_ThenEachRunsOnceAndParkIsRefused) {
  FeedNotifier notifier;
  Runs runs;
  notifier.Park(notifier.Epoch(), runs.Callback("a"));
  notifier.Park(notifier.Epoch(), runs.Callback("b"));

  notifier.Stop();

  EXPECT_THAT(runs.names(), ElementsAre("a", "b"));
  EXPECT_EQ(notifier.Park(0, runs.Callback("late")), FeedNotifier::kNotParked);
  notifier.Poke();  // harmless after Stop
  EXPECT_EQ(notifier.parked_count(), 0u);
}

TEST(FeedNotifier, GivenCallbackThatParksAgain_WhenPokedRepeatedly_ThenResumedOncePerPoke) {
  FeedNotifier notifier;
  std::mutex mutex;
  std::condition_variable changed;
  int resumes = 0;
  std::function<void()> again = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    ++resumes;
    changed.notify_all();
    notifier.Park(notifier.Epoch(), again);  // like a stream that caught up again
  };
  notifier.Park(notifier.Epoch(), again);

  for (int i = 1; i <= 5; ++i) {
    notifier.Poke();
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, kTimeout, [&] { return resumes >= i; })) << "poke " << i;
  }
  notifier.Stop();  // runs `again` a last time; its Park is refused

  std::lock_guard<std::mutex> lock(mutex);
  EXPECT_EQ(resumes, 6);
}

}  // namespace
}  // namespace notify::api
