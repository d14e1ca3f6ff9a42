#include "config/config_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace tether::config {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// The minimal valid file, in three parts so tests can swap one and still know every line number.
constexpr std::string_view kListeners = R"(listeners:
  - name: main
    address: 127.0.0.1:8080
)";  // lines 1-3
constexpr std::string_view kUpstreams = R"(upstreams:
  - name: api
    endpoints: ["127.0.0.1:5000"]
)";  // lines 4-6 when it follows kListeners
constexpr std::string_view kRoutes = R"(routes:
  - name: all
    match: {path_prefix: /}
    upstream: api
)";  // lines 7-10 after kListeners and kUpstreams

std::string minimal() { return std::string(kListeners) + std::string(kUpstreams) + std::string(kRoutes); }

std::string join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const auto part : parts) out += part;
  return out;
}

LoadResult load(std::string_view yaml) { return loadConfigString(yaml, "test.yaml"); }

std::string describe(const LoadResult& result) {
  std::string out;
  for (const ConfigError& e : result.errors) out += "\n  " + e.toString();
  return out;
}

// Loads text that must fail with exactly `count` errors, returned in file order.
std::vector<ConfigError> errorsOf(std::string_view yaml, size_t count) {
  LoadResult result = load(yaml);
  EXPECT_EQ(result.errors.size(), count) << describe(result);
  EXPECT_EQ(result.config, nullptr);
  EXPECT_FALSE(result.ok());
  result.errors.resize(count);
  return result.errors;
}

ConfigError singleError(std::string_view yaml) { return errorsOf(yaml, 1).front(); }

void expectError(const ConfigError& e, int line, int column, std::string_view key_path, std::string_view message) {
  EXPECT_EQ(e.file, "test.yaml") << e.toString();
  EXPECT_EQ(e.line, line) << e.toString();
  EXPECT_EQ(e.column, column) << e.toString();
  EXPECT_EQ(e.key_path, key_path) << e.toString();
  EXPECT_THAT(e.message, HasSubstr(std::string(message))) << e.toString();
}

// The loaded config (an empty one after a failure, so tests can go on reading it).
std::shared_ptr<const Config> loaded(const LoadResult& result) {
  EXPECT_TRUE(result.ok()) << describe(result);
  return result.config ? result.config : std::make_shared<const Config>();
}

// --- files that load -------------------------------------------------------------------------------------

TEST(ConfigLoader, MinimalFileLoadsWithDefaults) {
  const LoadResult result = load(minimal());
  const auto config = loaded(result);
  const Config& cfg = *config;
  EXPECT_EQ(cfg.source_path, "test.yaml");
  EXPECT_EQ(cfg.workers, std::clamp(std::thread::hardware_concurrency(), 1u, 256u));
  EXPECT_EQ(cfg.drain_timeout, 30s);
  ASSERT_EQ(cfg.listeners.size(), 1u);
  EXPECT_EQ(cfg.listeners[0].name, "main");
  EXPECT_EQ(cfg.listeners[0].address_text, "127.0.0.1:8080");
  EXPECT_EQ(cfg.listeners[0].address.toString(), "127.0.0.1:8080");
  EXPECT_FALSE(cfg.listeners[0].limits.max_connections.has_value());
  ASSERT_EQ(cfg.upstreams.size(), 1u);
  const Upstream& up = cfg.upstreams[0];
  ASSERT_EQ(up.endpoints.size(), 1u);
  EXPECT_EQ(up.endpoints[0].text, "127.0.0.1:5000");
  EXPECT_EQ(up.endpoints[0].host, "127.0.0.1");
  EXPECT_EQ(up.endpoints[0].port, 5000);
  ASSERT_EQ(up.endpoints[0].addresses.size(), 1u);
  EXPECT_EQ(up.endpoints[0].addresses[0].toString(), "127.0.0.1:5000");
  EXPECT_EQ(up.connect_timeout, 5s);
  EXPECT_EQ(up.max_connections_per_endpoint, 1024u);
  EXPECT_EQ(up.max_idle_connections_per_endpoint, 1024u);
  EXPECT_EQ(up.cancel_with, Upstream::CancelWith::Rst);
  ASSERT_EQ(cfg.routes.size(), 1u);
  EXPECT_EQ(cfg.routes[0].match.path_prefix, "/");
  EXPECT_EQ(cfg.routes[0].upstream_index, 0u);
  EXPECT_EQ(cfg.routes[0].timeout, 0ms);
  EXPECT_EQ(cfg.limits.max_request_header_bytes, 64u * 1024);
  EXPECT_EQ(cfg.log.sink, Log::Sink::Stdout);
  EXPECT_EQ(cfg.log.level, Log::Level::Info);
  EXPECT_EQ(cfg.admin.address.toString(), "127.0.0.1:9901");
}

TEST(ConfigLoader, EveryKeyIsRead) {
  const LoadResult result = load(R"(workers: 3
listeners:
  - name: main
    address: "[::1]:8080"
    limits: {max_connections: 77}
upstreams:
  - name: other
    endpoints: ["127.0.0.1:5999"]
  - name: api
    endpoints: ["127.0.0.1:5000", "localhost:5001", "[::1]:5002"]
    connect_timeout: 250ms
    max_connections_per_endpoint: 8
    max_idle_connections_per_endpoint: 0
    keepalive_idle_timeout: 2m
    failure_backoff: 0
    cancel_with: fin
routes:
  - name: all
    match: {host: "*.example.com", path: /exact, methods: [GET, POST]}
    upstream: api
    timeout: 30s
    deadline_header: X-Request-Timeout-Ms
    cancellation: {mode: ignore, methods: [GET, HEAD], grace: 1s, grace_bytes: 1KiB, half_close: wait}
    forwarding: {x_forwarded: false}
limits: {max_request_header_bytes: 8KiB, header_read_timeout: 3s, client_idle_timeout: 1h,
         max_client_connections: 500, max_pipelined_bytes: 0}
log: {format: json, sink: file, path: /tmp/tether.log, level: debug, access_log: false, queue_lines: 16}
admin: {address: 0.0.0.0:9999}
)");
  const auto config = loaded(result);
  const Config& cfg = *config;
  EXPECT_EQ(cfg.workers, 3u);
  EXPECT_EQ(cfg.listeners.at(0).address.toString(), "[::1]:8080");
  EXPECT_EQ(cfg.listeners.at(0).limits.max_connections, 77u);
  const Upstream& up = cfg.upstreams.at(1);
  ASSERT_EQ(up.endpoints.size(), 3u);
  EXPECT_EQ(up.endpoints[1].host, "localhost");
  EXPECT_EQ(up.endpoints[1].port, 5001);
  EXPECT_THAT(up.endpoints[1].addresses, ::testing::Contains(*net::SocketAddress::parse("127.0.0.1:5001")));
  EXPECT_EQ(up.endpoints[2].host, "::1");
  EXPECT_EQ(up.endpoints[2].addresses.at(0).toString(), "[::1]:5002");
  EXPECT_EQ(up.connect_timeout, 250ms);
  EXPECT_EQ(up.max_connections_per_endpoint, 8u);
  EXPECT_EQ(up.max_idle_connections_per_endpoint, 0u);
  EXPECT_EQ(up.keepalive_idle_timeout, 2min);
  EXPECT_EQ(up.failure_backoff, 0ms);
  EXPECT_EQ(up.cancel_with, Upstream::CancelWith::Fin);
  const Route& route = cfg.routes.at(0);
  EXPECT_EQ(route.match.host, "*.example.com");
  EXPECT_EQ(route.match.path, "/exact");
  EXPECT_EQ(route.match.path_prefix, "");
  EXPECT_THAT(route.match.methods, ::testing::ElementsAre("GET", "POST"));
  EXPECT_EQ(route.upstream, "api");
  EXPECT_EQ(route.upstream_index, 1u);
  EXPECT_EQ(route.timeout, 30s);
  EXPECT_EQ(route.deadline_header, "X-Request-Timeout-Ms");
  EXPECT_EQ(route.cancellation.mode, CancellationPolicy::Mode::Ignore);
  EXPECT_THAT(route.cancellation.methods, ::testing::ElementsAre("GET", "HEAD"));
  EXPECT_EQ(route.cancellation.grace, 1s);
  EXPECT_EQ(route.cancellation.grace_bytes, 1024u);
  EXPECT_EQ(route.cancellation.half_close, CancellationPolicy::HalfClose::Wait);
  EXPECT_FALSE(route.forwarding.x_forwarded);
  EXPECT_TRUE(route.forwarding.request_id);  // the default
  EXPECT_EQ(cfg.limits.max_request_header_bytes, 8192u);
  EXPECT_EQ(cfg.limits.header_read_timeout, 3s);
  EXPECT_EQ(cfg.limits.client_idle_timeout, 1h);
  EXPECT_EQ(cfg.limits.max_client_connections, 500u);
  EXPECT_EQ(cfg.limits.max_pipelined_bytes, 0u);
  EXPECT_EQ(cfg.log.sink, Log::Sink::File);
  EXPECT_EQ(cfg.log.path, "/tmp/tether.log");
  EXPECT_EQ(cfg.log.level, Log::Level::Debug);
  EXPECT_FALSE(cfg.log.access_log);
  EXPECT_EQ(cfg.log.queue_lines, 16u);
  EXPECT_EQ(cfg.admin.address.toString(), "0.0.0.0:9999");
}

TEST(ConfigLoader, DrainTimeoutIsRead) {
  const auto config = loaded(load("drain_timeout: 750ms\n" + minimal()));
  EXPECT_EQ(config->drain_timeout, 750ms);
}

TEST(ConfigLoader, RoutesResolveUpstreamIndexByName) {
  const auto cfg = loaded(load(join({kListeners, R"(upstreams:
  - name: a
    endpoints: ["127.0.0.1:5000"]
  - name: b
    endpoints: ["127.0.0.1:5001"]
routes:
  - name: to-b
    match: {path_prefix: /b}
    upstream: b
  - name: to-a
    match: {path_prefix: /}
    upstream: a
)"})));
  ASSERT_EQ(cfg->routes.size(), 2u);
  EXPECT_EQ(cfg->routes[0].upstream_index, 1u);
  EXPECT_EQ(cfg->routes[1].upstream_index, 0u);
}

TEST(ConfigLoader, EmptySectionsKeepDefaults) {
  const auto cfg = loaded(load(minimal() + "limits:\nlog:\nadmin:\n"));
  EXPECT_EQ(cfg->limits.client_idle_timeout, 60s);
  EXPECT_EQ(cfg->log.queue_lines, 8192u);
  EXPECT_EQ(cfg->admin.address.toString(), "127.0.0.1:9901");
}

TEST(ConfigLoader, Http2LimitsHaveDefaultsAndAreRead) {
  const auto defaults = loaded(load(minimal()));
  EXPECT_EQ(defaults->limits.http2.max_concurrent_streams, 100u);
  EXPECT_EQ(defaults->limits.http2.initial_window_size, 65536u);
  EXPECT_EQ(defaults->limits.http2.max_header_list_size, 65536u);
  EXPECT_EQ(defaults->limits.http2.reset_budget, 200u);
  const auto cfg = loaded(load(minimal() + "limits:\n  http2: {max_concurrent_streams: 7, initial_window_size: 1048576,"
                                           " max_header_list_size: 16KiB, reset_budget: 5}\n"));
  EXPECT_EQ(cfg->limits.http2.max_concurrent_streams, 7u);
  EXPECT_EQ(cfg->limits.http2.initial_window_size, 1048576u);
  EXPECT_EQ(cfg->limits.http2.max_header_list_size, 16384u);
  EXPECT_EQ(cfg->limits.http2.reset_budget, 5u);
  EXPECT_FALSE(load(minimal() + "limits:\n  http2: {initial_window_size: 2147483648}\n").ok());
  EXPECT_FALSE(load(minimal() + "limits:\n  http2: {max_streams: 1}\n").ok());
}

TEST(ConfigLoader, WorkersAcceptsTheWholeRange) {
  EXPECT_EQ(loaded(load("workers: 1\n" + minimal()))->workers, 1u);
  EXPECT_EQ(loaded(load("workers: 256\n" + minimal()))->workers, 256u);
}

TEST(ConfigLoader, EphemeralListenerPortsDoNotClash) {
  const auto cfg = loaded(load(join({R"(listeners:
  - name: a
    address: 127.0.0.1:0
  - name: b
    address: 127.0.0.1:0
)",
                                     kUpstreams, kRoutes})));
  EXPECT_EQ(cfg->listeners.size(), 2u);
}

// --- syntax and structure ---------------------------------------------------------------------------------

TEST(ConfigErrors, YamlSyntaxErrorHasPosition) {
  expectError(singleError("workers: 2\nlisteners: a: b\n"), 2, 13, "", "illegal map value");
  expectError(singleError("listeners: [a,\nupstreams: x\n"), 3, 1, "", "end of sequence flow not found");
}

TEST(ConfigErrors, EmptyFile) {
  expectError(singleError(""), 0, 0, "", "empty");
  expectError(singleError("# nothing but a comment\n"), 0, 0, "", "empty");
}

TEST(ConfigErrors, TopLevelMustBeAMapping) {
  expectError(singleError("- a\n- b\n"), 1, 1, "", "expected a mapping, got a list");
}

TEST(ConfigErrors, MissingTopLevelKeysAreAllReported) {
  const auto errors = errorsOf("workers: 2\n", 3);
  expectError(errors[0], 1, 1, "listeners", "missing required key 'listeners'");
  expectError(errors[1], 1, 1, "upstreams", "missing required key 'upstreams'");
  expectError(errors[2], 1, 1, "routes", "missing required key 'routes'");
}

TEST(ConfigErrors, MissingNestedKeys) {
  const auto errors = errorsOf(join({"listeners:\n  - name: main\n", kUpstreams, R"(routes:
  - match: {path_prefix: /}
)"}),
                               3);
  expectError(errors[0], 2, 5, "listeners[0].address", "missing required key 'address'");
  expectError(errors[1], 7, 5, "routes[0].name", "missing required key 'name'");
  expectError(errors[2], 7, 5, "routes[0].upstream", "missing required key 'upstream'");
}

TEST(ConfigErrors, UnknownTopLevelKeySuggestsTheClosest) {
  expectError(singleError("worker: 2\n" + minimal()), 1, 1, "worker", "unknown key 'worker' (did you mean 'workers'?)");
}

TEST(ConfigErrors, UnknownKeyWithoutCloseMatchListsTheValidOnes) {
  expectError(singleError("colour: red\n" + minimal()), 1, 1, "colour",
              "unknown key 'colour' (expected one of: workers, drain_timeout, listeners, upstreams, routes, limits, "
              "log, admin)");
}

TEST(ConfigErrors, MisspelledKeyIsUnknownAndTheRealOneMissing) {
  const auto errors = errorsOf(join({R"(listeners:
  - name: main
    adress: 127.0.0.1:8080
)",
                                     kUpstreams, kRoutes}),
                               2);
  expectError(errors[0], 2, 5, "listeners[0].address", "missing required key 'address'");
  expectError(errors[1], 3, 5, "listeners[0].adress", "unknown key 'adress' (did you mean 'address'?)");
}

TEST(ConfigErrors, MisspelledMatchKey) {
  const auto errors = errorsOf(join({kListeners, kUpstreams, R"(routes:
  - name: all
    match: {path_prefx: /}
    upstream: api
)"}),
                               2);
  expectError(errors[0], 9, 12, "routes[0].match", "set exactly one of 'path' or 'path_prefix'");
  expectError(errors[1], 9, 13, "routes[0].match.path_prefx", "did you mean 'path_prefix'?");
}

TEST(ConfigErrors, DuplicateYamlKey) {
  expectError(singleError(minimal() + "workers: 2\nworkers: 3\n"), 12, 1, "workers",
              "duplicate key (first set at line 11)");
}

TEST(ConfigErrors, WrongTypes) {
  expectError(singleError(join({"listeners: main\n", kUpstreams, kRoutes})), 1, 12, "listeners",
              "expected a list, got a single value");
  expectError(singleError(join({"listeners:\n  - name: [a]\n    address: 127.0.0.1:8080\n", kUpstreams, kRoutes})), 2,
              11, "listeners[0].name", "expected a string, got a list");
  expectError(singleError(join({kListeners, kUpstreams, "routes:\n  - name: all\n    match: /\n    upstream: api\n"})),
              9, 12, "routes[0].match", "expected a mapping, got a single value");
  expectError(singleError(join({kListeners, kUpstreams, "routes: [all]\n"})), 7, 10, "routes[0]",
              "expected a mapping, got a single value");
  expectError(singleError(minimal() + "workers: [2]\n"), 11, 10, "workers", "expected a number, got a list");
}

TEST(ConfigErrors, EmptyValueIsReportedAtItsKey) {
  expectError(singleError(join({"listeners:\n  - name:\n    address: 127.0.0.1:8080\n", kUpstreams, kRoutes})), 2, 5,
              "listeners[0].name", "expected a string, got nothing");
  expectError(singleError(join({"listeners:\n  - name: \"\"\n    address: 127.0.0.1:8080\n", kUpstreams, kRoutes})), 2,
              11, "listeners[0].name", "must not be empty");
}

TEST(ConfigErrors, EmptyLists) {
  expectError(singleError(join({"listeners: []\n", kUpstreams, kRoutes})), 1, 12, "listeners",
              "must have at least one entry");
  expectError(singleError(join({kListeners, "upstreams:\n  - name: api\n    endpoints: []\n", kRoutes})), 6, 16,
              "upstreams[0].endpoints", "must have at least one entry");
  expectError(singleError(join({kListeners, kUpstreams, "routes:\n"})), 7, 1, "routes", "expected a list, got nothing");
}

// --- values ----------------------------------------------------------------------------------------------

TEST(ConfigErrors, BadDurationsAndSizes) {
  const auto errors = errorsOf(join({kListeners, R"(upstreams:
  - name: api
    endpoints: ["127.0.0.1:5000"]
    connect_timeout: 5
    keepalive_idle_timeout: -1s
)",
                                     kRoutes, "limits: {max_request_header_bytes: 64XB, header_read_timeout: 0}\n"}),
                               4);
  expectError(errors[0], 7, 22, "upstreams[0].connect_timeout", "invalid duration '5': missing unit");
  expectError(errors[1], 8, 29, "upstreams[0].keepalive_idle_timeout", "invalid duration '-1s'");
  expectError(errors[2], 13, 36, "limits.max_request_header_bytes", "invalid size '64XB': unknown unit 'XB'");
  expectError(errors[3], 13, 63, "limits.header_read_timeout", "must be at least 1ms");
}

TEST(ConfigErrors, WorkersOutOfRange) {
  expectError(singleError("workers: 0\n" + minimal()), 1, 10, "workers", "must be between 1 and 256");
  expectError(singleError("workers: 257\n" + minimal()), 1, 10, "workers", "must be between 1 and 256");
  expectError(singleError("workers: two\n" + minimal()), 1, 10, "workers", "invalid integer 'two'");
  expectError(singleError("workers: -1\n" + minimal()), 1, 10, "workers", "invalid integer '-1'");
}

TEST(ConfigErrors, BadListenerAddresses) {
  const auto errors = errorsOf(join({R"(listeners:
  - name: a
    address: localhost:8080
  - name: b
    address: 1.2.3.4
  - name: c
    address: "[::1]:99999"
  - name: d
    address: "[::1]:8080"
  - name: e
    address: 0.0.0.0:8080
)",
                                     kUpstreams, kRoutes}),
                               3);
  expectError(errors[0], 3, 14, "listeners[0].address", "invalid address 'localhost:8080' (expected numeric IPv4");
  expectError(errors[1], 5, 14, "listeners[1].address", "invalid address '1.2.3.4'");
  expectError(errors[2], 7, 14, "listeners[2].address", "invalid address '[::1]:99999'");
}

TEST(ConfigErrors, DuplicateListenerAddress) {
  expectError(singleError(join({R"(listeners:
  - name: a
    address: 127.0.0.1:8080
  - name: b
    address: 127.0.0.1:8080
)",
                                kUpstreams, kRoutes})),
              5, 14, "listeners[1].address", "duplicate listener address '127.0.0.1:8080' (also used at line 3)");
}

TEST(ConfigErrors, ListenerLimits) {
  expectError(singleError(join({kListeners, "    limits: {max_connections: 0}\n", kUpstreams, kRoutes})), 4, 31,
              "listeners[0].limits.max_connections", "must be at least 1");
}

TEST(ConfigErrors, BadEndpoints) {
  const auto errors = errorsOf(join({kListeners, R"(upstreams:
  - name: api
    endpoints:
      - 127.0.0.1
      - "127.0.0.1:0"
      - no-such-host.invalid:80
      - "[::1:80"
      - localhost:5001
      - "[::1]:5000"
      - 127.0.0.1:70000
      - localhost:5001
      - {host: a}
)",
                                     kRoutes}),
                               7);
  expectError(errors[0], 7, 9, "upstreams[0].endpoints[0]", "invalid endpoint '127.0.0.1' (expected host:port");
  expectError(errors[1], 8, 9, "upstreams[0].endpoints[1]", "invalid endpoint '127.0.0.1:0': port must be 1-65535");
  expectError(errors[2], 9, 9, "upstreams[0].endpoints[2]", "cannot resolve 'no-such-host.invalid'");
  expectError(errors[3], 10, 9, "upstreams[0].endpoints[3]", "invalid endpoint '[::1:80'");
  expectError(errors[4], 13, 9, "upstreams[0].endpoints[6]", "port must be 1-65535");
  expectError(errors[5], 14, 9, "upstreams[0].endpoints[7]", "duplicate endpoint 'localhost:5001'");
  expectError(errors[6], 15, 9, "upstreams[0].endpoints[8]", "expected \"host:port\", got a mapping");
}

TEST(ConfigErrors, DuplicateNames) {
  const auto errors = errorsOf(R"(listeners:
  - name: main
    address: 127.0.0.1:8080
  - name: main
    address: 127.0.0.1:8081
upstreams:
  - name: api
    endpoints: ["127.0.0.1:5000"]
  - name: api
    endpoints: ["127.0.0.1:5001"]
routes:
  - name: all
    match: {path_prefix: /}
    upstream: api
  - name: all
    match: {path_prefix: /}
    upstream: api
)",
                               3);
  expectError(errors[0], 4, 11, "listeners[1].name", "duplicate listener name 'main' (first defined at line 2)");
  expectError(errors[1], 9, 11, "upstreams[1].name", "duplicate upstream name 'api' (first defined at line 7)");
  expectError(errors[2], 15, 11, "routes[1].name", "duplicate route name 'all' (first defined at line 12)");
}

TEST(ConfigErrors, UnknownUpstreamReference) {
  expectError(singleError(join({kListeners, kUpstreams, R"(routes:
  - name: all
    match: {path_prefix: /}
    upstream: apii
)"})),
              10, 15, "routes[0].upstream", "unknown upstream 'apii' (did you mean 'api'?)");
  expectError(singleError(join({kListeners, kUpstreams, R"(routes:
  - name: all
    match: {path_prefix: /}
    upstream: billing
)"})),
              10, 15, "routes[0].upstream", "unknown upstream 'billing' (expected one of: api)");
}

TEST(ConfigErrors, RouteNeedsExactlyOneOfPathAndPrefix) {
  const auto errors = errorsOf(join({kListeners, kUpstreams, R"(routes:
  - name: both
    match: {path: /x, path_prefix: /}
    upstream: api
  - name: neither
    match: {host: example.com}
    upstream: api
)"}),
                               2);
  expectError(errors[0], 9, 13, "routes[0].match", "set exactly one of 'path' or 'path_prefix'");
  expectError(errors[1], 12, 12, "routes[1].match", "set exactly one of 'path' or 'path_prefix'");
}

TEST(ConfigErrors, PathsMustBeAbsolute) {
  const auto errors = errorsOf(join({kListeners, kUpstreams, R"(routes:
  - name: a
    match: {path_prefix: api}
    upstream: api
  - name: b
    match: {path: "x/y"}
    upstream: api
)"}),
                               2);
  expectError(errors[0], 9, 26, "routes[0].match.path_prefix", "must start with '/'");
  expectError(errors[1], 12, 19, "routes[1].match.path", "must start with '/'");
}

TEST(ConfigErrors, BadHostPatterns) {
  const auto errors = errorsOf(join({kListeners, kUpstreams, R"(routes:
  - name: a
    match: {host: "*example.com", path_prefix: /}
    upstream: api
  - name: b
    match: {host: "example.com:80", path_prefix: /}
    upstream: api
  - name: c
    match: {host: "*.example.com", path_prefix: /}
    upstream: api
)"}),
                               2);
  expectError(errors[0], 9, 19, "routes[0].match.host", "invalid character '*'");
  expectError(errors[1], 12, 19, "routes[1].match.host", "must not include a port");
}

TEST(ConfigErrors, InvalidMethodTokens) {
  const auto errors = errorsOf(join({kListeners, kUpstreams, R"yaml(routes:
  - name: all
    match: {path_prefix: /, methods: [GET, "PO ST", ""]}
    upstream: api
    cancellation: {methods: [GET, "(x)"]}
)yaml"}),
                               3);
  expectError(errors[0], 9, 44, "routes[0].match.methods[1]", "invalid HTTP method 'PO ST'");
  expectError(errors[1], 9, 53, "routes[0].match.methods[2]", "invalid HTTP method ''");
  expectError(errors[2], 11, 35, "routes[0].cancellation.methods[1]", "invalid HTTP method '(x)'");
}

TEST(ConfigErrors, BadDeadlineHeader) {
  expectError(singleError(minimal() + "    deadline_header: \"X Bad\"\n"), 11, 22, "routes[0].deadline_header",
              "invalid header name 'X Bad'");
}

TEST(ConfigErrors, BadForwardingSettings) {
  const auto errors = errorsOf(minimal() + "    forwarding: {x_forwarded: no, request_ids: false}\n", 2);
  expectError(errors[0], 11, 31, "routes[0].forwarding.x_forwarded", "expected true or false, got 'no'");
  expectError(errors[1], 11, 35, "routes[0].forwarding.request_ids",
              "unknown key 'request_ids' (did you mean 'request_id'?)");
}

TEST(ConfigErrors, BadCancellationSettings) {
  const auto errors = errorsOf(join({kListeners, R"(upstreams:
  - name: api
    endpoints: ["127.0.0.1:5000"]
    cancel_with: reset
routes:
  - name: all
    match: {path_prefix: /}
    upstream: api
    cancellation: {mode: propogate, half_close: close, grace: soon}
)"}),
                               4);
  expectError(errors[0], 7, 18, "upstreams[0].cancel_with",
              "invalid value 'reset' (did you mean 'rst'? expected one of: rst, fin)");
  expectError(errors[1], 12, 26, "routes[0].cancellation.mode",
              "invalid value 'propogate' (did you mean 'propagate'? expected one of: propagate, ignore)");
  expectError(errors[2], 12, 49, "routes[0].cancellation.half_close",
              "invalid value 'close' (expected one of: cancel, wait)");
  expectError(errors[3], 12, 63, "routes[0].cancellation.grace", "invalid duration 'soon'");
}

TEST(ConfigErrors, BadLogSettings) {
  const auto errors = errorsOf(minimal() + "log: {sink: stdot, level: warning, format: text}\n", 3);
  expectError(errors[0], 11, 13, "log.sink",
              "invalid value 'stdot' (did you mean 'stdout'? expected one of: stdout, stderr, file)");
  expectError(errors[1], 11, 27, "log.level", "invalid value 'warning' (did you mean 'warn'?");
  expectError(errors[2], 11, 44, "log.format", "invalid value 'text' (expected one of: json)");
}

TEST(ConfigErrors, FileSinkNeedsAPath) {
  expectError(singleError(minimal() + "log:\n  sink: file\n"), 12, 9, "log.path", "required when sink is 'file'");
}

TEST(ConfigErrors, BadLogFlags) {
  const auto errors = errorsOf(minimal() + "log: {access_log: yes, queue_lines: 0}\n", 2);
  expectError(errors[0], 11, 19, "log.access_log", "expected true or false, got 'yes'");
  expectError(errors[1], 11, 37, "log.queue_lines", "must be at least 1");
}

TEST(ConfigErrors, BadAdminAddress) {
  expectError(singleError(minimal() + "admin: {address: localhost:9901}\n"), 11, 18, "admin.address",
              "invalid address 'localhost:9901'");
  expectError(singleError(minimal() + "admin: {address: 127.0.0.1:8080}\n"), 11, 18, "admin.address",
              "'127.0.0.1:8080' is also used by the listener at line 3");
}

TEST(ConfigErrors, ListenerOnTheDefaultAdminAddress) {
  expectError(singleError(join({"listeners:\n  - name: main\n    address: 127.0.0.1:9901\n", kUpstreams, kRoutes})), 3,
              14, "listeners[0].address", "clashes with the default admin address 127.0.0.1:9901");
}

TEST(ConfigErrors, ManyErrorsAreReportedAtOnceInFileOrder) {
  const auto errors = errorsOf(R"(workers: 0
listeners:
  - name: main
    address: localhost:80
upstreams:
  - name: api
    endpoints: ["127.0.0.1"]
    connect_timeout: 5
routes:
  - name: all
    match: {path_prefix: /}
    upstream: web
log: {level: loud}
)",
                               6);
  expectError(errors[0], 1, 10, "workers", "must be between 1 and 256");
  expectError(errors[1], 4, 14, "listeners[0].address", "invalid address");
  expectError(errors[2], 7, 17, "upstreams[0].endpoints[0]", "invalid endpoint");
  expectError(errors[3], 8, 22, "upstreams[0].connect_timeout", "missing unit");
  expectError(errors[4], 12, 15, "routes[0].upstream", "unknown upstream 'web'");
  expectError(errors[5], 13, 14, "log.level", "invalid value 'loud'");
}

// --- errors as text, and files ----------------------------------------------------------------------------

TEST(ConfigError, ToStringFormat) {
  EXPECT_EQ((ConfigError{"f.yaml", 3, 7, "routes[0].upstream", "unknown upstream 'x'"}).toString(),
            "f.yaml:3:7: routes[0].upstream: unknown upstream 'x'");
  EXPECT_EQ((ConfigError{"f.yaml", 1, 5, "", "illegal map value"}).toString(), "f.yaml:1:5: illegal map value");
  EXPECT_EQ((ConfigError{"f.yaml", 0, 0, "", "cannot read the file"}).toString(), "f.yaml: cannot read the file");
}

TEST(ConfigLoaderFile, MissingFileIsAnError) {
  const LoadResult result = loadConfigFile("/nonexistent/tether.yaml");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.config, nullptr);
  EXPECT_EQ(result.errors[0].file, "/nonexistent/tether.yaml");
  EXPECT_EQ(result.errors[0].line, 0);
  EXPECT_THAT(result.errors[0].message, HasSubstr("cannot read"));
  EXPECT_FALSE(loadConfigFile(std::filesystem::temp_directory_path().string()).ok());
}

TEST(ConfigLoaderFile, ReadsAFileAndNamesItInErrors) {
  const auto path =
      std::filesystem::temp_directory_path() / ("tether_config_test_" + std::to_string(::getpid()) + ".yaml");
  { std::ofstream(path) << minimal(); }
  const LoadResult good = loadConfigFile(path.string());
  EXPECT_TRUE(good.ok()) << describe(good);
  EXPECT_EQ(good.config->source_path, path.string());
  { std::ofstream(path) << "workers: 0\n" << minimal(); }
  const LoadResult bad = loadConfigFile(path.string());
  std::filesystem::remove(path);
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].toString(), path.string() + ":1:10: workers: must be between 1 and 256");
}

// --- bounds on what a file may cost (issue 11 item 8) ----------------------------------------------------------

// A temporary path removed at the end of the test.
class TempPath {
 public:
  explicit TempPath(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("tether_config_test_" + std::to_string(::getpid()) + "_" + name)) {}
  ~TempPath() { std::filesystem::remove(path_); }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Before the fix the file was opened (blocking until a writer came) before its type was checked: this test hung.
TEST(ConfigLoaderFile, FifoIsRefusedWithoutBlocking) {
  const TempPath fifo("fifo.yaml");
  ASSERT_EQ(::mkfifo(fifo.str().c_str(), 0600), 0);
  const LoadResult result = loadConfigFile(fifo.str());
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_THAT(result.errors[0].message, HasSubstr("not a regular file"));
  EXPECT_TRUE(regularFileError(fifo.str()).has_value());
}

TEST(ConfigLoaderFile, DirectoryAndMissingFileSayWhy) {
  EXPECT_THAT(loadConfigFile(std::filesystem::temp_directory_path().string()).errors.at(0).message,
              HasSubstr("a directory"));
  EXPECT_THAT(loadConfigFile("/nonexistent/tether.yaml").errors.at(0).message, HasSubstr("No such file"));
}

TEST(ConfigLoaderFile, FileAboveTheSizeLimitIsRefusedUnread) {
  const TempPath big("big.yaml");
  {
    std::ofstream out(big.str());
    out << minimal() << "# " << std::string(kMaxConfigFileBytes, 'x') << "\n";
  }
  const LoadResult result = loadConfigFile(big.str());
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_THAT(result.errors[0].message, HasSubstr("larger than the 4 MiB limit"));
}

// An anchored list of `items` endpoints, then `references` upstreams that repeat it with an alias: the shape of the
// 776 KB file that grew to 3.3 GB (each reference is loaded, resolved and copied in full).
std::string aliasAmplification(size_t items, size_t references) {
  std::string yaml = std::string(kListeners) + "upstreams:\n  - name: api\n    endpoints: &e [";
  for (size_t i = 0; i < items; ++i) {
    yaml += (i ? ", " : "") + std::string("\"127.0.0.1:") + std::to_string(1 + i) + "\"";
  }
  yaml += "]\n";
  for (size_t r = 1; r <= references; ++r) yaml += "  - {name: u" + std::to_string(r) + ", endpoints: *e}\n";
  return yaml + std::string(kRoutes);
}

TEST(ConfigLoaderBounds, AliasAmplificationIsRefusedAtTheAlias) {
  // The anchored list is 20,001 values and each reference 20,005: the 9th reference (line 6 + 9) crosses the
  // 200,000-value budget, at its alias.
  const auto errors = errorsOf(aliasAmplification(20000, 2000), 1);
  EXPECT_EQ(errors[0].line, 15);
  EXPECT_EQ(errors[0].column, 27);
  EXPECT_THAT(errors[0].message, HasSubstr("more than 200000 values once aliases are expanded"));
  EXPECT_THAT(errors[0].message, HasSubstr("alias '*e' repeats 20001 values"));
}

TEST(ConfigLoaderBounds, ModestAliasesStillLoad) {
  const LoadResult result = load(aliasAmplification(10, 20));
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(result.config->upstreams.size(), 21u);
  EXPECT_EQ(result.config->upstreams[20].endpoints.size(), 10u);
}

TEST(ConfigLoaderBounds, NestedAliasesCountExpanded) {
  // Billion laughs: each level repeats the one before ten times; 10^6 values without a single long line.
  std::string yaml = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  const std::string levels = "abcdef";
  for (size_t i = 1; i < levels.size(); ++i) {
    const std::string prev = "*" + levels.substr(i - 1, 1);
    yaml += levels.substr(i, 1) + ": &" + levels.substr(i, 1) + " [" + prev;
    for (int k = 1; k < 10; ++k) yaml += ", " + prev;
    yaml += "]\n";
  }
  const auto errors = errorsOf(yaml, 1);
  EXPECT_EQ(errors[0].line, 6);
  EXPECT_THAT(errors[0].message, HasSubstr("once aliases are expanded"));
}

TEST(ConfigLoaderBounds, LongStringRepeatedByAliasesIsRefused) {
  // One 100 KB name referenced 100 times: few values, but 10 MB of names (and of error messages quoting them).
  std::string yaml = std::string(kListeners) + std::string(kUpstreams) + std::string(kRoutes) + "  - {name: &n " +
                     std::string(100 * 1024, 'r') + ", match: {path: /x}, upstream: api}\n";
  for (int i = 0; i < 100; ++i) yaml += "  - {name: *n, match: {path: /x}, upstream: api}\n";
  const auto errors = errorsOf(yaml, 1);
  EXPECT_EQ(errors[0].line, 11 + 40);  // with the anchor (line 11), the 40th reference crosses 4 MiB
  EXPECT_THAT(errors[0].message, HasSubstr("larger than the 4 MiB file limit once aliases are expanded"));
  EXPECT_THAT(errors[0].message, HasSubstr("alias '*n' repeats 1 values, 102400 bytes"));
}

TEST(ConfigLoaderBounds, DeepNestingIsRefusedWithAClearMessage) {
  const auto errors = errorsOf("workers: " + std::string(1000, '[') + std::string(1000, ']') + "\n", 1);
  EXPECT_THAT(errors[0].message, HasSubstr("nested too deeply"));
}

TEST(ConfigLoaderBounds, RecursiveAliasIsRefused) {
  const auto errors = errorsOf("workers: &w [1, *w]\n", 1);
  EXPECT_EQ(errors[0].toString(), "test.yaml:1:17: alias '*w' is inside the node it refers to (a recursive alias)");
}

TEST(ConfigLoaderBounds, SecondDocumentIsAnError) {
  const auto errors = errorsOf(minimal() + "---\nworkers: 2\n", 1);
  EXPECT_EQ(errors[0].line, 11);
  EXPECT_THAT(errors[0].message, HasSubstr("a second YAML document"));
  // An explicit start of the only document, and its end marker, are fine.
  EXPECT_TRUE(load("---\n" + minimal() + "...\n").ok());
}

}  // namespace
}  // namespace tether::config
