#include "metrics/metrics_registry.h"

#include <algorithm>
#include <atomic>
#include <limits>

#include "metrics/exposition_writer.h"

namespace tether::metrics {
namespace {

// The `code` label of upstream_stream_resets_total: RFC 9113's names, as logged in upstream_reset.
using ResetCodeNames = std::array<std::string_view, UpstreamCounters::kResetCodes>;
// Five codes a row, 0x0 to 0xd, then the slot for any other code.
// clang-format off
constexpr ResetCodeNames kResetCodeNames{
    "NO_ERROR",      "PROTOCOL_ERROR",    "INTERNAL_ERROR",      "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
    "STREAM_CLOSED", "FRAME_SIZE_ERROR",  "REFUSED_STREAM",      "CANCEL",             "COMPRESSION_ERROR",
    "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",  "OTHER"};
// clang-format on
constexpr size_t kCancelCode = 8;

}  // namespace

MetricsRegistry::MetricsRegistry(std::vector<const WorkerMetrics*> workers) : workers_(std::move(workers)) {}

void MetricsRegistry::addSnapshot(const config::Config& config,
                                  std::vector<std::shared_ptr<const RouteMetrics>> per_worker) {
  Snapshot snapshot;
  for (const auto& route : config.routes) snapshot.routes.push_back(route.name);
  for (const auto& upstream : config.upstreams) snapshot.upstreams.push_back(upstream.name);
  snapshot.workers = std::move(per_worker);
  std::lock_guard lock(mutex_);
  snapshots_.push_back(std::move(snapshot));
}

size_t MetricsRegistry::liveSnapshots() const {
  std::lock_guard lock(mutex_);
  foldRetired();
  return snapshots_.size();
}

void MetricsRegistry::foldRetired() const {
  for (size_t i = 0; i + 1 < snapshots_.size();) {
    const auto& workers = snapshots_[i].workers;
    const bool unused = std::all_of(workers.begin(), workers.end(), [](const auto& w) { return w.use_count() == 1; });
    if (!unused) {
      ++i;
      continue;
    }
    // Pairs with the release in the workers' last shared_ptr decrement: their final counts are visible.
    std::atomic_thread_fence(std::memory_order_acquire);
    Totals folded;
    accumulate(snapshots_[i], folded);
    for (auto& [name, route] : folded.routes) {
      RouteTotals& into = retired_.routes[name];
      for (size_t k = 0; k < route.requests.size(); ++k) into.requests[k] += route.requests[k];
      for (size_t k = 0; k < route.cancelled.size(); ++k) into.cancelled[k] += route.cancelled[k];
      for (size_t k = 0; k < route.client_gone.size(); ++k) into.client_gone[k] += route.client_gone[k];
      for (size_t k = 0; k < route.buckets.size(); ++k) into.buckets[k] += route.buckets[k];
      into.cancelled_upstream_us += route.cancelled_upstream_us;
      into.duration_us += route.duration_us;
    }
    for (auto& [name, upstream] : folded.upstreams) retired_.upstreams[name].addCounters(upstream);
    snapshots_.erase(snapshots_.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

void MetricsRegistry::accumulate(const Snapshot& snapshot, Totals& totals) {
  for (const auto& metrics : snapshot.workers) {
    for (size_t r = 0; r <= snapshot.routes.size(); ++r) {
      const std::string_view label = r < snapshot.routes.size() ? std::string_view(snapshot.routes[r]) : kNoRouteLabel;
      auto it = totals.routes.find(label);
      if (it == totals.routes.end()) it = totals.routes.emplace(std::string(label), RouteTotals{}).first;
      RouteTotals& t = it->second;
      for (size_t m = 0; m < kMethods.size(); ++m) {
        for (size_t c = 0; c < kCodeCount; ++c) t.requests[m * kCodeCount + c] += metrics->requests(r, m, c);
      }
      for (size_t reason = 0; reason < kOutcomeCount; ++reason) {
        for (size_t phase = 0; phase < kPhaseCount; ++phase) {
          t.cancelled[reason * kPhaseCount + phase] += metrics->cancelled(r, reason, phase);
          t.client_gone[reason * kPhaseCount + phase] += metrics->clientGone(r, reason, phase);
        }
      }
      for (size_t b = 0; b < kBucketSlots; ++b) t.buckets[b] += metrics->durationBucket(r, b);
      for (size_t g = 0; g < kGrpcSlots; ++g) t.grpc[g] += metrics->grpcRequests(r, g);
      t.cancelled_upstream_us += metrics->cancelledUpstreamMicros(r);
      t.duration_us += metrics->durationMicros(r);
    }
    for (size_t u = 0; u < snapshot.upstreams.size(); ++u) {
      UpstreamTotals& t = totals.upstreams[snapshot.upstreams[u]];
      const UpstreamCounters& counters = metrics->upstream(u);
      const auto relaxed = std::memory_order_relaxed;
      t.connecting += counters.connecting.load(relaxed);
      t.active += counters.active.load(relaxed);
      t.idle += counters.idle.load(relaxed);
      t.connect_errors += counters.connect_errors.load(relaxed);
      for (size_t k = 0; k < t.stream_resets.size(); ++k) t.stream_resets[k] += counters.stream_resets[k].load(relaxed);
      t.reset_budget_exceeded += counters.reset_budget_exceeded.load(relaxed);
    }
  }
}

MetricsRegistry::Totals MetricsRegistry::totals() const {
  std::lock_guard lock(mutex_);
  foldRetired();
  Totals totals = retired_;
  for (const Snapshot& snapshot : snapshots_) accumulate(snapshot, totals);
  return totals;
}

std::string MetricsRegistry::renderPrometheus(const ProcessCounters& process) const {
  const Totals sums = totals();
  ExpositionWriter out;
  writeRequests(out, sums);
  writeCancellations(out, sums);
  writeDurations(out, sums);
  writeGrpc(out, sums);
  writeConnections(out, sums);
  writeProcess(out, process);
  return out.text();
}

// Only the combinations that occurred: routes x methods x codes would be thousands of zero series.
void MetricsRegistry::writeRequests(ExpositionWriter& out, const Totals& totals) const {
  out.family("requests_total", "counter", "Requests that ended, by route, method and response status (code).");
  char scratch[4];
  for (const auto& [route, t] : totals.routes) {
    for (size_t method = 0; method < kMethods.size(); ++method) {
      for (size_t code = 0; code < kCodeCount; ++code) {
        const uint64_t n = t.requests[method * kCodeCount + code];
        if (n == 0) continue;
        out.sample("requests_total",
                   {{"route", route}, {"method", kMethods[method]}, {"code", codeLabel(code, scratch)}}, n);
      }
    }
  }
}

void MetricsRegistry::writeCancellations(ExpositionWriter& out, const Totals& totals) const {
  const auto byReasonAndPhase = [&](std::string_view family, auto counts) {
    for (const auto& [route, t] : totals.routes) {
      for (size_t reason = 0; reason < kOutcomeCount; ++reason) {
        for (size_t phase = 0; phase < kPhaseCount; ++phase) {
          const uint64_t n = (t.*counts)[reason * kPhaseCount + phase];
          if (n == 0) continue;
          out.sample(
              family,
              {{"route", route}, {"reason", metricLabel(outcomeAt(reason))}, {"phase", toString(phaseAt(phase))}}, n);
        }
      }
    }
  };
  out.family("requests_cancelled_total", "counter",
             "Requests whose upstream work tether cancelled, by route, reason and the phase the request was in.");
  byReasonAndPhase("requests_cancelled_total", &RouteTotals::cancelled);
  out.family("requests_client_gone_total", "counter",
             "Requests whose client left while the route's policy let the upstream run on (not cancelled).");
  byReasonAndPhase("requests_client_gone_total", &RouteTotals::client_gone);
  out.family("cancelled_upstream_seconds_total", "counter",
             "Upstream time spent on requests that were then cancelled: from sending the request to the cancel.");
  for (const auto& [route, t] : totals.routes) {
    if (route == kNoRouteLabel) continue;  // no route, no upstream
    out.sample("cancelled_upstream_seconds_total", {{"route", route}},
               static_cast<double>(t.cancelled_upstream_us) / 1e6);
  }
}

void MetricsRegistry::writeDurations(ExpositionWriter& out, const Totals& totals) const {
  out.family("request_duration_seconds", "histogram",
             "Time from the request head to the end of the exchange, whatever way it ended, by route.");
  for (const auto& [route, t] : totals.routes) {
    uint64_t cumulative = 0;
    for (size_t bucket = 0; bucket < kBucketSlots; ++bucket) {
      cumulative += t.buckets[bucket];
      const double bound =
          bucket < kDurationBuckets.size() ? kDurationBuckets[bucket] : std::numeric_limits<double>::infinity();
      out.bucket("request_duration_seconds", {{"route", route}}, bound, cumulative);
    }
    out.sample("request_duration_seconds_sum", {{"route", route}}, static_cast<double>(t.duration_us) / 1e6);
    out.sample("request_duration_seconds_count", {{"route", route}}, cumulative);
  }
}

// Only the statuses that occurred, as for requests_total.
void MetricsRegistry::writeGrpc(ExpositionWriter& out, const Totals& totals) const {
  out.family("grpc_requests_total", "counter",
             "gRPC requests that ended, by route and grpc_status: the upstream's, or the one tether answered with "
             "(\"none\": the call ended without one, e.g. the client left).");
  for (const auto& [route, t] : totals.routes) {
    for (size_t slot = 0; slot < kGrpcSlots; ++slot) {
      if (t.grpc[slot] == 0) continue;
      const std::string status = slot == kGrpcNoStatus ? std::string("none") : std::to_string(slot);
      out.sample("grpc_requests_total", {{"route", route}, {"grpc_status", status}}, t.grpc[slot]);
    }
  }
}

void MetricsRegistry::writeConnections(ExpositionWriter& out, const Totals& totals) const {
  out.family("active_requests", "gauge", "Exchanges in progress, including those running on after their client left.");
  out.sample("active_requests", {}, sum([](const WorkerMetrics& w) { return w.activeRequests(); }));
  out.family("downstream_connections", "gauge", "Open client connections, by listener scheme (http or https).");
  for (size_t s = 0; s < kSchemes.size(); ++s) {
    const auto scheme = static_cast<Scheme>(s);
    out.sample("downstream_connections", {{"protocol", kSchemes[s]}},
               sum([&](const WorkerMetrics& w) { return w.downstreamConnections(scheme); }));
  }
  out.family("upstream_connections", "gauge", "Open upstream connections, by upstream and state.");
  for (const auto& [name, t] : totals.upstreams) {
    out.sample("upstream_connections", {{"upstream", name}, {"state", "connecting"}}, t.connecting);
    out.sample("upstream_connections", {{"upstream", name}, {"state", "active"}}, t.active);
    out.sample("upstream_connections", {{"upstream", name}, {"state", "idle"}}, t.idle);
  }
  out.family("h2_stream_resets_total", "counter",
             "HTTP/2 streams the client reset (RST_STREAM) before they completed.");
  out.sample("h2_stream_resets_total", {}, sum([](const WorkerMetrics& w) { return w.h2StreamResets(); }));
  out.family("h2_rapid_reset_goaways_total", "counter",
             "HTTP/2 connections sent GOAWAY(ENHANCE_YOUR_CALM) for resetting too many streams (Rapid Reset).");
  out.sample("h2_rapid_reset_goaways_total", {}, sum([](const WorkerMetrics& w) { return w.h2RapidResetGoaways(); }));
  out.family("tls_handshakes_total", "counter",
             "TLS client handshakes that finished, resumed from a session ticket (resumed=\"true\") or in full.");
  for (const bool resumed : {false, true}) {
    out.sample("tls_handshakes_total", {{"resumed", resumed ? "true" : "false"}},
               sum([&](const WorkerMetrics& w) { return w.tlsHandshakes(resumed); }));
  }
  out.family("upstream_connect_errors_total", "counter", "Upstream connects that failed (refused, timed out).");
  for (const auto& [name, t] : totals.upstreams) {
    out.sample("upstream_connect_errors_total", {{"upstream", name}}, t.connect_errors);
  }
  writeUpstreamResets(out, totals);
}

void MetricsRegistry::writeUpstreamResets(ExpositionWriter& out, const Totals& totals) const {
  out.family("upstream_stream_resets_total", "counter",
             "RST_STREAM frames tether sent to HTTP/2 upstreams, by upstream and error code.");
  for (const auto& [name, t] : totals.upstreams) {
    for (size_t code = 0; code < t.stream_resets.size(); ++code) {
      // CANCEL always (the cancellations' code, 0 until the first); the others once they happened.
      if (t.stream_resets[code] == 0 && code != kCancelCode) continue;
      out.sample("upstream_stream_resets_total", {{"upstream", name}, {"code", kResetCodeNames[code]}},
                 t.stream_resets[code]);
    }
  }
  out.family("upstream_reset_budget_exceeded_total", "counter",
             "HTTP/2 upstream connections drained (GOAWAY NO_ERROR) for resetting more streams than reset_budget.");
  for (const auto& [name, t] : totals.upstreams) {
    out.sample("upstream_reset_budget_exceeded_total", {{"upstream", name}}, t.reset_budget_exceeded);
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
