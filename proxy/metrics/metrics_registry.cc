#include "metrics/metrics_registry.h"

#include <algorithm>
#include <limits>

#include "metrics/exposition_writer.h"

namespace tether::metrics {

MetricsRegistry::MetricsRegistry(const config::Config& config, std::vector<const WorkerMetrics*> workers)
    : workers_(std::move(workers)) {
  for (const auto& route : config.routes) routes_.push_back(route.name);
  for (const auto& upstream : config.upstreams) upstreams_.push_back(upstream.name);
}

std::string_view MetricsRegistry::routeLabel(size_t route) const {
  return route < routes_.size() ? std::string_view(routes_[route]) : kNoRouteLabel;
}

std::string MetricsRegistry::renderPrometheus(const ProcessCounters& process) const {
  ExpositionWriter out;
  writeRequests(out);
  writeCancellations(out);
  writeDurations(out);
  writeConnections(out);
  writeProcess(out, process);
  return out.text();
}

// Only the combinations that occurred: routes x methods x codes would be thousands of zero series.
void MetricsRegistry::writeRequests(ExpositionWriter& out) const {
  out.family("requests_total", "counter", "Requests that ended, by route, method and response status (code).");
  char scratch[4];
  for (size_t route = 0; route <= routes_.size(); ++route) {
    for (size_t method = 0; method < kMethods.size(); ++method) {
      for (size_t code = 0; code < kCodeCount; ++code) {
        const uint64_t n = sum([&](const WorkerMetrics& w) { return w.requests(route, method, code); });
        if (n == 0) continue;
        out.sample("requests_total",
                   {{"route", routeLabel(route)}, {"method", kMethods[method]}, {"code", codeLabel(code, scratch)}}, n);
      }
    }
  }
}

void MetricsRegistry::writeCancellations(ExpositionWriter& out) const {
  out.family("requests_cancelled_total", "counter",
             "Requests whose upstream work tether cancelled, by route, reason and the phase the request was in.");
  for (size_t route = 0; route <= routes_.size(); ++route) {
    for (size_t reason = 0; reason < kReasonCount; ++reason) {
      for (size_t phase = 0; phase < kPhaseCount; ++phase) {
        const uint64_t n = sum([&](const WorkerMetrics& w) { return w.cancelled(route, reason, phase); });
        if (n == 0) continue;
        out.sample("requests_cancelled_total",
                   {{"route", routeLabel(route)}, {"reason", toString(reasonAt(reason))},
                    {"phase", toString(phaseAt(phase))}}, n);
      }
    }
  }
  out.family("requests_client_gone_total", "counter",
             "Requests whose client left while the route's policy let the upstream run on (not cancelled).");
  for (size_t route = 0; route <= routes_.size(); ++route) {
    for (size_t reason = 0; reason < kReasonCount; ++reason) {
      for (size_t phase = 0; phase < kPhaseCount; ++phase) {
        const uint64_t n = sum([&](const WorkerMetrics& w) { return w.clientGone(route, reason, phase); });
        if (n == 0) continue;
        out.sample("requests_client_gone_total",
                   {{"route", routeLabel(route)}, {"reason", toString(reasonAt(reason))},
                    {"phase", toString(phaseAt(phase))}}, n);
      }
    }
  }
  out.family("cancelled_upstream_seconds_total", "counter",
             "Upstream time spent on requests that were then cancelled: from sending the request to the cancel.");
  for (size_t route = 0; route < routes_.size(); ++route) {
    const uint64_t us = sum([&](const WorkerMetrics& w) { return w.cancelledUpstreamMicros(route); });
    out.sample("cancelled_upstream_seconds_total", {{"route", routeLabel(route)}}, static_cast<double>(us) / 1e6);
  }
}

void MetricsRegistry::writeDurations(ExpositionWriter& out) const {
  out.family("request_duration_seconds", "histogram",
             "Time from the request head to the end of the exchange, whatever way it ended, by route.");
  for (size_t route = 0; route <= routes_.size(); ++route) {
    const std::string_view label = routeLabel(route);
    uint64_t cumulative = 0;
    for (size_t bucket = 0; bucket <= kDurationBuckets.size(); ++bucket) {
      cumulative += sum([&](const WorkerMetrics& w) { return w.durationBucket(route, bucket); });
      const double bound =
          bucket < kDurationBuckets.size() ? kDurationBuckets[bucket] : std::numeric_limits<double>::infinity();
      out.bucket("request_duration_seconds", {{"route", label}}, bound, cumulative);
    }
    const uint64_t us = sum([&](const WorkerMetrics& w) { return w.durationMicros(route); });
    out.sample("request_duration_seconds_sum", {{"route", label}}, static_cast<double>(us) / 1e6);
    out.sample("request_duration_seconds_count", {{"route", label}}, cumulative);
  }
}

void MetricsRegistry::writeConnections(ExpositionWriter& out) const {
  out.family("active_requests", "gauge", "Exchanges in progress, including those running on after their client left.");
  out.sample("active_requests", {}, sum([](const WorkerMetrics& w) { return w.activeRequests(); }));
  out.family("downstream_connections", "gauge", "Open client connections, by listener scheme (http or https).");
  for (size_t s = 0; s < kSchemes.size(); ++s) {
    const auto scheme = static_cast<Scheme>(s);
    out.sample("downstream_connections", {{"protocol", kSchemes[s]}},
               sum([&](const WorkerMetrics& w) { return w.downstreamConnections(scheme); }));
  }
  out.family("upstream_connections", "gauge", "Open upstream connections, by upstream and state.");
  for (size_t u = 0; u < upstreams_.size(); ++u) {
    const std::string_view name = upstreams_[u];
    const auto relaxed = std::memory_order_relaxed;
    out.sample("upstream_connections", {{"upstream", name}, {"state", "connecting"}},
               sum([&](const WorkerMetrics& w) { return w.upstream(u).connecting.load(relaxed); }));
    out.sample("upstream_connections", {{"upstream", name}, {"state", "active"}},
               sum([&](const WorkerMetrics& w) { return w.upstream(u).active.load(relaxed); }));
    out.sample("upstream_connections", {{"upstream", name}, {"state", "idle"}},
               sum([&](const WorkerMetrics& w) { return w.upstream(u).idle.load(relaxed); }));
  }
  out.family("h2_stream_resets_total", "counter", "HTTP/2 streams the client reset (RST_STREAM) before they completed.");
  out.sample("h2_stream_resets_total", {}, sum([](const WorkerMetrics& w) { return w.h2StreamResets(); }));
  out.family("h2_rapid_reset_goaways_total", "counter",
             "HTTP/2 connections sent GOAWAY(ENHANCE_YOUR_CALM) for resetting too many streams (Rapid Reset).");
  out.sample("h2_rapid_reset_goaways_total", {}, sum([](const WorkerMetrics& w) { return w.h2RapidResetGoaways(); }));
  out.family("upstream_connect_errors_total", "counter", "Upstream connects that failed (refused, timed out).");
  for (size_t u = 0; u < upstreams_.size(); ++u) {
    out.sample("upstream_connect_errors_total", {{"upstream", upstreams_[u]}},
               sum([&](const WorkerMetrics& w) { return w.upstream(u).connect_errors.load(std::memory_order_relaxed); }));
  }
}

void MetricsRegistry::writeProcess(ExpositionWriter& out, const ProcessCounters& process) const {
  out.family("log_lines_dropped_total", "counter", "Log lines dropped because a worker's log queue was full.");
  out.sample("log_lines_dropped_total", {}, process.log_lines_dropped);
  out.family("config_reloads_total", "counter", "Configuration reloads, by result.");
  out.sample("config_reloads_total", {{"result", "success"}}, process.config_reloads_success);
  out.sample("config_reloads_total", {{"result", "failure"}}, process.config_reloads_failure);
}

std::string MetricsRegistry::recentCancellationsJson(size_t limit) const {
  std::vector<CancellationRing::Event> events;
  for (const WorkerMetrics* worker : workers_) {
    auto some = worker->recentCancellations().snapshot();
    std::move(some.begin(), some.end(), std::back_inserter(events));
  }
  std::stable_sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.unix_ns < b.unix_ns; });
  const size_t skip = events.size() > limit ? events.size() - limit : 0;
  std::string out = "[";
  for (size_t i = skip; i < events.size(); ++i) {
    if (i > skip) out.append(",\n");
    out.append(events[i].json);
  }
  out.append("]\n");
  return out;
}

}  // namespace tether::metrics
