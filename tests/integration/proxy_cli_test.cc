// The tether binary's command line: --check, --version, --help, bad options, clean shutdown.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <algorithm>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/process.h"
#include "support/raw_client.h"
#include "support/test_env.h"
#include "support/test_upstream.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;

// A file in a fresh temp dir, removed with the dir at the end of the test.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& text) : dir_(tempDir()), path_(dir_ + "/" + name) {
    std::ofstream(path_) << text;
  }
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// config/demo.yaml with its TLS listener's files in `dir` (the shipped file names build/demo-tls/, relative to the
// repository root, made by deploy/run-demo.sh).
std::string demoConfigWithTlsIn(const std::string& dir) {
  std::string yaml = readFile(std::string(TETHER_SOURCE_DIR) + "/config/demo.yaml");
  for (size_t at = yaml.find("build/demo-tls/"); at != std::string::npos; at = yaml.find("build/demo-tls/", at)) {
    yaml.replace(at, 15, dir + "/");
  }
  return yaml;
}

void makeCertificate(const std::string& cert, const std::string& key) {
  Process openssl({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                   "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost"});
  ASSERT_EQ(openssl.waitExit(20s), 0) << openssl.output();
}

// --check loads the TLS listeners' certificate and key as startup does. Before, it passed with the files missing
// and only the start failed.
TEST(ProxyCli, Check_DemoConfigFailsWithoutItsCertificateAndPassesWithIt) {
  const TempFile file("demo.yaml", "");
  const std::string dir = std::filesystem::path(file.path()).parent_path().string();
  std::ofstream(file.path()) << demoConfigWithTlsIn(dir);

  Process missing({TETHER_BINARY, "--check", "--config", file.path()});
  EXPECT_EQ(missing.waitExit(10s), 1) << missing.output();
  EXPECT_TRUE(missing.waitForOutput("error(s)")) << missing.output();
  // At the listener's `tls` value (file:line:column), as the loader's own errors are.
  const std::string text = demoConfigWithTlsIn(dir);
  const size_t at = text.find("{cert:");
  ASSERT_NE(at, std::string::npos) << text;
  const size_t line_start = text.rfind('\n', at) + 1;
  const std::string position =
      std::to_string(std::count(text.begin(), text.begin() + at, '\n') + 1) + ":" + std::to_string(at - line_start + 1);
  EXPECT_NE(missing.output().find(file.path() + ":" + position + ": listeners[1].tls: cannot load certificate " + dir +
                                  "/cert.pem"),
            std::string::npos)
      << missing.output();

  makeCertificate(dir + "/cert.pem", dir + "/key.pem");
  Process valid({TETHER_BINARY, "--check", "--config", file.path()});
  EXPECT_EQ(valid.waitExit(10s), 0) << valid.output();
  EXPECT_TRUE(valid.waitForOutput("is valid")) << valid.output();
}

TEST(ProxyCli, Check_UnreadableOrMismatchedTlsKeyExits1) {
  const TempFile file("demo.yaml", "");
  const std::string dir = std::filesystem::path(file.path()).parent_path().string();
  std::ofstream(file.path()) << demoConfigWithTlsIn(dir);
  makeCertificate(dir + "/cert.pem", dir + "/other-key.pem");

  // A FIFO where the key should be: refused, not waited on (OpenSSL's fopen would block for a writer).
  ASSERT_EQ(::mkfifo((dir + "/key.pem").c_str(), 0600), 0);
  Process fifo({TETHER_BINARY, "--check", "--config", file.path()});
  EXPECT_EQ(fifo.waitExit(10s), 1) << fifo.output();
  EXPECT_TRUE(fifo.waitForOutput("not a regular file")) << fifo.output();

  // A key that is not the certificate's.
  std::filesystem::remove(dir + "/key.pem");
  makeCertificate(dir + "/unused-cert.pem", dir + "/key.pem");
  Process mismatched({TETHER_BINARY, "--check", "--config", file.path()});
  EXPECT_EQ(mismatched.waitExit(10s), 1) << mismatched.output();
  EXPECT_TRUE(mismatched.waitForOutput("mismatch")) << mismatched.output();  // OpenSSL 3 checks at key load
}

// Before, the config file was opened before its type was checked: --check on a FIFO waited for a writer forever.
TEST(ProxyCli, Check_FifoConfigExits1AtOnce) {
  const TempFile file("unused", "");
  const std::string fifo = std::filesystem::path(file.path()).parent_path().string() + "/tether.yaml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Process tether({TETHER_BINARY, "--check", "--config", fifo});
  EXPECT_EQ(tether.waitExit(10s), 1) << tether.output();
  EXPECT_TRUE(tether.waitForOutput("not a regular file")) << tether.output();
}

// The 776 KB file of one anchored endpoint list referenced 2,000 times grew tether to 3.3 GB; now it is refused at
// the alias that crosses the budget, with its position.
TEST(ProxyCli, Check_AliasAmplificationExits1WithPosition) {
  std::string yaml =
      "listeners: [{name: main, address: \"127.0.0.1:8080\"}]\nupstreams:\n  - name: api\n    endpoints: &e [";
  for (int i = 0; i < 40000; ++i) yaml += (i ? "," : "") + std::string("\"127.0.0.1:") + std::to_string(1 + i) + "\"";
  yaml += "]\n";
  for (int r = 1; r <= 2000; ++r) yaml += "  - {name: u" + std::to_string(r) + ", endpoints: *e}\n";
  yaml += "routes: [{name: all, match: {path_prefix: /}, upstream: api}]\n";
  const TempFile file("bomb.yaml", yaml);
  Process tether({TETHER_BINARY, "--check", "--config", file.path()});
  EXPECT_EQ(tether.waitExit(20s), 1) << tether.output();
  EXPECT_TRUE(tether.waitForOutput("error(s)")) << tether.output();
  EXPECT_NE(tether.output().find(file.path() + ":8:27: the document has more than 200000 values once aliases are "
                                               "expanded (alias '*e' repeats 40001 values"),
            std::string::npos)
      << tether.output();
}

TEST(ProxyCli, Check_ReferenceConfigExits0) {
  Process tether({TETHER_BINARY, "-t", "-c", std::string(TETHER_SOURCE_DIR) + "/config/reference.yaml"});
  EXPECT_EQ(tether.waitExit(10s), 0) << tether.output();
}

TEST(ProxyCli, Check_GeneratedFixtureConfigExits0) {
  TetherOptions options = TetherOptions::proxyTo({"127.0.0.1:1"});
  options.addRoute("timed", "{path_prefix: /t/}", "backend", {{"timeout", "300ms"}})
      .limit("max_request_header_bytes", "4KiB")
      .withWorkers(2);
  const TempFile file("fixture.yaml", TetherInstance::configYaml(options, 18080, 19901, "/tmp/x.log"));
  Process tether({TETHER_BINARY, "--check", "--config", file.path()});
  EXPECT_EQ(tether.waitExit(10s), 0) << tether.output();
}

TEST(ProxyCli, Check_InvalidConfigExits1WithFileLineColumn) {
  const TempFile file("bad.yaml",
                      "listeners:\n"
                      "  - name: main\n"
                      "    address: 127.0.0.1:8080\n"
                      "    adress: 127.0.0.1:8081\n"
                      "upstreams:\n"
                      "  - name: api\n"
                      "    endpoints: [\"127.0.0.1:5000\"]\n"
                      "routes:\n"
                      "  - name: all\n"
                      "    match: {path_prefix: /}\n"
                      "    upstream: apii\n");
  const std::string& path = file.path();
  Process tether({TETHER_BINARY, "--check", "--config", path});
  EXPECT_EQ(tether.waitExit(10s), 1) << tether.output();
  tether.waitForOutput("error(s)");
  const std::string output = tether.output();
  EXPECT_NE(output.find(path + ":4:5:"), std::string::npos) << output;
  EXPECT_NE(output.find("adress"), std::string::npos) << output;
  EXPECT_NE(output.find(path + ":11:15:"), std::string::npos) << output;
  EXPECT_NE(output.find("apii"), std::string::npos) << output;
}

TEST(ProxyCli, Check_MissingFileExits1) {
  const TempFile file("unrelated.yaml", "");
  Process tether({TETHER_BINARY, "--check", "--config", file.path() + ".does-not-exist"});
  EXPECT_EQ(tether.waitExit(10s), 1) << tether.output();
}

TEST(ProxyCli, VersionExits0) {
  Process tether({TETHER_BINARY, "--version"});
  EXPECT_EQ(tether.waitExit(10s), 0);
  EXPECT_TRUE(tether.waitForOutput("tether " TETHER_VERSION)) << tether.output();
}

TEST(ProxyCli, HelpExits0) {
  Process tether({TETHER_BINARY, "--help"});
  EXPECT_EQ(tether.waitExit(10s), 0);
  EXPECT_TRUE(tether.waitForOutput("Usage: tether")) << tether.output();
  Process short_form({TETHER_BINARY, "-h"});
  EXPECT_EQ(short_form.waitExit(10s), 0);
}

TEST(ProxyCli, UnknownFlagExits2) {
  Process tether({TETHER_BINARY, "--frobnicate"});
  EXPECT_EQ(tether.waitExit(10s), 2);
  EXPECT_TRUE(tether.waitForOutput("--frobnicate")) << tether.output();
}

TEST(ProxyCli, MissingConfigOrBadWorkersExits2) {
  Process no_config({TETHER_BINARY});
  EXPECT_EQ(no_config.waitExit(10s), 2) << no_config.output();
  Process bad_workers({TETHER_BINARY, "--config", std::string(TETHER_SOURCE_DIR) + "/config/demo.yaml", "-w", "0"});
  EXPECT_EQ(bad_workers.waitExit(10s), 2) << bad_workers.output();
  Process missing_value({TETHER_BINARY, "--config"});
  EXPECT_EQ(missing_value.waitExit(10s), 2) << missing_value.output();
}

TEST(ProxyCli, SigtermStopsCleanlyWithExit0) {
  TestUpstream upstream;
  TetherInstance tether(TetherOptions::proxyTo({upstream.address()}));
  RawClient client;
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.send(getRequest("/x")));
  ASSERT_TRUE(client.readResponse());
  EXPECT_TRUE(tether.waitForLogLine("\"startup\"", 30s));
  EXPECT_EQ(tether.stop(), 0) << tether.output();
  EXPECT_TRUE(tether.waitForLogLine("\"shutdown\"", 30s));
}

}  // namespace
}  // namespace tether::testing
