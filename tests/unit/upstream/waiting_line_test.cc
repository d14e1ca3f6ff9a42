// The line both pools queue requesters in: FIFO, served in order while there is room, each waiter answered
// QueueTimeout once it has waited queue_timeout, a waiter that left never answered.

#include "upstream/waiting_line.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace tether::upstream {
namespace {

using Log = std::vector<std::string>;

class Waiter : public UpstreamRequester {
 public:
  Waiter(std::string name, Log& log) : name_(std::move(name)), log_(log) {}
  void onUpstreamReady(UpstreamStream&) override { log_.push_back(name_ + " ready"); }
  void onUpstreamUnavailable(UpstreamError error) override {
    log_.push_back(name_ + (error == UpstreamError::QueueTimeout ? " timed out" : " unavailable"));
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  Log& log_;
};

struct Loop {
  Loop() : base(event_base_new()) {}
  ~Loop() { event_base_free(base); }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  // Runs the loop until `done` or 10 s have passed; whether `done`.
  template <typename Done>
  bool runUntil(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done() && std::chrono::steady_clock::now() < deadline) event_base_loop(base, EVLOOP_ONCE);
    return done();
  }
  event_base* base;
};

TEST(WaitingLine, TimesOutInOrderAndNeverAnswersOneThatLeft) {
  Loop loop;
  Log log;
  Waiter a("a", log), b("b", log), c("c", log);
  WaitingLine line(loop.base, config::Duration{20});
  const auto start = std::chrono::steady_clock::now();
  line.add(a);
  line.add(b);
  line.add(c);
  EXPECT_EQ(line.size(), 3u);
  EXPECT_TRUE(WaitingLine::contains(b));
  line.remove(b);
  EXPECT_FALSE(WaitingLine::contains(b));
  ASSERT_TRUE(loop.runUntil([&] { return line.empty(); }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds{20});
  EXPECT_EQ(log, (Log{"a timed out", "c timed out"}));
}

TEST(WaitingLine, ServesInOrderWhileThereIsRoom) {
  Loop loop;
  Log log;
  Waiter a("a", log), b("b", log), c("c", log);
  WaitingLine line(loop.base, config::Duration{60000});
  line.add(a);
  line.add(b);
  line.add(c);
  int room = 2;
  std::vector<std::string> served;
  line.serveInOrder([&] { return room > 0 ? 7 : -1; },
                    [&](UpstreamRequester& requester, size_t endpoint) {
                      --room;
                      EXPECT_EQ(endpoint, 7u);
                      served.push_back(static_cast<Waiter&>(requester).name());
                    });
  EXPECT_EQ(served, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(line.size(), 1u);
  EXPECT_TRUE(WaitingLine::contains(c));
  line.remove(c);
  EXPECT_TRUE(log.empty());
}

}  // namespace
}  // namespace tether::upstream
