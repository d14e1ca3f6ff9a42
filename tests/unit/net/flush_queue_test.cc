// net::FlushQueue: members flush in order, once, including those queued while the queue runs; a destroyed member
// leaves the queue; without an explicit run() the fallback event runs it from the loop.

#include "net/flush_queue.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace tether::net {
namespace {

struct Recorded : FlushQueue::Member {
  Recorded(std::vector<std::string>& log, std::string name) : log_(log), name_(std::move(name)) {}
  void onQueuedFlush() override {
    log_.push_back(name_);
    if (then_add != nullptr) queue->add(*then_add);
  }
  std::vector<std::string>& log_;
  std::string name_;
  FlushQueue* queue = nullptr;
  Recorded* then_add = nullptr;
};

TEST(FlushQueue, RunsInOrderOnceIncludingMembersQueuedMeanwhile) {
  util::EventBasePtr base(event_base_new());
  FlushQueue queue(base.get());
  std::vector<std::string> log;
  Recorded a(log, "a"), b(log, "b"), c(log, "c");
  a.queue = &queue;
  a.then_add = &c;
  queue.add(a);
  queue.add(b);
  queue.add(a);  // already queued: once
  queue.run();
  EXPECT_EQ(log, (std::vector<std::string>{"a", "b", "c"}));
  queue.run();
  EXPECT_EQ(log.size(), 3u);
}

TEST(FlushQueue, ADestroyedMemberLeavesTheQueue) {
  util::EventBasePtr base(event_base_new());
  FlushQueue queue(base.get());
  std::vector<std::string> log;
  Recorded a(log, "a");
  auto gone = std::make_unique<Recorded>(log, "gone");
  queue.add(*gone);
  queue.add(a);
  gone.reset();
  queue.run();
  EXPECT_EQ(log, std::vector<std::string>{"a"});
}

TEST(FlushQueue, TheLoopRunsItWhenNobodyElseDoes) {
  util::EventBasePtr base(event_base_new());
  FlushQueue queue(base.get());
  std::vector<std::string> log;
  Recorded a(log, "a");
  queue.add(a);  // e.g. from a timer callback
  event_base_loop(base.get(), EVLOOP_NONBLOCK);
  EXPECT_EQ(log, std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace tether::net
