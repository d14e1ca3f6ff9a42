// tether-demo-upstream: the slow endpoint from the article that motivated tether, plus a few
// fast endpoints for benchmarks. It notices a departed client and stops working.
#include <event2/event.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "demo/demo_h2_server.h"
#include "demo/demo_log.h"
#include "demo/demo_options.h"
#include "demo/demo_server.h"

namespace {

void onStopSignal(evutil_socket_t, short, void* arg) {
  tether::demo::logLine("main", "shutting down");
  event_base_loopexit(static_cast<event_base*>(arg), nullptr);
}

void logListening(const std::string& what, const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  tether::demo::logLine("main", what + "listening on " + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port));
}

int run(const tether::demo::DemoOptions& options) {
  event_base* base = event_base_new();
  if (base == nullptr) {
    std::fprintf(stderr, "cannot create event base\n");
    return 1;
  }
  int rc = 0;
  {
    tether::demo::DemoServer server(base, options);
    event* sigint = evsignal_new(base, SIGINT, &onStopSignal, base);
    event* sigterm = evsignal_new(base, SIGTERM, &onStopSignal, base);
    evsignal_add(sigint, nullptr);
    evsignal_add(sigterm, nullptr);
    tether::demo::DemoH2Server h2c_server(base, options);
    const auto h2c_port = options.h2c ? h2c_server.listen() : std::nullopt;
    auto port = server.listen();
    if (port && (h2c_port || !options.h2c)) {
      logListening("", options.host, *port);
      if (h2c_port) logListening("h2c ", options.h2c_host, *h2c_port);
      event_base_dispatch(base);
    } else {
      const bool h1_failed = !port;
      std::fprintf(stderr, "cannot listen on %s:%u\n", (h1_failed ? options.host : options.h2c_host).c_str(),
                   h1_failed ? options.port : options.h2c_port);
      rc = 1;
    }
    event_free(sigint);
    event_free(sigterm);
  }
  event_base_free(base);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a client that vanished mid-write must not kill the server
  std::string error;
  const auto options = tether::demo::parseDemoOptions(std::vector<std::string>(argv + 1, argv + argc), error);
  if (!options) {
    std::fprintf(stderr, "%s\n%s", error.c_str(), tether::demo::demoUsage().c_str());
    return 2;
  }
  if (options->help) {
    std::fputs(tether::demo::demoUsage().c_str(), stdout);
    return 0;
  }
  return run(*options);
}
