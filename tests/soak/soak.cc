// tether_soak: the real tether binary (one worker) in front of an in-process upstream, driven by client threads
// over HTTP/1.1, h2c and h2 over TLS (a second tether with a TLS listener), 70% complete requests checked byte for
// byte and 30% aborted at a random point, FIN, RST or RST_STREAM. It asserts (exit 1 otherwise):
//   - no lost or corrupted response, no request body the upstream found corrupted;
//   - request_cancelled lines == the aborts made while tether held an exchange (same request ids and reasons), and
//     request_completed lines == the complete requests;
//   - /metrics agrees with the log (requests_total, requests_cancelled_total; h2_stream_resets_total with the
//     RST_STREAM aborts), no log line dropped;
//   - afterwards: tether_active_requests 0, upstream connections 0 (both sides), tether's fds back to their
//     baseline, RSS within a bound of its baseline.
// The method and the latest full run's figures: docs/soak.md.
// Usage: tether_soak [--requests N] [--threads-per-protocol N] [--seed N] [--time-limit SECONDS] [--json FILE]
//                    [--tether BINARY]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "soak/soak_clients.h"
#include "soak/soak_upstream.h"
#include "support/admin_client.h"
#include "support/test_env.h"
#include "support/tether_fixture.h"
#include "support/tls_client.h"

namespace tether::soak {
namespace {

using namespace std::chrono_literals;
using testing::openDescriptors;
using testing::TetherInstance;
using testing::TetherOptions;

struct Options {
  uint64_t requests = 5000;
  unsigned threads_per_protocol = 2;
  uint64_t seed = 1;
  std::chrono::seconds time_limit{900};
  std::string json_path;
  std::string tether_binary = TETHER_BINARY;
};

// Generous: these are waits for events a working tether reaches within milliseconds.
constexpr auto kSettleTimeout = 120s;
// The upstream keep-alive idle timeout: short, so the pooled connections close by themselves after the run.
constexpr const char* kIdleTimeout = "1s";
// RSS may grow by the allocator's retained arenas and the pools' high-water marks, but not with the request count.
constexpr uint64_t kRssSlackKiB = 64 * 1024;

Options parseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const char* value = argv[i + 1];
    if (key == "--requests")
      o.requests = std::strtoull(value, nullptr, 10);
    else if (key == "--threads-per-protocol")
      o.threads_per_protocol = unsigned(std::strtoul(value, nullptr, 10));
    else if (key == "--seed")
      o.seed = std::strtoull(value, nullptr, 10);
    else if (key == "--time-limit")
      o.time_limit = std::chrono::seconds(std::strtoll(value, nullptr, 10));
    else if (key == "--json")
      o.json_path = value;
    else if (key == "--tether")
      o.tether_binary = value;
    else
      throw std::runtime_error("unknown option " + key);
  }
  if (argc % 2 == 0) throw std::runtime_error("options come in pairs: --name value");
  o.threads_per_protocol = std::clamp(o.threads_per_protocol, 1u, 16u);
  return o;
}

// Sum of every sample of a metric family (all label combinations).
double sumFamily(const std::string& text, const std::string& family) {
  std::istringstream lines(text);
  double sum = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.compare(0, family.size(), family) != 0 || line.size() <= family.size()) continue;
    const char next = line[family.size()];
    if (next != '{' && next != ' ') continue;
    sum += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  }
  return sum;
}

struct LogCounts {
  uint64_t completed = 0;
  uint64_t completed_not_200 = 0;
  uint64_t cancelled = 0;
  std::vector<std::string> cancelled_ids;        // "<request id> <reason>"
  std::map<std::string, uint64_t> cancelled_by;  // "<reason>/<phase>" -> request_cancelled lines
};

std::string field(const std::string& line, const std::string& key) {
  const std::string needle = "\"" + key + "\":\"";
  const size_t at = line.find(needle);
  if (at == std::string::npos) return {};
  const size_t start = at + needle.size();
  return line.substr(start, line.find('"', start) - start);
}

LogCounts readLog(const TetherInstance& tether) {
  LogCounts counts;
  std::ifstream in(tether.logPath());
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"event\":\"request_completed\"") != std::string::npos) {
      ++counts.completed;
      if (line.find("\"status\":200,") == std::string::npos) ++counts.completed_not_200;
    } else if (line.find("\"event\":\"request_cancelled\"") != std::string::npos) {
      ++counts.cancelled;
      counts.cancelled_ids.push_back(field(line, "request_id") + " " + field(line, "reason"));
      counts.cancelled_by[field(line, "reason") + "/" + field(line, "phase")]++;
    }
  }
  return counts;
}

// One tether instance under test, with what was measured before and after.
struct Target {
  std::string label;
  std::unique_ptr<TetherInstance> tether;
  int fds_before = 0;
  int fds_after = 0;
  uint64_t rss_before_kib = 0;
  uint64_t rss_after_kib = 0;
  uint64_t rss_peak_kib = 0;
  std::unique_ptr<testing::RssSampler> sampler;
  Tally tally;
  LogCounts log;
  std::string metrics;
};

TetherOptions optionsFor(const SoakUpstream& upstream, const testing::CertificatePaths* tls) {
  TetherOptions options = TetherOptions::proxyTo({upstream.address()}, {{"keepalive_idle_timeout", kIdleTimeout}});
  options.workers = 1;
  if (tls != nullptr) {
    options.tls_cert = tls->cert;
    options.tls_key = tls->key;
  }
  return options;
}

void measureBefore(Target& t) {
  if (!t.tether->waitForLogLine("\"startup\"", kSettleTimeout)) throw std::runtime_error(t.label + ": no startup line");
  testing::scrape(*t.tether);  // the admin listener is up: its descriptors count in the baseline
  t.fds_before = openDescriptors(t.tether->pid());
  t.rss_before_kib = testing::rssKiB(t.tether->pid());
  t.sampler = std::make_unique<testing::RssSampler>(t.tether->pid(), 100ms);
}

// Runs every client thread to its end; prints progress every 10 s.
void runClients(const Options& o, std::vector<Target*> targets, SoakUpstream& upstream) {
  std::vector<ClientPlan> plans;
  const auto deadline = std::chrono::steady_clock::now() + o.time_limit;
  const uint64_t threads = 3ull * o.threads_per_protocol;
  for (unsigned i = 0; i < threads; ++i) {
    const Proto proto = static_cast<Proto>(i % 3);
    Target& target = *targets[proto == Proto::kH2Tls ? 1 : 0];
    plans.push_back(
        {proto, target.tether->port(), i, o.requests / threads + (i < o.requests % threads ? 1 : 0), o.seed, deadline});
  }
  std::vector<Tally> tallies(plans.size());
  std::atomic<uint64_t> progress{0};
  std::atomic<unsigned> finished{0};
  std::vector<std::thread> workers;
  for (size_t i = 0; i < plans.size(); ++i) {
    workers.emplace_back([&, i] {
      tallies[i] = runClient(plans[i], upstream.arrivals(), progress);
      finished.fetch_add(1);
    });
  }
  const auto start = std::chrono::steady_clock::now();
  // Every client stops at `deadline`; each of its waits is bounded too, so this loop ends.
  for (int tick = 1; finished.load() < plans.size(); ++tick) {
    std::this_thread::sleep_for(100ms);
    if (tick % 100 == 0) {
      const auto s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
      std::printf("  %5llds  %llu operations\n", static_cast<long long>(s.count()),
                  static_cast<unsigned long long>(progress.load()));
      std::fflush(stdout);
    }
  }
  for (auto& w : workers) w.join();
  for (size_t i = 0; i < plans.size(); ++i) targets[plans[i].proto == Proto::kH2Tls ? 1 : 0]->tally.add(tallies[i]);
}

// Polls `condition` until it holds; false after kSettleTimeout.
template <typename F>
bool settle(F condition) {
  const auto deadline = std::chrono::steady_clock::now() + kSettleTimeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

// Entries ("<request id> <reason>") in `a` that are not in `b`, the first few.
std::vector<std::string> missingFrom(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const std::unordered_set<std::string> in_b(b.begin(), b.end());
  std::vector<std::string> out;
  for (const auto& id : a) {
    if (in_b.count(id) == 0 && out.size() < 5) out.push_back(id);
  }
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// The log against what the clients did, /metrics against the log, and the resources against their baseline.
void checkCounts(Target& t, const std::function<void(bool, const std::string&)>& claim) {
  const LogCounts& log = t.log;
  const uint64_t want_cancelled = t.tally.cancel_ids.size();
  claim(log.completed == t.tally.completed, "request_completed lines " + std::to_string(log.completed) +
                                                " != complete requests " + std::to_string(t.tally.completed));
  claim(log.completed_not_200 == 0, std::to_string(log.completed_not_200) + " request_completed lines not 200");
  claim(log.cancelled == want_cancelled, "request_cancelled lines " + std::to_string(log.cancelled) +
                                             " != in-flight aborts " + std::to_string(want_cancelled));
  for (const auto& missing : missingFrom(t.tally.cancel_ids, log.cancelled_ids)) {
    const size_t at =
        size_t(std::find(t.tally.cancel_ids.begin(), t.tally.cancel_ids.end(), missing) - t.tally.cancel_ids.begin());
    claim(false, "abort without request_cancelled: " + missing + " (" + t.tally.cancel_ops[at] + ")");
  }
  const auto unexpected = missingFrom(log.cancelled_ids, t.tally.cancel_ids);
  claim(unexpected.empty(), "request_cancelled without an in-flight abort: " + join(unexpected));
  const double total = sumFamily(t.metrics, "tether_requests_total");
  const double cancelled = sumFamily(t.metrics, "tether_requests_cancelled_total");
  claim(total == double(log.completed + log.cancelled), "tether_requests_total " + std::to_string(uint64_t(total)) +
                                                            " != log lines " +
                                                            std::to_string(log.completed + log.cancelled));
  claim(cancelled == double(log.cancelled), "tether_requests_cancelled_total " + std::to_string(uint64_t(cancelled)) +
                                                " != request_cancelled lines " + std::to_string(log.cancelled));
  claim(testing::sampleValue(t.metrics, "tether_log_lines_dropped_total") == 0, "log lines dropped");
  uint64_t stream_resets = 0;
  for (const auto& proto : t.tally.ops) {
    for (const auto& kind : proto) stream_resets += kind[size_t(How::kRstStream)];
  }
  const double counted = testing::sampleValue(t.metrics, "tether_h2_stream_resets_total");
  claim(counted == double(stream_resets), "tether_h2_stream_resets_total " + std::to_string(uint64_t(counted)) +
                                              " != RST_STREAM aborts " + std::to_string(stream_resets));
  claim(t.rss_after_kib <= t.rss_before_kib + kRssSlackKiB,
        "RSS " + std::to_string(t.rss_after_kib) + " KiB, baseline " + std::to_string(t.rss_before_kib) + " KiB");
}

// Waits for the target to come back to rest and checks it; appends every failed claim to `problems`.
void settleAndCheck(Target& t, std::vector<std::string>& problems) {
  auto claim = [&](bool ok, const std::string& what) {
    if (!ok) problems.push_back(t.label + ": " + what);
  };
  TetherInstance& tether = *t.tether;
  claim(settle([&] { return testing::sampleValue(testing::scrape(tether), "tether_active_requests") == 0; }),
        "tether_active_requests did not return to 0");
  claim(settle([&] { return sumFamily(testing::scrape(tether), "tether_upstream_connections") == 0; }),
        "tether_upstream_connections did not return to 0");
  claim(settle([&] { return openDescriptors(tether.pid()) <= t.fds_before; }),
        "open descriptors did not return to the baseline");
  t.fds_after = openDescriptors(tether.pid());
  // Log lines are written by tether's writer thread: wait until every expected line is there.
  const uint64_t want_cancelled = t.tally.cancel_ids.size();
  settle([&] {
    t.log = readLog(tether);
    return t.log.completed >= t.tally.completed && t.log.cancelled >= want_cancelled;
  });
  t.log = readLog(tether);
  t.metrics = testing::scrape(tether);
  t.sampler->stop();
  t.rss_peak_kib = t.sampler->maxKiB();
  t.rss_after_kib = testing::rssKiB(tether.pid());
  checkCounts(t, claim);
}

std::string rowJson(const Target& t) {
  std::ostringstream j;
  j << "{\"label\":\"" << t.label << "\",\"complete_requests\":" << t.tally.completed
    << ",\"in_flight_aborts\":" << t.tally.cancel_ids.size() << ",\"request_completed_lines\":" << t.log.completed
    << ",\"request_cancelled_lines\":" << t.log.cancelled
    << ",\"metrics_requests_total\":" << uint64_t(sumFamily(t.metrics, "tether_requests_total"))
    << ",\"metrics_requests_cancelled_total\":" << uint64_t(sumFamily(t.metrics, "tether_requests_cancelled_total"))
    << ",\"h2_stream_resets_total\":" << uint64_t(testing::sampleValue(t.metrics, "tether_h2_stream_resets_total"))
    << ",\"fds_before\":" << t.fds_before << ",\"fds_after\":" << t.fds_after
    << ",\"rss_before_kib\":" << t.rss_before_kib << ",\"rss_peak_kib\":" << t.rss_peak_kib
    << ",\"rss_after_kib\":" << t.rss_after_kib << ",\"cancelled_by_reason_phase\":{";
  bool first = true;
  for (const auto& [key, n] : t.log.cancelled_by) {
    j << (first ? "" : ",") << "\"" << key << "\":" << n;
    first = false;
  }
  j << "}}";
  return j.str();
}

// Operations by protocol, kind and way of leaving, printed and as JSON.
std::string opsReport(const Tally& all, std::string& json) {
  std::ostringstream text;
  json = "[";
  for (size_t p = 0; p < size_t(Proto::kCount); ++p) {
    for (size_t k = 0; k < size_t(Kind::kCount); ++k) {
      for (size_t h = 0; h < size_t(How::kCount); ++h) {
        const uint64_t n = all.ops[p][k][h];
        if (n == 0) continue;
        const double ms = double(all.micros[p][k][h]) / 1000.0 / double(n);
        char row[160];
        std::snprintf(row, sizeof row, "  %-7s %-13s %-11s %8llu  %7.1f ms\n", name(Proto(p)), name(Kind(k)),
                      name(How(h)), static_cast<unsigned long long>(n), ms);
        text << row;
        json += std::string(json.size() > 1 ? "," : "") + "{\"protocol\":\"" + name(Proto(p)) + "\",\"kind\":\"" +
                name(Kind(k)) + "\",\"how\":\"" + name(How(h)) + "\",\"count\":" + std::to_string(n) + "}";
      }
    }
  }
  json += "]";
  return text.str();
}

uint64_t totalOps(const Tally& all) {
  uint64_t n = 0;
  for (const auto& p : all.ops) {
    for (const auto& k : p) {
      for (uint64_t h : k) n += h;
    }
  }
  return n;
}

void report(const Options& o, const std::vector<Target*>& targets, const SoakUpstream& upstream, double seconds,
            const std::vector<std::string>& problems) {
  Tally all;
  for (const Target* t : targets) all.add(t->tally);
  std::string ops_json;
  std::printf(
      "soak: %llu requests in %.1f s (%.0f/s), %.2f GiB of bodies, %llu upstream connections, %llu "
      "immediate leaves\n%s",
      static_cast<unsigned long long>(totalOps(all)), seconds, double(totalOps(all)) / seconds,
      double(all.body_bytes) / (1 << 30), static_cast<unsigned long long>(upstream.acceptedConnections()),
      static_cast<unsigned long long>(all.immediate_leaves), opsReport(all, ops_json).c_str());
  for (const Target* t : targets) std::printf("  %s\n", rowJson(*t).c_str());
  for (const auto& f : all.failure_samples) std::printf("  client failure: %s\n", f.c_str());
  for (const auto& p : problems) std::printf("  FAILED: %s\n", p.c_str());
  std::printf("soak: %s\n", problems.empty() ? "PASS" : "FAIL");
  if (o.json_path.empty()) return;
  std::ofstream json(o.json_path, std::ios::trunc);
  json << "{\"pass\":" << (problems.empty() ? "true" : "false") << ",\"requests\":" << totalOps(all)
       << ",\"seconds\":" << seconds << ",\"seed\":" << o.seed << ",\"body_bytes\":" << all.body_bytes
       << ",\"client_failures\":" << all.failures << ",\"upstream_connections\":" << upstream.acceptedConnections()
       << ",\"upstream_body_mismatches\":" << upstream.bodyMismatches()
       << ",\"immediate_leaves\":" << all.immediate_leaves << ",\"operations\":" << ops_json << ",\"targets\":["
       << rowJson(*targets[0]) << "," << rowJson(*targets[1]) << "],\"problems\":" << problems.size() << "}\n";
}

// The fixture removes its directory (config and log) when it stops: a failed run keeps the log for a post-mortem.
void keepLogOnFailure(const Target& t, std::vector<std::string>& problems, const Options& o) {
  if (problems.empty()) return;
  const std::string copy = (o.json_path.empty() ? std::string("soak") : o.json_path) + "." +
                           (t.tether->configText().find("tls:") != std::string::npos ? "tls" : "cleartext") + ".log";
  std::error_code error;
  std::filesystem::copy_file(t.tether->logPath(), copy, std::filesystem::copy_options::overwrite_existing, error);
  std::printf("  %s: tether's log kept in %s\n", t.label.c_str(), error ? "(copy failed)" : copy.c_str());
}

int run(const Options& o) {
  SoakUpstream upstream;
  const std::string dir = testing::tempDir();
  const testing::CertificatePaths certificate = testing::makeSelfSignedCertificate(dir);
  Target plain;
  plain.label = "cleartext (http1, h2c)";
  Target tls;
  tls.label = "tls (h2)";
  plain.tether = std::make_unique<TetherInstance>(o.tether_binary, optionsFor(upstream, nullptr));
  tls.tether = std::make_unique<TetherInstance>(o.tether_binary, optionsFor(upstream, &certificate));
  std::vector<Target*> targets{&plain, &tls};
  for (Target* t : targets) measureBefore(*t);
  std::printf("soak: %llu requests, %u client threads per protocol, seed %llu, tether pids %d and %d\n",
              static_cast<unsigned long long>(o.requests), o.threads_per_protocol,
              static_cast<unsigned long long>(o.seed), plain.tether->pid(), tls.tether->pid());
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  runClients(o, targets, upstream);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<std::string> problems;
  for (Target* t : targets) settleAndCheck(*t, problems);
  if (!upstream.waitForOpenConnections(0, kSettleTimeout)) problems.push_back("upstream connections stay open");
  if (upstream.bodyMismatches() > 0) problems.push_back("the upstream received corrupted request bodies");
  if (upstream.heldTooLong() > 0) problems.push_back("upstream work ran on after its client left (no cancel)");
  Tally all;
  for (Target* t : targets) all.add(t->tally);
  if (all.failures > 0) problems.push_back(std::to_string(all.failures) + " lost or corrupted responses (clients)");
  for (Target* t : targets) {
    const int code = t->tether->stop();
    if (code != 0) problems.push_back(t->label + ": tether exited with code " + std::to_string(code));
    keepLogOnFailure(*t, problems, o);
  }
  report(o, targets, upstream, seconds, problems);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return problems.empty() ? 0 : 1;
}

}  // namespace
}  // namespace tether::soak

int main(int argc, char** argv) {
  // SSL_write writes with write(): a connection tether closed must be an error return, not SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return tether::soak::run(tether::soak::parseOptions(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "soak: %s\n", e.what());
    return 2;
  }
}
