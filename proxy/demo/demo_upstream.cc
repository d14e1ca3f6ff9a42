// tether-demo-upstream: the slow endpoint from the article that motivated tether, plus a few
// fast endpoints for benchmarks. It notices a departed client and stops working.
#include <event2/event.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "demo/demo_log.h"
#include "demo/demo_options.h"
#include "demo/demo_server.h"

namespace {

void onStopSignal(evutil_socket_t, short, void* arg) {
  tether::demo::logLine("main", "shutting down");
  event_base_loopexit(static_cast<event_base*>(arg), nullptr);
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
    if (auto port = server.listen()) {
      const bool v6 = options.host.find(':') != std::string::npos;
      const std::string host = v6 ? "[" + options.host + "]" : options.host;
      tether::demo::logLine("main", "listening on " + host + ":" + std::to_string(*port));
      event_base_dispatch(base);
    } else {
      std::fprintf(stderr, "cannot listen on %s:%u\n", options.host.c_str(), options.port);
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
