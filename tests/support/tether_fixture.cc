#include "support/tether_fixture.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "support/socket_io.h"
#include "support/test_env.h"
#include "support/test_upstream.h"

namespace tether::testing {
namespace {

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

void appendSettings(std::string& out, const Settings& settings, const std::string& indent) {
  for (const auto& [key, value] : settings) out += indent + key + ": " + value + "\n";
}

std::string tail(const std::string& text, size_t n) { return text.size() > n ? text.substr(text.size() - n) : text; }

}  // namespace

// ---- TetherOptions ----------------------------------------------------------------------------

TetherOptions TetherOptions::proxyTo(std::vector<std::string> endpoints, Settings upstream_settings) {
  TetherOptions options;
  options.addUpstream("backend", std::move(endpoints), std::move(upstream_settings));
  options.addRoute("all", "{path_prefix: /}", "backend");
  return options;
}

TetherOptions& TetherOptions::addUpstream(std::string name, std::vector<std::string> endpoints, Settings settings) {
  upstreams.push_back({std::move(name), std::move(endpoints), std::move(settings)});
  return *this;
}

TetherOptions& TetherOptions::addRoute(std::string name, std::string match, std::string upstream, Settings settings) {
  routes.push_back({std::move(name), std::move(match), std::move(upstream), std::move(settings)});
  return *this;
}

TetherOptions& TetherOptions::limit(std::string key, std::string value) {
  limits.emplace_back(std::move(key), std::move(value));
  return *this;
}

TetherOptions& TetherOptions::withWorkers(unsigned n) {
  workers = n;
  return *this;
}

// ---- TetherInstance ---------------------------------------------------------------------------

std::string TetherInstance::configYaml(const TetherOptions& options, uint16_t port, uint16_t admin_port,
                                       const std::string& log_path) {
  std::string out = "workers: " + std::to_string(options.workers) + "\n";
  out += "listeners:\n  - name: main\n    address: 127.0.0.1:" + std::to_string(port) + "\n";
  out += "upstreams:\n";
  for (const auto& upstream : options.upstreams) {
    out += "  - name: " + upstream.name + "\n    endpoints: [";
    for (size_t i = 0; i < upstream.endpoints.size(); ++i) {
      out += (i > 0 ? ", " : "") + quoted(upstream.endpoints[i]);
    }
    out += "]\n";
    appendSettings(out, upstream.settings, "    ");
  }
  out += "routes:\n";
  for (const auto& route : options.routes) {
    out += "  - name: " + route.name + "\n    match: " + route.match + "\n    upstream: " + route.upstream + "\n";
    appendSettings(out, route.settings, "    ");
  }
  if (!options.limits.empty()) {
    out += "limits:\n";
    appendSettings(out, options.limits, "  ");
  }
  out += "log:\n  sink: file\n  path: " + quoted(log_path) + "\n  level: info\n  access_log: " +
         (options.access_log ? "true" : "false") + "\n";
  out += "admin:\n  address: 127.0.0.1:" + std::to_string(admin_port) + "\n";
  return out;
}

TetherInstance::TetherInstance(std::string binary, const TetherOptions& options) : dir_(tempDir()) {
  config_path_ = dir_ + "/tether.yaml";
  log_path_ = dir_ + "/tether.log";
  // freePort() can race with other processes: a listener that cannot bind makes tether exit, so
  // try a few port pairs before giving up.
  std::string last_output;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = freePort();
    do {
      admin_port_ = freePort();
    } while (admin_port_ == port_);
    config_text_ = configYaml(options, port_, admin_port_, log_path_);
    std::ofstream(config_path_, std::ios::trunc) << config_text_;
    std::vector<std::string> argv{binary, "--config", config_path_};
    if (options.small_sanitizer_quarantine) {
      const char* asan = std::getenv("ASAN_OPTIONS");
      const std::string existing = asan != nullptr && *asan != '\0' ? std::string(asan) + ":" : "";
      argv.insert(argv.begin(), {"/usr/bin/env", "ASAN_OPTIONS=" + existing + "quarantine_size_mb=8"});
    }
    process_ = std::make_unique<Process>(std::move(argv));
    if (waitUntilAccepting(kStartTimeout)) return;
    last_output = process_->output();
    const bool port_taken = last_output.find("cannot listen") != std::string::npos && !process_->running();
    process_->stop(SIGKILL);
    if (!port_taken) break;
  }
  throw std::runtime_error("tether did not start accepting on 127.0.0.1:" + std::to_string(port_) +
                           "\nconfig:\n" + config_text_ + "output:\n" + tail(last_output, 4000));
}

TetherInstance::~TetherInstance() {
  if (!process_) return;
  const bool was_running = process_->running();
  const int code = stop();
  if (code != 0) {
    ADD_FAILURE() << "tether " << (was_running ? "exited with code " : "had already exited with code ") << code
                  << " (config and log in " << dir_ << ")\noutput:\n"
                  << tail(process_->output(), 8000);
  } else if (!::testing::Test::HasFailure()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

bool TetherInstance::waitUntilAccepting(std::chrono::milliseconds timeout) {
  const Deadline deadline = deadlineAfter(timeout);
  while (Clock::now() < deadline) {
    if (!process_->running()) return false;
    const int fd = connectLoopback(port_, deadlineAfter(std::chrono::milliseconds(200)));
    if (fd >= 0) {
      ::close(fd);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int TetherInstance::stop() {
  if (!exit_code_) exit_code_ = process_->stop(SIGTERM);
  return *exit_code_;
}

std::vector<std::string> TetherInstance::logLines() const {
  std::vector<std::string> lines;
  std::ifstream in(log_path_);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::optional<std::string> TetherInstance::findLogLine(const std::vector<std::string>& needles,
                                                       std::chrono::milliseconds timeout) const {
  const Deadline deadline = deadlineAfter(timeout);
  while (true) {
    for (const auto& line : logLines()) {
      const bool all = std::all_of(needles.begin(), needles.end(),
                                   [&](const std::string& needle) { return line.find(needle) != std::string::npos; });
      if (all) return line;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool TetherInstance::waitForLogLine(std::string_view needle, std::chrono::milliseconds timeout) const {
  return findLogLine({std::string(needle)}, timeout).has_value();
}

// ---- small helpers ---------------------------------------------------------------------------

std::string getRequest(std::string_view target, std::string_view extra_headers) {
  std::string out = "GET ";
  out.append(target).append(" HTTP/1.1\r\nHost: test\r\n").append(extra_headers).append("\r\n");
  return out;
}

bool isHex32(std::string_view text) {
  return text.size() == 32 && std::all_of(text.begin(), text.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::optional<std::string> find32Hex(std::string_view text) {
  size_t run = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && std::isxdigit(static_cast<unsigned char>(text[i]))) {
      ++run;
      continue;
    }
    if (run == 32) return std::string(text.substr(i - 32, 32));
    run = 0;
  }
  return std::nullopt;
}

// ---- process statistics -----------------------------------------------------------------------

uint64_t rssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

int threadCount(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

RssSampler::RssSampler(pid_t pid, std::chrono::milliseconds interval) {
  thread_ = std::thread([this, pid, interval] {
    while (!stop_.load()) {
      const uint64_t kib = rssKiB(pid);
      if (kib > max_kib_.load()) max_kib_.store(kib);
      ++samples_;
      std::this_thread::sleep_for(interval);
    }
  });
}

RssSampler::~RssSampler() { stop(); }

void RssSampler::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

// ---- streaming bodies -------------------------------------------------------------------------

StreamedResponse readStreamedResponse(RawClient& client, std::chrono::milliseconds timeout, uint64_t pause_every,
                                      const std::function<void(uint64_t)>& on_progress) {
  StreamedResponse response;
  const Deadline deadline = deadlineAfter(timeout);
  auto remaining = [&] {
    return std::max(std::chrono::milliseconds(1),
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  };
  std::string in;
  size_t head_end = std::string::npos;
  while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
    if (Clock::now() >= deadline) {
      response.problem = "timeout";
      return response;
    }
    const std::string more = client.recvSome(remaining());
    if (more.empty() && client.peerClosed()) {
      response.problem = "closed";
      return response;
    }
    in += more;
  }
  auto parsed = parseHead(std::string_view(in).substr(0, head_end));
  in.erase(0, head_end + 4);
  response.problem = "bad head";
  if (!parsed || parsed->start_line.size() < 12 || parsed->start_line.compare(0, 5, "HTTP/") != 0) return response;
  const std::string_view code = std::string_view(parsed->start_line).substr(9, 3);
  std::from_chars(code.data(), code.data() + code.size(), response.status);
  response.headers = std::move(parsed->headers);
  const auto framing = responseFraming(response.status, response.headers, false);
  if (!framing) return response;
  response.chunked = framing->kind == BodyFraming::kChunked;

  BodyDecoder decoder(*framing);
  uint64_t next_pause = pause_every;
  auto check = [&] {
    const std::string body = decoder.takeBody();
    for (size_t i = 0; i < body.size(); ++i) {
      const uint64_t offset = response.body_bytes + i;
      if (response.first_mismatch == UINT64_MAX && body[i] != generatedByte(offset)) {
        response.first_mismatch = offset;
      }
    }
    response.body_bytes += body.size();
    if (pause_every > 0 && on_progress && response.body_bytes >= next_pause) {
      on_progress(response.body_bytes);
      next_pause = response.body_bytes + pause_every;
    }
  };
  auto status = decoder.consume(in);
  check();
  while (status == BodyDecoder::Status::kNeedMore && Clock::now() < deadline) {
    const std::string more = client.recvSome(remaining());
    if (more.empty()) {
      if (client.peerClosed()) status = decoder.finishAtEof();
      continue;
    }
    in += more;  // after a partial chunk-size line, `in` still holds its start
    status = decoder.consume(in);
    check();
  }
  response.complete = status == BodyDecoder::Status::kDone;
  if (response.complete) {
    response.problem.clear();
  } else if (status == BodyDecoder::Status::kError) {
    response.problem = client.peerClosed() ? "closed" : "bad body framing near: " + in.substr(0, 40);
  } else {
    response.problem = client.peerClosed() ? "closed" : "timeout";
  }
  return response;
}

bool sendChunkedBody(RawClient& client, uint64_t total, std::chrono::milliseconds timeout) {
  const Deadline deadline = deadlineAfter(timeout);
  static const std::string pattern = generatedBody(1 << 20);
  static constexpr size_t kSizes[] = {65536, 1, 100000, 4096, 32768, 7};  // varied chunk sizes
  std::string frame;
  uint64_t sent = 0;
  for (size_t n = 0; sent < total; ++n) {
    const size_t offset = static_cast<size_t>(sent % pattern.size());
    const size_t size = static_cast<size_t>(
        std::min<uint64_t>({kSizes[n % std::size(kSizes)], total - sent, pattern.size() - offset}));
    char hex[20];
    const auto [end, ec] = std::to_chars(hex, hex + sizeof hex, size, 16);
    frame.assign(hex, end).append("\r\n").append(pattern, offset, size).append("\r\n");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || !client.send(frame, left)) return false;
    sent += size;
  }
  return client.send("0\r\n\r\n");
}

}  // namespace tether::testing
