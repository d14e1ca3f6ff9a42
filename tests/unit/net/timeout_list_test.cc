// util::TimeoutList: entries expire in deadline order, cancelled or destroyed entries never fire, re-adding pushes
// the deadline out, and a shorter duration added later (after a reload) still fires first.

#include "util/timeout_list.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/run_loop.h"

namespace tether::util {
namespace {

using namespace std::chrono_literals;

using Clock = std::chrono::steady_clock;
// TimeoutList keeps deadlines in whole microseconds: a deadline may come up to this much early.
constexpr auto kTick = 1us;

struct Fired {
  std::vector<std::string> order;
  std::vector<Clock::time_point> at;  // when each fired, in the same order
};

struct Owner {
  Owner(Fired& f, std::string n) : fired(f), name(std::move(n)) {}
  Fired& fired;
  std::string name;
  TimeoutEntry entry{this};
};

void record(void* owner) {
  auto* o = static_cast<Owner*>(owner);
  o->fired.order.push_back(o->name);
  o->fired.at.push_back(Clock::now());
}

// Timers against the real clock, checked so that a slow or busy machine cannot fail them: an entry must never
// fire before its deadline (a lower bound on time, which no delay can break) and entries fire in deadline order;
// how late they fire is not checked.
class TimeoutListTest : public ::testing::Test {
 protected:
  // Runs the loop until `done` holds (false after 30 s, a bound only a broken timer reaches).
  template <typename Pred>
  bool runUntil(Pred done) {
    return tether::testing::runLoopUntil(base_.get(), done);
  }
  // Runs the loop for `d`: only where the claim is that nothing (more) fires.
  void runFor(std::chrono::milliseconds d) {
    const auto end = Clock::now() + d;
    while (Clock::now() < end) {
      event_base_loop(base_.get(), EVLOOP_NONBLOCK);
      std::this_thread::sleep_for(1ms);  // poll interval
    }
  }
  EventBasePtr base_{event_base_new()};
};

TEST_F(TimeoutListTest, ExpiresInDeadlineOrderAndSkipsCancelled) {
  TimeoutList list(base_.get(), &record);
  Fired fired;
  Owner a(fired, "a"), b(fired, "b"), c(fired, "c");
  const auto added = Clock::now();
  list.add(a.entry, 30ms);
  list.add(b.entry, 30ms);
  list.add(c.entry, 30ms);
  b.entry.cancel();
  EXPECT_FALSE(b.entry.pending());
  ASSERT_TRUE(runUntil([&] { return fired.order.size() >= 2; }));
  runFor(20ms);  // on purpose: the cancelled entry, due with the others, must not fire late either
  EXPECT_EQ(fired.order, (std::vector<std::string>{"a", "c"}));
  for (const auto at : fired.at) EXPECT_GE(at - added, 30ms - kTick) << "fired before the deadline";
  EXPECT_TRUE(list.empty());
}

TEST_F(TimeoutListTest, ReAddingPostponesAndDestroyedEntriesNeverFire) {
  TimeoutList list(base_.get(), &record);
  Fired fired;
  Owner a(fired, "a");
  auto gone = std::make_unique<Owner>(fired, "gone");
  list.add(a.entry, 40ms);
  list.add(gone->entry, 40ms);
  gone.reset();
  // The loop does not run meanwhile, so nothing can fire: this only moves the clock on.
  std::this_thread::sleep_for(25ms);
  const auto re_added = Clock::now();
  list.add(a.entry, 40ms);  // activity: the timeout starts again
  ASSERT_TRUE(runUntil([&] { return !fired.order.empty(); }));
  EXPECT_GE(fired.at[0] - re_added, 40ms - kTick) << "fired at the first deadline, not the postponed one";
  runFor(60ms);  // on purpose: neither the destroyed entry nor `a` a second time may fire
  EXPECT_EQ(fired.order, std::vector<std::string>{"a"});
}

TEST_F(TimeoutListTest, AShorterTimeoutAddedLaterFiresFirst) {
  TimeoutList list(base_.get(), &record);
  Fired fired;
  Owner slow(fired, "slow"), fast(fired, "fast");
  const auto added = Clock::now();
  list.add(slow.entry, 200ms);
  list.add(fast.entry, 20ms);  // e.g. after a reload shortened the timeout
  ASSERT_TRUE(runUntil([&] { return fired.order.size() >= 2; }));
  EXPECT_EQ(fired.order, (std::vector<std::string>{"fast", "slow"}));
  EXPECT_GE(fired.at[0] - added, 20ms - kTick);
  EXPECT_GE(fired.at[1] - added, 200ms - kTick);
}

}  // namespace
}  // namespace tether::util
