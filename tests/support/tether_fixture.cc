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
#include <sstream>
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
  if (!options.drain_timeout.empty()) out += "drain_timeout: " + options.drain_timeout + "\n";
  out += "listeners:\n  - name: main\n    address: 127.0.0.1:" + std::to_string(port) + "\n";
  if (!options.tls_cert.empty()) {
    out += "    tls: {cert: " + quoted(options.tls_cert) + ", key: " + quoted(options.tls_key) + "}\n";
  }
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
  out += "log:\n  sink: file\n  path: " + quoted(log_path) +
         "\n  level: info\n  access_log: " + (options.access_log ? "true" : "false") + "\n";
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
    std::filesystem::remove(log_path_);  // a failed attempt's lines must not count as this one's startup
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
  throw std::runtime_error("tether did not start accepting on 127.0.0.1:" + std::to_string(port_) + "\nconfig:\n" +
                           config_text_ + "output:\n" + tail(last_output, 4000));
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
  // Ready means: the `startup` line is logged (Server::start writes it after the workers and the admin
  // thread are up) and both the proxy and the admin listener accept a connection.
  const Deadline deadline = deadlineAfter(timeout);
  const auto accepts = [&](uint16_t port) {
    while (Clock::now() < deadline) {
      if (!process_->running()) return false;
      const int fd = connectLoopback(port, deadlineAfter(std::chrono::milliseconds(200)));
      if (fd >= 0) {
        ::close(fd);
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval, not a wait for time
    }
    return false;
  };
  while (logLinesWith({"\"event\":\"startup\""}).empty()) {
    if (!process_->running() || Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
  }
  return accepts(port_) && accepts(admin_port_);
}

int TetherInstance::stop() {
  if (!exit_code_) exit_code_ = process_->stop(SIGTERM);
  return *exit_code_;
}

std::string TetherInstance::dumpLog() const {
  std::string all;
  for (const auto& line : logLines()) all += line + "\n";
  return all;
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
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
  }
}

bool TetherInstance::waitForLogLine(std::string_view needle, std::chrono::milliseconds timeout) const {
  return findLogLine({std::string(needle)}, timeout).has_value();
}

std::vector<std::string> TetherInstance::logLinesWith(const std::vector<std::string>& needles) const {
  std::vector<std::string> out;
  for (auto& line : logLines()) {
    const bool all = std::all_of(needles.begin(), needles.end(),
                                 [&](const std::string& needle) { return line.find(needle) != std::string::npos; });
    if (all) out.push_back(std::move(line));
  }
  return out;
}

size_t TetherInstance::waitForLogLineCount(const std::vector<std::string>& needles, size_t n,
                                           std::chrono::milliseconds timeout) const {
  const Deadline deadline = deadlineAfter(timeout);
  while (true) {
    const size_t count = logLinesWith(needles).size();
    if (count >= n || Clock::now() >= deadline) return count;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
  }
}

std::vector<JsonValue> TetherInstance::logEvents(std::string_view event, std::string_view request_id) const {
  std::vector<std::string> needles{"\"" + std::string(event) + "\""};
  if (!request_id.empty()) needles.push_back(std::string(request_id));
  std::vector<JsonValue> out;
  for (const auto& line : logLinesWith(needles)) {
    std::string error;
    auto value = parseJson(line, &error);
    if (!value) {
      ADD_FAILURE() << "log line is not valid JSON (" << error << "): " << line;
      continue;
    }
    if (value->str("event") != event) continue;
    if (!request_id.empty() && value->str("request_id") != request_id) continue;
    out.push_back(std::move(*value));
  }
  return out;
}

std::vector<JsonValue> TetherInstance::waitForLogEvents(std::string_view event, std::string_view request_id, size_t n,
                                                        std::chrono::milliseconds timeout) const {
  const Deadline deadline = deadlineAfter(timeout);
  while (true) {
    auto events = logEvents(event, request_id);
    if (events.size() >= n || Clock::now() >= deadline) return events;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
  }
}

// ---- small helpers ---------------------------------------------------------------------------

std::string getRequest(std::string_view target, std::string_view extra_headers) {
  std::string out = "GET ";
  out.append(target).append(" HTTP/1.1\r\nHost: test\r\n").append(extra_headers).append("\r\n");
  return out;
}

bool isHex32(std::string_view text) {
  return text.size() == 32 &&
         std::all_of(text.begin(), text.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
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

// ---- JSON ------------------------------------------------------------------------------------

namespace {

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  std::optional<JsonValue> parseDocument(std::string* error) {
    JsonValue value;
    skipSpace();
    const bool ok = parseValue(value, 0) && (skipSpace(), pos_ == text_.size() || fail("trailing characters"));
    if (!ok) {
      if (error) *error = "at offset " + std::to_string(pos_) + ": " + error_;
      return std::nullopt;
    }
    return value;
  }

 private:
  static constexpr int kMaxDepth = 64;

  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }
  void skipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return fail("invalid literal");
    pos_ += word.size();
    return true;
  }

  bool parseValue(JsonValue& out, int depth) {
    if (depth > kMaxDepth) return fail("nested too deeply");
    if (pos_ >= text_.size()) return fail("unexpected end");
    switch (text_[pos_]) {
      case '{': return parseObject(out, depth);
      case '[': return parseArray(out, depth);
      case '"': out.kind = JsonValue::Kind::kString; return parseString(out.text);
      case 't':
        out.kind = JsonValue::Kind::kBool;
        out.boolean = true;
        return literal("true");
      case 'f':
        out.kind = JsonValue::Kind::kBool;
        out.boolean = false;
        return literal("false");
      case 'n': out.kind = JsonValue::Kind::kNull; return literal("null");
      default: return parseNumber(out);
    }
  }

  bool parseObject(JsonValue& out, int depth) {
    out.kind = JsonValue::Kind::kObject;
    ++pos_;  // {
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      skipSpace();
      if (pos_ >= text_.size() || text_[pos_] != '"') return fail("expected a member name");
      std::string key;
      if (!parseString(key)) return false;
      if (out.find(key) != nullptr) return fail("duplicate key \"" + key + "\"");
      skipSpace();
      if (pos_ >= text_.size() || text_[pos_] != ':') return fail("expected ':'");
      ++pos_;
      skipSpace();
      JsonValue value;
      if (!parseValue(value, depth + 1)) return false;
      out.members.emplace_back(std::move(key), std::move(value));
      skipSpace();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == '}') {
        ++pos_;
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }

  bool parseArray(JsonValue& out, int depth) {
    out.kind = JsonValue::Kind::kArray;
    ++pos_;  // [
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      skipSpace();
      JsonValue value;
      if (!parseValue(value, depth + 1)) return false;
      out.items.push_back(std::move(value));
      skipSpace();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == ']') {
        ++pos_;
        return true;
      }
      return fail("expected ',' or ']'");
    }
  }

  static void appendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  bool hex4(uint32_t& out) {
    if (pos_ + 4 > text_.size()) return fail("short \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      out <<= 4;
      if (c >= '0' && c <= '9') {
        out |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        out |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        out |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return fail("bad \\u escape");
      }
    }
    return true;
  }

  // Validates UTF-8 (no overlongs, no surrogates) of the sequence starting at pos_; copies it.
  bool copyUtf8(std::string& out) {
    const auto byte = [&](size_t i) { return static_cast<unsigned char>(text_[i]); };
    const unsigned char lead = byte(pos_);
    size_t len = 0;
    uint32_t cp = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
      len = 2, cp = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      len = 3, cp = lead & 0x0F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      len = 4, cp = lead & 0x07;
    } else {
      return fail("invalid UTF-8");
    }
    if (pos_ + len > text_.size()) return fail("truncated UTF-8");
    for (size_t i = 1; i < len; ++i) {
      if ((byte(pos_ + i) & 0xC0) != 0x80) return fail("invalid UTF-8");
      cp = (cp << 6) | (byte(pos_ + i) & 0x3F);
    }
    const uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return fail("invalid UTF-8");
    out.append(text_.substr(pos_, len));
    pos_ += len;
    return true;
  }

  bool parseString(std::string& out) {
    ++pos_;  // opening quote
    while (true) {
      if (pos_ >= text_.size()) return fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return fail("unescaped control character in string");
      if (c >= 0x80) {
        if (!copyUtf8(out)) return false;
        continue;
      }
      ++pos_;
      if (c != '\\') {
        out.push_back(static_cast<char>(c));
        continue;
      }
      if (pos_ >= text_.size()) return fail("unterminated escape");
      const char e = text_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low = 0;
            if (text_.substr(pos_, 2) != "\\u" || (pos_ += 2, !hex4(low)) || low < 0xDC00 || low > 0xDFFF) {
              return fail("unpaired surrogate");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail("unpaired surrogate");
          }
          appendUtf8(out, cp);
          break;
        }
        default: return fail("invalid escape");
      }
    }
  }

  bool parseNumber(JsonValue& out) {
    const size_t start = pos_;
    const auto digit = [&] { return pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; };
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    if (!digit()) return fail("invalid value");
    if (text_[pos_] == '0') {
      ++pos_;
    } else {
      while (digit()) ++pos_;
    }
    bool integral = true;
    if (pos_ < text_.size() && text_[pos_] == '.') {
      integral = false;
      ++pos_;
      if (!digit()) return fail("digit expected after '.'");
      while (digit()) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (!digit()) return fail("digit expected in exponent");
      while (digit()) ++pos_;
    }
    out.kind = JsonValue::Kind::kNumber;
    out.text.assign(text_.substr(start, pos_ - start));
    if (integral) {
      const auto [ptr, ec] = std::from_chars(out.text.data(), out.text.data() + out.text.size(), out.int_value);
      out.integer = ec == std::errc() && ptr == out.text.data() + out.text.size();
    }
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

const JsonValue* JsonValue::find(std::string_view key) const {
  if (kind != Kind::kObject) return nullptr;
  for (const auto& [name, value] : members) {
    if (name == key) return &value;
  }
  return nullptr;
}

std::optional<std::string> JsonValue::str(std::string_view key) const {
  const JsonValue* v = find(key);
  return v != nullptr && v->isString() ? std::optional<std::string>(v->text) : std::nullopt;
}

std::optional<int64_t> JsonValue::integerAt(std::string_view key) const {
  const JsonValue* v = find(key);
  return v != nullptr && v->isInt() ? std::optional<int64_t>(v->int_value) : std::nullopt;
}

std::optional<bool> JsonValue::boolAt(std::string_view key) const {
  const JsonValue* v = find(key);
  return v != nullptr && v->isBool() ? std::optional<bool>(v->boolean) : std::nullopt;
}

std::optional<JsonValue> parseJson(std::string_view text, std::string* error) {
  return JsonParser(text).parseDocument(error);
}

// ---- sockets ---------------------------------------------------------------------------------

int countTimeWaitTo(uint16_t remote_port) {
  int count = 0;
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      // "  sl  local_address rem_address   st ..." with addresses as HEXIP:HEXPORT
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      if (!(fields >> slot >> local >> remote >> state)) continue;
      const auto colon = remote.rfind(':');
      if (colon == std::string::npos || state != "06") continue;
      unsigned port = 0;
      const auto [ptr, ec] = std::from_chars(remote.data() + colon + 1, remote.data() + remote.size(), port, 16);
      if (ec == std::errc() && port == remote_port) ++count;
    }
  }
  return count;
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

RssSampler::RssSampler(pid_t pid, std::chrono::milliseconds interval) : pid_(pid) {
  thread_ = std::thread([this, interval] {
    while (!stop_.load()) {
      take();
      std::this_thread::sleep_for(interval);  // extra samples between the byte-driven ones
    }
  });
}

RssSampler::~RssSampler() { stop(); }

uint64_t RssSampler::take() {
  const uint64_t kib = rssKiB(pid_);
  uint64_t seen = max_kib_.load();
  while (kib > seen && !max_kib_.compare_exchange_weak(seen, kib)) {
  }
  return kib;
}

void RssSampler::sample() {
  take();
  ++samples_;
}

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

bool sendChunkedBody(RawClient& client, uint64_t total, std::chrono::milliseconds timeout, uint64_t progress_every,
                     const std::function<void(uint64_t)>& on_progress) {
  const Deadline deadline = deadlineAfter(timeout);
  static const std::string pattern = generatedBody(1 << 20);
  static constexpr size_t kSizes[] = {65536, 1, 100000, 4096, 32768, 7};  // varied chunk sizes
  std::string frame;
  uint64_t sent = 0;
  uint64_t next_progress = progress_every;
  for (size_t n = 0; sent < total; ++n) {
    const size_t offset = static_cast<size_t>(sent % pattern.size());
    const size_t size =
        static_cast<size_t>(std::min<uint64_t>({kSizes[n % std::size(kSizes)], total - sent, pattern.size() - offset}));
    char hex[20];
    const auto [end, ec] = std::to_chars(hex, hex + sizeof hex, size, 16);
    frame.assign(hex, end).append("\r\n").append(pattern, offset, size).append("\r\n");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || !client.send(frame, left)) return false;
    sent += size;
    if (progress_every > 0 && on_progress && sent >= next_progress) {
      on_progress(sent);
      next_progress = sent + progress_every;
    }
  }
  return client.send("0\r\n\r\n");
}

}  // namespace tether::testing
