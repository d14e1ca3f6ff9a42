// net::IdleSweep: a member touched and left alone is swept once, after a whole period without a touch; a member
// touched again meanwhile is not; a newcomer to a full list is swept at once; a destroyed member
// leaves the list; the timer stops when nobody is listed.

#include "net/idle_sweep.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace tether::net {
namespace {

struct Recorded : IdleSweep::Member {
  Recorded(std::vector<std::string>& log, std::string name) : log_(log), name_(std::move(name)) {}
  void onIdleSweep() override { log_.push_back(name_); }
  std::vector<std::string>& log_;
  std::string name_;
};

// Runs the loop until `log` has `n` entries (or the loop has nothing left to wait for).
void loopUntil(event_base* base, const std::vector<std::string>& log, size_t n) {
  for (int turns = 0; log.size() < n && turns < 1000; ++turns) {
    if (event_base_loop(base, EVLOOP_ONCE) != 0) break;  // 1: no events left
  }
}

TEST(IdleSweep, AMemberLeftAloneIsSweptOnceAndTheTimerStops) {
  util::EventBasePtr base(event_base_new());
  IdleSweep sweep(base.get(), std::chrono::milliseconds(1), 8);
  std::vector<std::string> log;
  Recorded a(log, "a");
  sweep.touch(a);
  sweep.touch(a);  // listed once
  EXPECT_EQ(sweep.holding(), 1u);
  EXPECT_TRUE(log.empty());
  loopUntil(base.get(), log, 1);
  EXPECT_EQ(log, std::vector<std::string>{"a"});
  EXPECT_EQ(sweep.holding(), 0u);
  // Nobody listed: the timer is not armed again, so the loop has nothing to wait for.
  EXPECT_EQ(event_base_loop(base.get(), EVLOOP_ONCE), 1);
  EXPECT_EQ(log.size(), 1u);
}

TEST(IdleSweep, AMemberTouchedSinceTheLastSweepWaitsForTheNext) {
  util::EventBasePtr base(event_base_new());
  IdleSweep sweep(base.get(), std::chrono::milliseconds(1), 8);
  std::vector<std::string> log;
  Recorded a(log, "a"), b(log, "b");
  sweep.touch(a);
  sweep.touch(b);
  // Each sweep: a is touched again right before it, so only b (left alone) goes; then a, once left alone.
  for (int sweeps = 0; sweeps < 3 && log.empty(); ++sweeps) {
    sweep.touch(a);
    event_base_loop(base.get(), EVLOOP_ONCE);
  }
  EXPECT_EQ(log, std::vector<std::string>{"b"});
  loopUntil(base.get(), log, 2);
  EXPECT_EQ(log, (std::vector<std::string>{"b", "a"}));
}

TEST(IdleSweep, WhenFullANewcomerIsSweptAtOnceAndTheListedStay) {
  util::EventBasePtr base(event_base_new());
  IdleSweep sweep(base.get(), std::chrono::hours(1), 2);
  std::vector<std::string> log;
  Recorded a(log, "a"), b(log, "b"), c(log, "c");
  sweep.touch(a);
  sweep.touch(b);
  sweep.touch(c);
  sweep.touch(a);  // listed ones are touched again without anyone leaving
  sweep.touch(c);
  EXPECT_EQ(log, (std::vector<std::string>{"c", "c"}));
  EXPECT_EQ(sweep.holding(), 2u);
}

TEST(IdleSweep, ADestroyedMemberLeavesTheList) {
  util::EventBasePtr base(event_base_new());
  IdleSweep sweep(base.get(), std::chrono::milliseconds(1), 8);
  std::vector<std::string> log;
  Recorded a(log, "a");
  auto gone = std::make_unique<Recorded>(log, "gone");
  sweep.touch(*gone);
  sweep.touch(a);
  gone.reset();
  EXPECT_EQ(sweep.holding(), 1u);
  loopUntil(base.get(), log, 1);
  EXPECT_EQ(log, std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace tether::net
