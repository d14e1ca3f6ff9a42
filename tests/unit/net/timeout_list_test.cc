// util::TimeoutList: entries expire in deadline order, cancelled or destroyed entries never fire, re-adding pushes
// the deadline out, and a shorter duration added later (after a reload) still fires first.

#include "util/timeout_list.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace tether::util {
namespace {

using namespace std::chrono_literals;

struct Fired {
  std::vector<std::string> order;
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
}

class TimeoutListTest : public ::testing::Test {
 protected:
  // Runs the loop for `d`.
  void runFor(std::chrono::milliseconds d) {
    const auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
      event_base_loop(base_.get(), EVLOOP_NONBLOCK);
      std::this_thread::sleep_for(1ms);
    }
  }
  EventBasePtr base_{event_base_new()};
};

TEST_F(TimeoutListTest, ExpiresInDeadlineOrderAndSkipsCancelled) {
  TimeoutList list(base_.get(), &record);
  Fired fired;
  Owner a(fired, "a"), b(fired, "b"), c(fired, "c");
  list.add(a.entry, 30ms);
  list.add(b.entry, 30ms);
  list.add(c.entry, 30ms);
  b.entry.cancel();
  EXPECT_FALSE(b.entry.pending());
  runFor(10ms);
  EXPECT_TRUE(fired.order.empty());  // not before the deadline
  runFor(80ms);
  EXPECT_EQ(fired.order, (std::vector<std::string>{"a", "c"}));
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
  runFor(25ms);
  list.add(a.entry, 40ms);  // activity: the timeout starts again
  runFor(30ms);
  EXPECT_TRUE(fired.order.empty());
  runFor(60ms);
  EXPECT_EQ(fired.order, std::vector<std::string>{"a"});
}

TEST_F(TimeoutListTest, AShorterTimeoutAddedLaterFiresFirst) {
  TimeoutList list(base_.get(), &record);
  Fired fired;
  Owner slow(fired, "slow"), fast(fired, "fast");
  list.add(slow.entry, 200ms);
  list.add(fast.entry, 20ms);  // e.g. after a reload shortened the timeout
  runFor(80ms);
  EXPECT_EQ(fired.order, std::vector<std::string>{"fast"});
  EXPECT_TRUE(slow.entry.pending());
  runFor(200ms);
  EXPECT_EQ(fired.order, (std::vector<std::string>{"fast", "slow"}));
}

}  // namespace
}  // namespace tether::util
