#include "go_upstream.h"

#include <stdexcept>

#include "output_lines.h"
#include "support/test_pki.h"

namespace tether::testing {
namespace {

std::vector<std::string> argv(GoUpstream::Mode mode, const TestPki* pki) {
  std::vector<std::string> args{TETHER_GO_H2_UPSTREAM, "-listen", "127.0.0.1:0"};
  if (mode == GoUpstream::Mode::kTls) {
    if (pki == nullptr) throw std::runtime_error("GoUpstream: TLS needs a PKI");
    args.insert(args.end(), {"-cert", pki->server_cert, "-key", pki->server_key});
  }
  return args;
}

}  // namespace

GoUpstream::GoUpstream(Mode mode, const TestPki* pki) : process_(argv(mode, pki)) {
  const auto listening = waitForLinesWith(process_, {"listening "}, 1);
  if (listening.empty()) throw std::runtime_error("go_h2_upstream did not start: " + process_.output());
  port_ = static_cast<uint16_t>(std::stoi(fields(listening[0]).at(1)));
}

GoUpstream::~GoUpstream() { process_.stop(); }

std::vector<std::string> GoUpstream::waitFor(const std::string& event, const std::string& path, size_t n) const {
  return waitForLinesWith(process_, {event + " " + path + " "}, n);
}

std::vector<std::string> GoUpstream::lines(const std::string& prefix) const {
  std::vector<std::string> found;
  for (std::string& line : linesWith(process_.output(), {prefix})) {
    if (line.starts_with(prefix)) found.push_back(std::move(line));
  }
  return found;
}

std::optional<std::string> GoUpstream::connectionOf(const std::string& path) const {
  const auto requests = waitFor("request", path);
  if (requests.empty()) return std::nullopt;
  return fields(requests[0]).at(2);
}

}  // namespace tether::testing
