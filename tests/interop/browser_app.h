#pragma once

// The upstream app a browser test puts behind tether: a process and the lines it prints for one request, matched by
// the request's X-Request-Id (the browser sets it, tether forwards it and logs it as `request_id`).
//
// Adding a framework (e.g. the ASP.NET Core example) takes a subclass and one line in browser_test.cc's app list:
//   - start the app in the constructor and wait for its "listening" line;
//   - slowPath(): a handler that runs until the framework's cancellation signal fires (RequestAborted,
//     r.Context(), 'close'), and prints a line with the X-Request-Id when it starts and when the signal fires;
//   - fastPath(): a handler that answers at once (also the page the browser opens, so it must answer a GET with any
//     200 body) and prints a line with the X-Request-Id when it completes;
//   - started() / cancelled() / completed(): substrings that identify those lines for one id;
//   - lineEpochMs(): the time in a line (Unix ms), if the app prints one (the delay is measured from it; without it,
//     from when the test saw the line, an upper bound).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/process.h"

namespace tether::testing {

class BrowserApp {
 public:
  virtual ~BrowserApp() = default;

  // host:port where tether reaches the app over HTTP/1.1.
  virtual std::string endpoint() const = 0;
  virtual const Process& process() const = 0;
  virtual std::string slowPath() const = 0;
  virtual std::string fastPath() const = 0;
  virtual std::vector<std::string> started(const std::string& id) const = 0;
  virtual std::vector<std::string> cancelled(const std::string& id) const = 0;
  virtual std::vector<std::string> completed(const std::string& id) const = 0;
  virtual std::optional<int64_t> lineEpochMs(const std::string& /*line*/) const { return std::nullopt; }
};

// go_h2_upstream (go_upstream.h) on its cleartext port: `request|cancelled|completed <path> <remote> <proto> <id>
// <ms>`, where `cancelled` is printed when r.Context() fires.
std::unique_ptr<BrowserApp> makeGoBrowserApp();

// examples/aspnetcore (aspnetcore_app.h): "Starting to do slow work", the seeds' "Request was cancelled", and
// "Hello answered", each with `request_id=<X-Request-Id>` and a leading UTC timestamp in ms.
std::unique_ptr<BrowserApp> makeAspNetCoreBrowserApp();

}  // namespace tether::testing
