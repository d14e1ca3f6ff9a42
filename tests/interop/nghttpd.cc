#include "nghttpd.h"

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "output_lines.h"
#include "support/test_pki.h"

namespace tether::testing {
namespace {

std::vector<std::string> argv(const std::string& docroot, const TestPki* pki) {
  std::vector<std::string> args{TETHER_NGHTTPD, "-v", "-a", "127.0.0.1", "-d", docroot};
  if (pki == nullptr) {
    args.insert(args.end(), {"--no-tls", "0"});
  } else {
    args.insert(args.end(), {"0", pki->server_key, pki->server_cert});
  }
  return args;
}

// The socket inodes a process holds ("socket:[123]" links under /proc/<pid>/fd).
std::set<std::string> socketInodes(pid_t pid) {
  std::set<std::string> inodes;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return inodes;
  while (dirent* entry = readdir(d)) {
    char target[256];
    const ssize_t n = readlink((dir + "/" + entry->d_name).c_str(), target, sizeof(target) - 1);
    if (n <= 0) continue;
    const std::string link(target, static_cast<size_t>(n));
    if (link.starts_with("socket:[")) inodes.insert(link.substr(8, link.size() - 9));
  }
  closedir(d);
  return inodes;
}

}  // namespace

uint16_t listeningPort(pid_t pid) {
  const auto inodes = socketInodes(pid);
  std::ifstream tcp("/proc/" + std::to_string(pid) + "/net/tcp");
  std::string line;
  std::getline(tcp, line);  // the header
  while (std::getline(tcp, line)) {
    const auto f = fields(line);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    if (f.size() < 10 || f[3] != "0A" || !inodes.contains(f[9])) continue;
    return static_cast<uint16_t>(std::stoul(f[1].substr(f[1].find(':') + 1), nullptr, 16));
  }
  return 0;
}

Nghttpd::Nghttpd(const std::string& docroot, const TestPki* pki) : process_(argv(docroot, pki)) {
  const auto deadline = std::chrono::steady_clock::now() + Process::kDefaultTimeout;
  while ((port_ = listeningPort(process_.pid())) == 0) {
    if (!process_.running() || std::chrono::steady_clock::now() >= deadline) {
      throw std::runtime_error("nghttpd did not listen: " + process_.output());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // between polls only
  }
}

Nghttpd::~Nghttpd() { process_.stop(); }

// "[id=1] [  0.660] recv RST_STREAM frame <length=4, flags=0x00, stream_id=1>" then "  (error_code=CANCEL(0x08))".
std::vector<Nghttpd::Frame> Nghttpd::received(const std::string& type) const {
  std::vector<Frame> frames;
  std::string text = process_.output();
  text.resize(text.rfind('\n') + 1);  // whole lines only (npos + 1 is 0): a frame's detail line may still be on its way
  std::istringstream in(text);
  const std::string marker = "] recv " + type + " frame <";
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(marker) == std::string::npos) continue;
    Frame frame;
    frame.connection = line.substr(0, line.find(']') + 1);
    const auto id = line.find("stream_id=");
    if (id != std::string::npos) frame.stream_id = std::stoi(line.substr(id + 10));
    std::string next;
    if (!std::getline(in, next)) break;  // the detail line is not written yet
    const auto detail = fields(next);
    if (!detail.empty()) frame.detail = detail[0];
    frames.push_back(frame);
  }
  return frames;
}

std::vector<int32_t> Nghttpd::streamsFor(const std::string& path) const {
  std::vector<int32_t> streams;
  for (const std::string& line : linesWith(process_.output(), {"] recv (stream_id=", ") :path: " + path})) {
    const auto f = fields(line);
    if (f.back() != path) continue;  // a longer path with this prefix
    const std::string id = line.substr(line.find("stream_id=") + 10);
    streams.push_back(std::stoi(id));
  }
  return streams;
}

std::vector<Nghttpd::Frame> Nghttpd::waitForReceived(const std::string& type, size_t n) const {
  const auto deadline = std::chrono::steady_clock::now() + Process::kDefaultTimeout;
  for (;;) {
    auto frames = received(type);
    if (frames.size() >= n || std::chrono::steady_clock::now() >= deadline) return frames;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // between polls only
  }
}

}  // namespace tether::testing
