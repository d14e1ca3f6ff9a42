#include "exchange_harness.h"

#include <gtest/gtest.h>

#include "config/config_loader.h"
#include "metrics/metric_labels.h"

namespace tether::testing {

ExchangeHarness::ExchangeHarness(const std::string& route_yaml, const std::string& upstream_yaml,
                                 const std::string& top_yaml)
    : base_(event_base_new()), logger_(&queue_, log::Level::Debug) {
  const std::string yaml =
      "listeners:\n  - name: main\n    address: 127.0.0.1:8080\n"
      "upstreams:\n  - name: api\n    endpoints: [\"127.0.0.1:5000\"]\n" +
      upstream_yaml + "routes:\n  - name: work\n    match: {path_prefix: /}\n    upstream: api\n" + route_yaml +
      top_yaml;
  config::LoadResult loaded = config::loadConfigString(yaml, "exchange_test.yaml");
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? std::string() : loaded.errors.front().toString());
  config_ = loaded.config;
  route_metrics_ = std::make_shared<metrics::RouteMetrics>(config_->routes.size(), config_->upstreams.size());
  context_.base = base_.get();
  context_.snapshot = std::make_shared<ConfigSnapshot>(
      config_, route_metrics_, [this](const config::Upstream& upstream, metrics::UpstreamCounters*) {
        auto source = std::make_unique<FakeUpstreamSource>(upstream);
        source_ = source.get();
        return std::unique_ptr<upstream::UpstreamSource>(std::move(source));
      });
  context_.logger = &logger_;
  context_.request_ids = &request_ids_;
  context_.detached = this;
  context_.metrics = &worker_metrics_;
  exchange_ = std::make_unique<Exchange>(context_, downstream_);
}

ExchangeHarness::~ExchangeHarness() {
  if (exchange_ && !exchange_->finished()) exchange_->cancel(Outcome::Shutdown);
  exchange_.reset();
}

http::MessageHead ExchangeHarness::requestHead(std::string_view method, size_t body_length) {
  http::MessageHead head;
  head.method = method;
  head.target = "/work";
  head.appendHeader("Host", "example.test");
  if (body_length > 0) {
    head.content_length = body_length;
    head.appendHeader("Content-Length", std::to_string(body_length));
  }
  return head;
}

void ExchangeHarness::startRequest(std::string_view method, size_t body_length) {
  http::MessageHead head = requestHead(method, body_length);
  startRequest(head, body_length == 0);
}

void ExchangeHarness::startRequest(http::MessageHead& head, bool complete) {
  exchange_->onRequestHead(head);
  if (complete) exchange_->onRequestComplete(nullptr);
}

std::vector<std::string> ExchangeHarness::recentCancellations() const {
  std::vector<std::string> events;
  for (const auto& event : worker_metrics_.recentCancellations().snapshot()) events.push_back(event.json);
  return events;
}

void ExchangeHarness::clientLeaves(Outcome how) {
  if (how == Outcome::ClientClosed && exchange_->keepServingAfterFin()) return;
  if (how == Outcome::StreamReset) exchange_->setDownstreamError("CANCEL");
  if (exchange_->onDownstreamClosed(how)) detached_ = true;
}

bool ExchangeHarness::runUntil(const std::function<bool()>& done, std::chrono::milliseconds bound) {
  const auto until = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    event_base_loop(base_.get(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
  }
  return true;
}

std::vector<std::string> ExchangeHarness::takeLogLines() {
  std::vector<std::string> lines;
  std::string line;
  while (queue_.tryPop(line)) {
    while (!line.empty() && line.back() == '\n') line.pop_back();
    lines.push_back(line);
    line.clear();
  }
  return lines;
}

uint64_t ExchangeHarness::cancelledCount(Outcome outcome, Phase phase) const {
  return route_metrics_->cancelled(0, indexOf(outcome), indexOf(phase));
}

uint64_t ExchangeHarness::clientGoneCount(Outcome how, Phase phase) const {
  return route_metrics_->clientGone(0, indexOf(how), indexOf(phase));
}

uint64_t ExchangeHarness::requestsCount(std::string_view method, int status) const {
  return route_metrics_->requests(0, metrics::methodIndex(method), metrics::codeIndex(status));
}

void ExchangeHarness::adopt(std::unique_ptr<Exchange>) { ADD_FAILURE() << "the harness holds detached exchanges"; }

void ExchangeHarness::release(Exchange& exchange) {
  EXPECT_EQ(&exchange, exchange_.get());
  released_ = true;
}

}  // namespace tether::testing
