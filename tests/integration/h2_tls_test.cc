// TLS listeners: ALPN h2 and http/1.1 over TLS 1.2 and 1.3, with a self-signed certificate made at test time by the
// openssl CLI; real clients (curl) and cancellation over TLS.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

#include "support/process.h"
#include "support/socket_io.h"
#include "support/test_env.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;
using Reply = TestUpstream::Reply;

// The tether binary with one `tls:` listener in front of `upstream`. TetherInstance writes plaintext listeners
// only, so this runs the binary itself with the same generated config plus the listener's tls map.
class TlsTether {
 public:
  explicit TlsTether(const TestUpstream& upstream) : dir_(tempDir()) {
    cert_ = dir_ + "/cert.pem";
    key_ = dir_ + "/key.pem";
    Process openssl({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                     "-nodes", "-keyout", key_, "-out", cert_, "-days", "2", "-subj", "/CN=localhost", "-addext",
                     "subjectAltName=DNS:localhost,IP:127.0.0.1"});
    if (openssl.waitExit(20s) != 0) throw std::runtime_error("openssl failed: " + openssl.output());
    port_ = freePort();
    uint16_t admin = freePort();
    while (admin == port_) admin = freePort();
    log_path_ = dir_ + "/tether.log";
    std::string yaml =
        TetherInstance::configYaml(TetherOptions::proxyTo({upstream.address()}), port_, admin, log_path_);
    const std::string address_line = "    address: 127.0.0.1:" + std::to_string(port_) + "\n";
    const size_t at = yaml.find(address_line);
    if (at == std::string::npos) throw std::runtime_error("unexpected config layout:\n" + yaml);
    yaml.insert(at + address_line.size(), "    tls: {cert: \"" + cert_ + "\", key: \"" + key_ + "\"}\n");
    const std::string config = dir_ + "/tether.yaml";
    std::ofstream(config) << yaml;
    process_ = std::make_unique<Process>(std::vector<std::string>{TETHER_BINARY, "--config", config});
    // Started: `startup` logged (after the workers and the admin thread are up) and the listener accepts.
    const auto deadline = deadlineAfter(60s);
    const bool started = waitForLog({"\"event\":\"startup\""}, 60s);
    while (started && Clock::now() < deadline && process_->running()) {
      const int fd = connectLoopback(port_, deadlineAfter(200ms));
      if (fd >= 0) {
        ::close(fd);
        return;
      }
      std::this_thread::sleep_for(20ms);  // poll interval
    }
    throw std::runtime_error("tether did not start:\n" + process_->output());
  }
  ~TlsTether() {
    const int code = process_->stop(SIGTERM);
    EXPECT_EQ(code, 0) << process_->output();
  }

  std::string url(std::string_view path) const {
    return "https://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  std::string log() const {
    std::ifstream in(log_path_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  bool waitForLog(const std::vector<std::string>& needles, std::chrono::milliseconds timeout) const {
    const auto deadline = deadlineAfter(timeout);
    do {
      const std::string text = log();
      size_t start = 0;
      while (start < text.size()) {
        const size_t end = text.find('\n', start);
        const std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
        bool all = true;
        for (const auto& n : needles) all = all && line.find(n) != std::string::npos;
        if (all) return true;
        if (end == std::string::npos) break;
        start = end + 1;
      }
      if (!process_->running()) return false;
      std::this_thread::sleep_for(20ms);  // poll interval
    } while (Clock::now() < deadline);
    return false;
  }

 private:
  std::string dir_;
  std::string cert_;
  std::string key_;
  std::string log_path_;
  uint16_t port_ = 0;
  std::unique_ptr<Process> process_;
};

std::string curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/curl", "-sS", "-k", "-w", " proto=%{http_version}"};
  argv.insert(argv.end(), args.begin(), args.end());
  Process p(argv);
  const auto code = p.waitExit(15s);
  EXPECT_EQ(code, 0) << p.output();
  p.waitForOutput(" proto=", 30s);  // the reader thread may still be draining the pipe after exit
  return p.output();
}

TEST(H2Tls, AlpnH2AndHttp11OverTls12And13) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest& request) {
    Reply reply;
    reply.body = request.method + " " + std::to_string(request.body_bytes);
    return reply;
  });
  TlsTether tether(upstream);

  EXPECT_EQ(curl({"--http2", tether.url("/a")}), "GET 0 proto=2");
  EXPECT_EQ(curl({"--http1.1", tether.url("/b")}), "GET 0 proto=1.1");
  EXPECT_EQ(curl({"--http2", "--tlsv1.2", "--tls-max", "1.2", tether.url("/c")}), "GET 0 proto=2");
  EXPECT_EQ(curl({"--http2", "--tlsv1.3", "--data-binary", std::string(70000, 'x'), tether.url("/d")}),
            "POST 70000 proto=2");
  EXPECT_TRUE(tether.waitForLog({"\"request_completed\"", "\"protocol\":\"h2\""}, 30s));
  EXPECT_TRUE(tether.waitForLog({"\"request_completed\"", "\"protocol\":\"http/1.1\""}, 30s));
  for (const auto& request : upstream.requests()) EXPECT_EQ(request.header("X-Forwarded-Proto"), "https");
}

TEST(H2Tls, CurlHttp2KilledMidRequestCancelsH1Upstream) {
  TestUpstream upstream;
  upstream.setHandler([](const RecordedRequest&) {
    Reply reply;
    reply.delay = 60s;  // cancelled long before
    return reply;
  });
  TlsTether tether(upstream);
  Process curl_process({"/usr/bin/curl", "-sS", "-k", "--http2", tether.url("/slow")});
  ASSERT_TRUE(upstream.waitForRequests(1, 30s));
  curl_process.stop(SIGKILL);
  EXPECT_TRUE(upstream.waitForConnectionClosed(1, 30s));
  EXPECT_TRUE(tether.waitForLog({"\"request_cancelled\"", "\"protocol\":\"h2\""}, 30s));
}

}  // namespace
}  // namespace tether::testing
