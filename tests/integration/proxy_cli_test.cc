// The tether binary's command line: --check, --version, --help, bad options, clean shutdown.
#include <gtest/gtest.h>

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

TEST(ProxyCli, Check_ValidDemoConfigExits0) {
  Process tether({TETHER_BINARY, "--check", "--config", std::string(TETHER_SOURCE_DIR) + "/config/demo.yaml"});
  EXPECT_EQ(tether.waitExit(10s), 0) << tether.output();
  EXPECT_TRUE(tether.waitForOutput("is valid")) << tether.output();
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
