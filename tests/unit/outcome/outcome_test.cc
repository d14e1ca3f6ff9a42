// The outcome table: the names and statuses the log and the metrics depend on.
#include "outcome/outcome.h"

#include <gtest/gtest.h>

#include <set>
#include <string_view>

namespace tether {
namespace {

TEST(Outcome, CancellationNamesAreTheDocumentedReasons) {
  std::set<std::string_view> reasons;
  for (size_t i = 0; i < kOutcomeCount; ++i) {
    const Outcome o = outcomeAt(i);
    if (!isCancellation(o)) continue;
    EXPECT_EQ(logName(o), metricLabel(o)) << "a cancellation's log reason is its metric label";
    reasons.insert(logName(o));
  }
  const std::set<std::string_view> documented = {"client_closed",        "client_reset", "stream_reset",
                                                 "deadline_exceeded",    "drain_limit",  "shutdown",
                                                 "request_body_timeout", "send_timeout", "upstream_timeout"};
  EXPECT_EQ(reasons, documented);
}

TEST(Outcome, MetricLabelsAreUnique) {
  std::set<std::string_view> labels;
  for (size_t i = 0; i < kOutcomeCount; ++i) EXPECT_TRUE(labels.insert(metricLabel(outcomeAt(i))).second);
}

TEST(Outcome, UpstreamFailuresEndAsUpstreamError) {
  for (Outcome o : {Outcome::QueueTimeout, Outcome::ConnectFailed, Outcome::ConnectTimeout, Outcome::UpstreamClosed,
                    Outcome::MalformedResponse, Outcome::UpstreamError}) {
    EXPECT_EQ(logName(o), "upstream_error") << metricLabel(o);
    EXPECT_FALSE(isCancellation(o));
  }
  EXPECT_EQ(logName(Outcome::Completed), "completed");
}

TEST(Outcome, StatusesTetherLogs) {
  EXPECT_EQ(infoOf(Outcome::NoRoute).status, 404);
  EXPECT_EQ(infoOf(Outcome::ConnectFailed).status, 502);
  EXPECT_EQ(infoOf(Outcome::QueueTimeout).status, 503);
  EXPECT_EQ(infoOf(Outcome::ConnectTimeout).status, 504);
  EXPECT_EQ(infoOf(Outcome::DeadlineExceeded).status, 504);
  EXPECT_EQ(infoOf(Outcome::UpstreamTimeout).status, 504);
  EXPECT_EQ(infoOf(Outcome::RequestBodyTimeout).status, 408);
  EXPECT_EQ(infoOf(Outcome::ClientClosed).status, 499);
  EXPECT_EQ(infoOf(Outcome::SendTimeout).status, 0);  // the upstream's: the response had started
  EXPECT_EQ(infoOf(Outcome::Completed).status, 0);
}

TEST(Outcome, SourcesTagWhoCausedIt) {
  EXPECT_EQ(sourceOf(Outcome::ClientReset), OutcomeSource::Downstream);
  EXPECT_EQ(sourceOf(Outcome::StreamReset), OutcomeSource::Downstream);
  EXPECT_EQ(sourceOf(Outcome::UpstreamClosed), OutcomeSource::Upstream);
  EXPECT_EQ(sourceOf(Outcome::Shutdown), OutcomeSource::Tether);
}

TEST(Phase, NamesInEnumOrder) {
  EXPECT_EQ(kPhaseCount, 5u);
  EXPECT_EQ(toString(Phase::ReadingRequest), "reading_request");
  EXPECT_EQ(toString(Phase::Queued), "queued");
  EXPECT_EQ(toString(Phase::Connecting), "connecting");
  EXPECT_EQ(toString(Phase::AwaitingResponse), "awaiting_response");
  EXPECT_EQ(toString(Phase::StreamingResponse), "streaming_response");
}

}  // namespace
}  // namespace tether
