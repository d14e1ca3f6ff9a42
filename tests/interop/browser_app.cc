#include "browser_app.h"

#include "aspnetcore_app.h"
#include "go_upstream.h"
#include "output_lines.h"

namespace tether::testing {
namespace {

class GoBrowserApp : public BrowserApp {
 public:
  GoBrowserApp() : upstream_(GoUpstream::Mode::kCleartext) {}

  std::string endpoint() const override { return upstream_.endpoint(); }
  const Process& process() const override { return *upstream_.process(); }
  std::string slowPath() const override { return "/slow"; }
  std::string fastPath() const override { return "/fast"; }
  std::vector<std::string> started(const std::string& id) const override { return {"request /", " " + id + " "}; }
  std::vector<std::string> cancelled(const std::string& id) const override { return {"cancelled /", " " + id + " "}; }
  std::vector<std::string> completed(const std::string& id) const override { return {"completed /", " " + id + " "}; }
  std::optional<int64_t> lineEpochMs(const std::string& line) const override {
    const auto f = fields(line);
    if (f.size() < 6) return std::nullopt;
    return std::stoll(f[5]);
  }

 private:
  GoUpstream upstream_;
};

// examples/aspnetcore (the seeds' minimal API): `/slowtest` awaits Task.Delay(10 s, token) with the bound
// CancellationToken; OperationCanceledMiddleware writes the seeds' "Request was cancelled" line when it fires.
class AspNetCoreBrowserApp : public BrowserApp {
 public:
  std::string endpoint() const override { return app_.endpoint(); }
  const Process& process() const override { return app_.process(); }
  std::string slowPath() const override { return "/slowtest"; }
  std::string fastPath() const override { return "/hello"; }
  std::vector<std::string> started(const std::string& id) const override {
    return {"Starting to do slow work", "request_id=" + id};
  }
  std::vector<std::string> cancelled(const std::string& id) const override {
    return {"Request was cancelled", "request_id=" + id + " "};
  }
  std::vector<std::string> completed(const std::string& id) const override {
    return {"Hello answered", "request_id=" + id};
  }
  std::optional<int64_t> lineEpochMs(const std::string& line) const override { return isoMillis(line); }

 private:
  AspNetCoreApp app_;
};

}  // namespace

std::unique_ptr<BrowserApp> makeGoBrowserApp() { return std::make_unique<GoBrowserApp>(); }

std::unique_ptr<BrowserApp> makeAspNetCoreBrowserApp() { return std::make_unique<AspNetCoreBrowserApp>(); }

}  // namespace tether::testing
