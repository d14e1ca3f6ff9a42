#include "config/config_loader.h"

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <sstream>
#include <thread>
#include <utility>

#include "config/units.h"

namespace tether::config {

namespace {

using YAML::Node;
using Names = std::vector<std::string_view>;
template <class E>
using Choice = std::pair<std::string_view, E>;

constexpr uint64_t kMaxWorkers = 256;

std::string childPath(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : std::string(path) + "." + std::string(key);
}

std::string indexPath(std::string_view path, size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1);
  std::vector<size_t> cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitute});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The nearest candidate, if near enough to be a plausible typo (not merely the least different word). A
// truncated or extended word ("warning" for "warn") counts as near.
std::optional<std::string_view> closest(std::string_view word, const Names& candidates) {
  std::optional<std::string_view> best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const auto candidate : candidates) {
    const bool prefix =
        std::min(word.size(), candidate.size()) >= 3 && (word.starts_with(candidate) || candidate.starts_with(word));
    const size_t d = prefix ? 1 : editDistance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  if (!best || best_distance >= word.size() || best_distance > std::max<size_t>(2, word.size() / 3)) return {};
  return best;
}

std::string joinNames(const Names& names) {
  std::string out;
  for (const auto name : names) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

// " (did you mean 'x'?)", and/or the full list of valid words when there is no close one or list_all is set.
std::string suggestion(std::string_view word, const Names& candidates, bool list_all) {
  std::string out;
  if (const auto near = closest(word, candidates)) out = "did you mean '" + std::string(*near) + "'?";
  if ((list_all || out.empty()) && !candidates.empty()) {
    out += (out.empty() ? "" : " ") + std::string("expected one of: ") + joinNames(candidates);
  }
  return out.empty() ? out : " (" + out + ")";
}

std::string kindOf(const Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: return "a single value";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "nothing";
  }
}

// RFC 9110 tchar: what a method or header name may consist of.
bool isToken(std::string_view text) {
  constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  if (text.empty()) return false;
  return std::all_of(text.begin(), text.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kSpecials.find(c) != std::string_view::npos;
  });
}

int lineOf(const YAML::Mark& mark) { return mark.is_null() ? 0 : mark.line + 1; }

// A DNS name a certificate may answer: labels of letters, digits and '-', optionally "*." first (one label deep).
bool isServerName(std::string_view name) {
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.') return false;
  if (name.find("..") != std::string_view::npos) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.'; });
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// Opens `path` for reading if it is a regular file. O_NONBLOCK: opening a FIFO for reading would otherwise wait for
// a writer (`tether --check` on a FIFO hung); the type is checked on the opened file, so it cannot change between
// the check and the read.
std::optional<std::string> openRegularFile(const std::string& path, FileDescriptor& out, struct stat& st) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return std::string(std::strerror(errno));
  if (::fstat(fd.get(), &st) != 0) return std::string(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) {
    return std::string(S_ISDIR(st.st_mode) ? "a directory" : "not a regular file (a FIFO, socket or device)") +
           ", expected a regular file";
  }
  out.reset(fd.release());
  return std::nullopt;
}

// The whole file, refusing more than `max_bytes` (checked on the size and again while reading: the file may grow).
std::optional<std::string> readRegularFile(const std::string& path, size_t max_bytes, std::string& text) {
  FileDescriptor fd(-1);
  struct stat st {};
  if (auto error = openRegularFile(path, fd, st)) return error;
  const std::string too_big = "larger than the " + std::to_string(max_bytes / (1024 * 1024)) + " MiB limit";
  if (static_cast<uint64_t>(st.st_size) > max_bytes) return too_big;
  text.resize(max_bytes + 1);
  size_t used = 0;
  while (used < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + used, text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::string(std::strerror(errno));
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > max_bytes) return too_big;
  text.resize(used);
  return std::nullopt;
}

// Accumulates every problem found in one file; the loader never stops at the first.
class Errors {
 public:
  explicit Errors(std::string file) : file_(std::move(file)) {}

  void add(const YAML::Mark& mark, std::string key_path, std::string message) {
    const bool known = !mark.is_null();
    errors_.push_back(
        {file_, known ? mark.line + 1 : 0, known ? mark.column + 1 : 0, std::move(key_path), std::move(message)});
  }

  // In file order, which is how a reader fixes them.
  std::vector<ConfigError> take() {
    std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
      return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    return std::move(errors_);
  }

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

// One key: value pair of a mapping. Errors about a value point at the value, except for an empty value, which
// yaml-cpp places on the next token; those point at the key instead.
struct Entry {
  Node key;
  Node value;
  YAML::Mark mark() const { return value.IsNull() ? key.Mark() : value.Mark(); }
};

// One YAML mapping read against its schema. Unknown and repeated keys are reported on construction; the
// typed readers report missing required keys and malformed values and return false on any problem, leaving
// `out` untouched. An empty (null) node reads as an empty mapping.
class Fields {
 public:
  Fields(const Node& node, std::string path, const Names& known, Errors& errors);

  bool valid() const { return valid_; }
  const std::string& path() const { return path_; }
  std::string path(std::string_view key) const { return childPath(path_, key); }

  const Entry* get(std::string_view key) const;
  const Entry* require(std::string_view key) const;  // reports a missing key

  bool string(std::string_view key, std::string& out, bool required = false) const;
  bool duration(std::string_view key, Duration& out, Duration min = Duration{0}) const;
  bool size(std::string_view key, size_t& out, uint64_t min = 0) const;
  bool boolean(std::string_view key, bool& out) const;
  bool methods(std::string_view key, std::vector<std::string>& out) const;

  template <class T>
  bool count(std::string_view key, T& out, uint64_t min, uint64_t max = std::numeric_limits<T>::max()) const {
    const Entry* e = scalar(key, false, "a number");
    if (e == nullptr) return false;
    std::string error;
    const auto value = parseUnsigned(e->value.Scalar(), &error);
    if (!value) return fail(*e, key, error);
    if (*value < min || *value > max) {
      const bool bounded = max != std::numeric_limits<T>::max();
      return fail(*e, key,
                  bounded ? "must be between " + std::to_string(min) + " and " + std::to_string(max)
                          : "must be at least " + std::to_string(min));
    }
    out = static_cast<T>(*value);
    return true;
  }

  template <class E, size_t N>
  bool choice(std::string_view key, const std::array<Choice<E>, N>& choices, E& out) const {
    const Entry* e = scalar(key, false, "a single value");
    if (e == nullptr) return false;
    Names names;
    for (const auto& [name, value] : choices) {
      if (name == e->value.Scalar()) {
        out = value;
        return true;
      }
      names.push_back(name);
    }
    return fail(*e, key, "invalid value '" + e->value.Scalar() + "'" + suggestion(e->value.Scalar(), names, true));
  }

  bool fail(const Entry& e, std::string_view key, std::string message) const {
    errors_.add(e.mark(), path(key), std::move(message));
    return false;
  }

 private:
  const Entry* scalar(std::string_view key, bool required, std::string_view expected) const;

  Node node_;
  std::string path_;
  Errors& errors_;
  std::vector<std::pair<std::string, Entry>> entries_;
  bool valid_ = true;
};

Fields::Fields(const Node& node, std::string path, const Names& known, Errors& errors)
    : node_(node), path_(std::move(path)), errors_(errors) {
  if (node_.IsNull()) return;
  if (!node_.IsMap()) {
    errors_.add(node_.Mark(), path_, "expected a mapping, got " + kindOf(node_));
    valid_ = false;
    return;
  }
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const Entry entry{it->first, it->second};
    const std::string name = entry.key.IsScalar() ? entry.key.Scalar() : std::string();
    if (!entry.key.IsScalar()) {
      errors_.add(entry.key.Mark(), path_, "keys must be plain names, got " + kindOf(entry.key));
    } else if (const Entry* first = get(name)) {
      errors_.add(entry.key.Mark(), this->path(name),
                  "duplicate key (first set at line " + std::to_string(lineOf(first->key.Mark())) + ")");
    } else if (std::find(known.begin(), known.end(), name) == known.end()) {
      errors_.add(entry.key.Mark(), this->path(name), "unknown key '" + name + "'" + suggestion(name, known, false));
    } else {
      entries_.emplace_back(name, entry);
    }
  }
}

const Entry* Fields::get(std::string_view key) const {
  for (const auto& [name, entry] : entries_) {
    if (name == key) return &entry;
  }
  return nullptr;
}

const Entry* Fields::require(std::string_view key) const {
  const Entry* e = get(key);
  if (e == nullptr && valid_) errors_.add(node_.Mark(), path(key), "missing required key '" + std::string(key) + "'");
  return e;
}

const Entry* Fields::scalar(std::string_view key, bool required, std::string_view expected) const {
  const Entry* e = required ? require(key) : get(key);
  if (e == nullptr) return nullptr;
  if (e->value.IsScalar()) return e;
  fail(*e, key, "expected " + std::string(expected) + ", got " + kindOf(e->value));
  return nullptr;
}

bool Fields::string(std::string_view key, std::string& out, bool required) const {
  const Entry* e = scalar(key, required, "a string");
  if (e == nullptr) return false;
  if (e->value.Scalar().empty()) return fail(*e, key, "must not be empty");
  out = e->value.Scalar();
  return true;
}

bool Fields::duration(std::string_view key, Duration& out, Duration min) const {
  const Entry* e = scalar(key, false, "a duration");
  if (e == nullptr) return false;
  std::string error;
  const auto value = parseDuration(e->value.Scalar(), &error);
  if (!value) return fail(*e, key, error);
  if (*value < min) return fail(*e, key, "must be at least " + std::to_string(min.count()) + "ms");
  out = *value;
  return true;
}

bool Fields::size(std::string_view key, size_t& out, uint64_t min) const {
  const Entry* e = scalar(key, false, "a size");
  if (e == nullptr) return false;
  std::string error;
  const auto value = parseSize(e->value.Scalar(), &error);
  if (!value) return fail(*e, key, error);
  if (*value < min) return fail(*e, key, "must be at least " + std::to_string(min) + " bytes");
  out = static_cast<size_t>(*value);
  return true;
}

bool Fields::boolean(std::string_view key, bool& out) const {
  const Entry* e = scalar(key, false, "true or false");
  if (e == nullptr) return false;
  const std::string& text = e->value.Scalar();
  if (text != "true" && text != "false") return fail(*e, key, "expected true or false, got '" + text + "'");
  out = text == "true";
  return true;
}

// A list of HTTP method tokens, compared case-sensitively at run time as RFC 9110 says.
bool Fields::methods(std::string_view key, std::vector<std::string>& out) const {
  const Entry* e = get(key);
  if (e == nullptr) return false;
  if (!e->value.IsSequence()) return fail(*e, key, "expected a list of methods, got " + kindOf(e->value));
  std::vector<std::string> methods;
  bool ok = true;
  for (size_t i = 0; i < e->value.size(); ++i) {
    const Node item = e->value[i];
    if (!item.IsScalar() || !isToken(item.Scalar())) {
      const std::string shown = item.IsScalar() ? "'" + item.Scalar() + "'" : kindOf(item);
      errors_.add(item.Mark(), indexPath(path(key), i), "invalid HTTP method " + shown);
      ok = false;
    } else {
      methods.push_back(item.Scalar());
    }
  }
  if (ok) out = std::move(methods);
  return ok;
}

// "host:port" or "[ipv6]:port" with a port in 1-65535. Sets `bracketed` for IPv6 literals.
std::optional<std::string> splitEndpoint(const std::string& text, Endpoint& out, bool& bracketed) {
  const std::string malformed =
      "invalid endpoint '" + text + "' (expected host:port, e.g. 127.0.0.1:5000, backend.local:80 or [::1]:5000)";
  bracketed = !text.empty() && text.front() == '[';
  // For "[v6]:port" a missing "]:" makes npos + 1 == 0, rejected just below.
  const size_t colon = bracketed ? text.find("]:") + 1 : text.rfind(':');
  if (colon == std::string::npos || colon == 0) return malformed;
  const std::string host = bracketed ? text.substr(1, colon - 2) : text.substr(0, colon);
  if (host.empty() || host.find_first_of(bracketed ? " \t[]" : " \t[]:") != std::string::npos) return malformed;
  const auto port = parseUnsigned(text.substr(colon + 1));
  if (!port || *port == 0 || *port > 65535) return "invalid endpoint '" + text + "': port must be 1-65535";
  out.host = host;
  out.port = static_cast<uint16_t>(*port);
  return std::nullopt;
}

// Blocking getaddrinfo; fine here because config loads on the main thread before any event loop runs.
std::optional<std::string> resolve(Endpoint& endpoint, bool numeric) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (numeric ? AI_NUMERICHOST : 0);
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(endpoint.host.c_str(), std::to_string(endpoint.port).c_str(), &hints, &found);
  if (rc != 0) return "cannot resolve '" + endpoint.host + "': " + gai_strerror(rc);
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owner(found, &freeaddrinfo);
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    const auto address = net::SocketAddress::fromSockaddr(ai->ai_addr, ai->ai_addrlen);
    auto& all = endpoint.addresses;
    if (std::find(all.begin(), all.end(), address) == all.end()) all.push_back(address);
  }
  if (endpoint.addresses.empty()) return "'" + endpoint.host + "' has no IPv4 or IPv6 address";
  return std::nullopt;
}

// A route host pattern: a name or "*.suffix", without port (the router strips the request's port).
std::optional<std::string> hostPatternError(std::string_view host) {
  const std::string_view name = host.starts_with("*.") ? host.substr(2) : host;
  if (name.empty()) return "wildcard needs a suffix, e.g. '*.example.com'";
  for (const char c : name) {
    if (c == ':') return "must not include a port";
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') {
      return "invalid character '" + std::string(1, c) + "' (a wildcard is only allowed as a leading '*.')";
    }
  }
  return std::nullopt;
}

std::string invalidAddressMessage(const std::string& text) {
  return "invalid address '" + text +
         "' (expected numeric IPv4 'ip:port' like 127.0.0.1:8080 or IPv6 '[ip]:port' like [::1]:8080; "
         "host names are not allowed)";
}

constexpr std::array<Choice<Upstream::CancelWith>, 2> kCancelWith{
    {{"rst", Upstream::CancelWith::Rst}, {"fin", Upstream::CancelWith::Fin}}};
constexpr std::array<Choice<Upstream::Protocol>, 3> kProtocols{
    {{"http1", Upstream::Protocol::Http1}, {"h2c", Upstream::Protocol::H2c}, {"h2", Upstream::Protocol::H2}}};
constexpr std::array<Choice<CancellationPolicy::Mode>, 2> kCancelModes{
    {{"propagate", CancellationPolicy::Mode::Propagate}, {"ignore", CancellationPolicy::Mode::Ignore}}};
constexpr std::array<Choice<CancellationPolicy::HalfClose>, 2> kHalfClose{
    {{"cancel", CancellationPolicy::HalfClose::Cancel}, {"wait", CancellationPolicy::HalfClose::Wait}}};
constexpr std::array<Choice<Log::Format>, 1> kLogFormats{{{"json", Log::Format::Json}}};
constexpr std::array<Choice<Log::Sink>, 3> kLogSinks{
    {{"stdout", Log::Sink::Stdout}, {"stderr", Log::Sink::Stderr}, {"file", Log::Sink::File}}};
constexpr std::array<Choice<Log::Level>, 4> kLogLevels{{{"debug", Log::Level::Debug},
                                                        {"info", Log::Level::Info},
                                                        {"warn", Log::Level::Warn},
                                                        {"error", Log::Level::Error}}};

// Where a name or address was first defined, for "duplicate ... (first at line N)" and index lookups.
struct Defined {
  int line = 0;
  size_t index = 0;
};
using Registry = std::map<std::string, Defined, std::less<>>;

struct BoundAddress {
  net::SocketAddress address;
  YAML::Mark mark;
  std::string path;
};

// Refuses, before any node is built, what would make building or walking the document cost more than its size
// suggests: more than one document, an alias to a node that contains it (a cycle the loader would walk forever),
// and, with aliases expanded, more than kMaxConfigNodes values or more than kMaxConfigFileBytes of scalar text
// (yaml-cpp shares an aliased node, but the loader visits and copies it once per reference: 2,000 references to a
// large anchored list grew to 3.3 GB; one long string referenced 2,000 times is copied into 2,000 names).
// yaml-cpp's event parser streams, so this pass holds only the open collections and one size per anchor.
class DocumentBounds : public YAML::EventHandler {
 public:
  struct Exceeded {
    YAML::Mark mark;
    std::string message;
  };

  // Throws Exceeded, or YAML::Exception for a syntax error.
  static void check(const std::string& yaml) {
    std::istringstream in(yaml);
    YAML::Parser parser(in);
    DocumentBounds bounds;
    while (parser.HandleNextDocument(bounds)) {
    }
  }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ > 1) {
      throw Exceeded{mark, "a second YAML document ('---') is not allowed: tether reads one document per file"};
    }
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { leaf(mark, anchor, 0); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, const std::string& value) override {
    leaf(mark, anchor, value.size());
  }
  void OnAnchor(const YAML::Mark&, const std::string& name) override { anchor_name_ = name; }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override;
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Size {
    uint64_t nodes = 0;
    uint64_t bytes = 0;  // scalar text
  };
  struct Anchor {
    std::string name;
    Size size;  // nodes == 0 while the anchored node is still open
  };
  struct Open {
    Size before;
    YAML::anchor_t anchor;
  };

  void count(const YAML::Mark& mark, Size added, const std::string* alias);
  void define(YAML::anchor_t anchor, Size size);
  void leaf(const YAML::Mark& mark, YAML::anchor_t anchor, uint64_t bytes) {
    count(mark, {1, bytes}, nullptr);
    define(anchor, {1, bytes});
  }
  void open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    open_.push_back({total_, anchor});
    count(mark, {1, 0}, nullptr);
    define(anchor, {});
  }
  void close() {
    const Open done = open_.back();
    open_.pop_back();
    define(done.anchor, {total_.nodes - done.before.nodes, total_.bytes - done.before.bytes});
  }

  std::vector<Anchor> anchors_;  // by yaml-cpp's anchor id (1-based, per document)
  std::vector<Open> open_;
  std::string anchor_name_;  // OnAnchor comes just before the event of the node it names
  Size total_;
  int documents_ = 0;
};

void DocumentBounds::OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) {
  const Anchor* target = anchor < anchors_.size() ? &anchors_[anchor] : nullptr;
  if (target == nullptr) return count(mark, {1, 0}, nullptr);  // yaml-cpp reports unknown anchors itself
  if (target->size.nodes == 0) {
    throw Exceeded{mark, "alias '*" + target->name + "' is inside the node it refers to (a recursive alias)"};
  }
  count(mark, target->size, &target->name);
}

void DocumentBounds::count(const YAML::Mark& mark, Size added, const std::string* alias) {
  total_.nodes += added.nodes;
  total_.bytes += added.bytes;
  std::string message;
  if (total_.nodes > kMaxConfigNodes) {
    message = "the document has more than " + std::to_string(kMaxConfigNodes) + " values";
  } else if (total_.bytes > kMaxConfigFileBytes) {
    message = "the document's text is larger than the " + std::to_string(kMaxConfigFileBytes / (1024 * 1024)) +
              " MiB file limit";
  } else {
    return;
  }
  if (alias != nullptr) {
    message += " once aliases are expanded (alias '*" + *alias + "' repeats " + std::to_string(added.nodes) +
               " values, " + std::to_string(added.bytes) + " bytes)";
  }
  throw Exceeded{mark, message};
}

void DocumentBounds::define(YAML::anchor_t anchor, Size size) {
  if (anchor == YAML::NullAnchor) return;
  if (anchors_.size() <= anchor) anchors_.resize(anchor + 1);
  if (!anchor_name_.empty()) anchors_[anchor].name = std::move(anchor_name_);
  anchors_[anchor].size = size;
  anchor_name_.clear();
}

class Loader {
 public:
  Loader(const std::string& file, const LoadOptions& options) : options_(options), errors_(file) {
    config_->source_path = file;
  }
  LoadResult load(std::string_view yaml);

 private:
  void parseRoot(const Node& root);
  const Node* sequence(const Fields& fields, std::string_view key);
  void registerName(Registry& registry, const std::string& name, const Entry& e, const std::string& path,
                    std::string_view what, size_t index);
  void parseListener(const Node& node, const std::string& path, size_t index);
  void parseListenerAddress(const Entry& e, const std::string& path, Listener& listener);
  void parseListenerTls(const Entry& entry, const std::string& path, Listener& listener);
  void parseListenerCertificate(const Node& node, const std::string& path, ListenerTls& tls);
  void parseUpstream(const Node& node, const std::string& path, size_t index);
  void parseEndpoint(const Node& node, const std::string& path, Upstream& upstream);
  void parseUpstreamTls(const Entry& entry, const std::string& path, Upstream& upstream);
  void parseRoute(const Node& node, const std::string& path);
  void parseMatch(const Fields& route, RouteMatch& match);
  void parseCancellation(const Fields& route, CancellationPolicy& policy);
  void parseForwarding(const Fields& route, Forwarding& forwarding);
  void parseUpstreamReference(const Fields& route, Route& out);
  void parseLimits(const Fields& root);
  void parseLog(const Fields& root);
  void parseAdmin(const Fields& root);

  LoadOptions options_;
  Errors errors_;
  std::shared_ptr<Config> config_ = std::make_shared<Config>();
  Registry listener_names_;
  Registry upstream_names_;
  Registry route_names_;
  std::vector<BoundAddress> listener_addresses_;
};

LoadResult Loader::load(std::string_view yaml) {
  const std::string text(yaml);
  try {
    DocumentBounds::check(text);
    parseRoot(YAML::Load(text));
  } catch (const DocumentBounds::Exceeded& e) {
    errors_.add(e.mark, "", e.message);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own guard against stack exhaustion, whose message is only "bad file".
    errors_.add(e.mark, "", "lists and mappings are nested too deeply (yaml-cpp's limit is a few hundred levels)");
  } catch (const YAML::Exception& e) {
    errors_.add(e.mark, "", e.msg);
  }
  LoadResult result;
  result.errors = errors_.take();
  if (result.errors.empty()) result.config = std::move(config_);
  return result;
}

void Loader::parseRoot(const Node& root) {
  if (root.IsNull()) {
    return errors_.add(root.Mark(), "",
                       "the configuration is empty (expected a mapping with listeners, upstreams and routes)");
  }
  const Fields fields(
      root, "", {"workers", "drain_timeout", "listeners", "upstreams", "routes", "limits", "log", "admin"}, errors_);
  if (!fields.valid()) return;
  config_->workers = std::clamp<unsigned>(std::thread::hardware_concurrency(), 1, kMaxWorkers);
  fields.count("workers", config_->workers, 1, kMaxWorkers);
  fields.duration("drain_timeout", config_->drain_timeout);

  // Upstreams before routes, so routes can refer to them by name regardless of the order in the file.
  if (const Node* list = sequence(fields, "listeners")) {
    for (size_t i = 0; i < list->size(); ++i) parseListener((*list)[i], indexPath("listeners", i), i);
  }
  if (const Node* list = sequence(fields, "upstreams")) {
    for (size_t i = 0; i < list->size(); ++i) parseUpstream((*list)[i], indexPath("upstreams", i), i);
  }
  if (const Node* list = sequence(fields, "routes")) {
    for (size_t i = 0; i < list->size(); ++i) parseRoute((*list)[i], indexPath("routes", i));
  }
  parseLimits(fields);
  parseLog(fields);
  parseAdmin(fields);
}

// A required, non-empty list.
const Node* Loader::sequence(const Fields& fields, std::string_view key) {
  const Entry* entry = fields.require(key);
  if (entry == nullptr) return nullptr;
  if (!entry->value.IsSequence()) {
    fields.fail(*entry, key, "expected a list, got " + kindOf(entry->value));
    return nullptr;
  }
  if (entry->value.size() == 0) {
    fields.fail(*entry, key, "must have at least one entry");
    return nullptr;
  }
  return &entry->value;
}

void Loader::registerName(Registry& registry, const std::string& name, const Entry& e, const std::string& path,
                          std::string_view what, size_t index) {
  const auto [it, inserted] = registry.try_emplace(name, Defined{lineOf(e.mark()), index});
  if (!inserted) {
    errors_.add(e.mark(), path,
                "duplicate " + std::string(what) + " name '" + name + "' (first defined at line " +
                    std::to_string(it->second.line) + ")");
  }
}

void Loader::parseListener(const Node& node, const std::string& path, size_t index) {
  Listener& listener = config_->listeners.emplace_back();
  const Fields fields(node, path, {"name", "address", "limits", "tls"}, errors_);
  if (!fields.valid()) return;
  if (fields.string("name", listener.name, true)) {
    registerName(listener_names_, listener.name, *fields.get("name"), fields.path("name"), "listener", index);
  }
  if (fields.string("address", listener.address_text, true)) {
    parseListenerAddress(*fields.get("address"), fields.path("address"), listener);
  }
  if (const Entry* limits = fields.get("limits")) {
    const Fields limit_fields(limits->value, fields.path("limits"), {"max_connections"}, errors_);
    size_t max_connections = 0;
    if (limit_fields.count("max_connections", max_connections, 1)) listener.limits.max_connections = max_connections;
  }
  if (const Entry* tls = fields.get("tls")) parseListenerTls(*tls, fields.path("tls"), listener);
}

void Loader::parseListenerTls(const Entry& entry, const std::string& path, Listener& listener) {
  const Fields fields(entry.value, path, {"cert", "key", "certificates", "session_tickets", "ticket_rotation"},
                      errors_);
  ListenerTls& tls = listener.tls.emplace();
  if (!fields.valid()) return;
  fields.boolean("session_tickets", tls.session_tickets);
  fields.duration("ticket_rotation", tls.ticket_rotation, Duration{1000});
  if (fields.get("certificates") == nullptr) {  // the one-certificate form
    ListenerCertificate& one = tls.certificates.emplace_back();
    one.key_path = path;
    one.line = lineOf(entry.mark());
    one.column = entry.mark().is_null() ? 0 : entry.mark().column + 1;
    fields.string("cert", one.cert, true);
    fields.string("key", one.key, true);
    return;
  }
  for (const char* key : {"cert", "key"}) {
    if (const Entry* e = fields.get(key)) fields.fail(*e, key, "give either `cert` and `key` or `certificates`");
  }
  if (const Node* list = sequence(fields, "certificates")) {
    const std::string list_path = fields.path("certificates");
    for (size_t i = 0; i < list->size(); ++i) parseListenerCertificate((*list)[i], indexPath(list_path, i), tls);
  }
}

void Loader::parseListenerCertificate(const Node& node, const std::string& path, ListenerTls& tls) {
  ListenerCertificate& out = tls.certificates.emplace_back();
  out.key_path = path;
  out.line = lineOf(node.Mark());
  out.column = node.Mark().is_null() ? 0 : node.Mark().column + 1;
  const Fields fields(node, path, {"cert", "key", "server_names"}, errors_);
  if (!fields.valid()) return;
  fields.string("cert", out.cert, true);
  fields.string("key", out.key, true);
  const Entry* names = fields.get("server_names");
  if (names == nullptr) return;
  if (!names->value.IsSequence() || names->value.size() == 0) {
    fields.fail(*names, "server_names", "expected a non-empty list of names, got " + kindOf(names->value));
    return;
  }
  for (size_t i = 0; i < names->value.size(); ++i) {
    const Node& name = names->value[i];
    const std::string name_path = indexPath(fields.path("server_names"), i);
    if (!name.IsScalar()) {
      errors_.add(name.Mark(), name_path, "expected a name, got " + kindOf(name));
    } else if (!isServerName(name.Scalar())) {
      errors_.add(name.Mark(), name_path,
                  "invalid server name '" + name.Scalar() +
                      "' (a DNS name such as api.example.com, or *.example.com for one label below it)");
    } else {
      std::string lower = name.Scalar();
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      out.server_names.push_back(std::move(lower));
    }
  }
}

void Loader::parseListenerAddress(const Entry& e, const std::string& path, Listener& listener) {
  const auto address = net::SocketAddress::parse(listener.address_text);
  if (!address) return errors_.add(e.mark(), path, invalidAddressMessage(listener.address_text));
  listener.address = *address;
  if (address->port() == 0) return;  // an ephemeral port cannot clash
  for (const BoundAddress& other : listener_addresses_) {
    if (other.address == *address) {
      return errors_.add(e.mark(), path,
                         "duplicate listener address '" + listener.address_text + "' (also used at line " +
                             std::to_string(lineOf(other.mark)) + ")");
    }
  }
  listener_addresses_.push_back({*address, e.mark(), path});
}

void Loader::parseUpstream(const Node& node, const std::string& path, size_t index) {
  Upstream& upstream = config_->upstreams.emplace_back();
  const Fields fields(
      node, path,
      {"name", "endpoints", "connect_timeout", "max_connections_per_endpoint", "queue_timeout",
       "max_idle_connections_per_endpoint", "keepalive_idle_timeout", "failure_backoff", "cancel_with", "tls",
       "response_timeout", "read_timeout", "send_timeout", "protocol", "reset_budget", "reset_window"},
      errors_);
  if (!fields.valid()) return;
  if (fields.string("name", upstream.name, true)) {
    registerName(upstream_names_, upstream.name, *fields.get("name"), fields.path("name"), "upstream", index);
  }
  if (const Node* list = sequence(fields, "endpoints")) {
    const std::string list_path = fields.path("endpoints");
    for (size_t i = 0; i < list->size(); ++i) parseEndpoint((*list)[i], indexPath(list_path, i), upstream);
  }
  fields.duration("connect_timeout", upstream.connect_timeout, Duration{1});
  fields.count("max_connections_per_endpoint", upstream.max_connections_per_endpoint, 1);
  upstream.queue_timeout = upstream.connect_timeout;  // the default: today's configs keep the wait they had
  fields.duration("queue_timeout", upstream.queue_timeout, Duration{1});
  fields.count("max_idle_connections_per_endpoint", upstream.max_idle_connections_per_endpoint, 0);
  fields.duration("keepalive_idle_timeout", upstream.keepalive_idle_timeout, Duration{1});
  fields.duration("failure_backoff", upstream.failure_backoff);
  fields.choice("cancel_with", kCancelWith, upstream.cancel_with);
  fields.choice("protocol", kProtocols, upstream.protocol);
  fields.duration("response_timeout", upstream.response_timeout, Duration{1});
  fields.duration("read_timeout", upstream.read_timeout, Duration{1});
  fields.duration("send_timeout", upstream.send_timeout, Duration{1});
  fields.count("reset_budget", upstream.reset_budget, 0);
  fields.duration("reset_window", upstream.reset_window, Duration{1});
  const Entry* tls = fields.get("tls");
  if (tls != nullptr && upstream.protocol == Upstream::Protocol::H2c) {
    fields.fail(*tls, "tls", "h2c is cleartext; use protocol: h2 for HTTP/2 over TLS");
  } else if (tls != nullptr) {
    parseUpstreamTls(*tls, fields.path("tls"), upstream);
  } else if (upstream.protocol == Upstream::Protocol::H2) {
    upstream.tls.emplace();  // h2 is TLS (ALPN h2): the defaults verify against the system CAs
  }
}

void Loader::parseUpstreamTls(const Entry& entry, const std::string& path, Upstream& upstream) {
  const Fields fields(entry.value, path, {"server_name", "ca", "certificate", "key", "verify"}, errors_);
  UpstreamTls& tls = upstream.tls.emplace();
  if (!fields.valid()) return;
  fields.string("server_name", tls.server_name);
  // Checked here, not only when OpenSSL loads them, so that a missing file is reported at its key's line.
  for (const auto& [key, out] :
       {std::pair{"ca", &tls.ca}, std::pair{"certificate", &tls.certificate}, std::pair{"key", &tls.key}}) {
    if (!fields.string(key, *out)) continue;
    if (auto why = regularFileError(*out)) fields.fail(*fields.get(key), key, "cannot load " + *out + ": " + *why);
  }
  if (tls.certificate.empty() != tls.key.empty()) {
    const char* given = tls.key.empty() ? "certificate" : "key";
    if (const Entry* e = fields.get(given)) {
      fields.fail(*e, given, "a client certificate needs both `certificate` and `key`");
    }
  }
  fields.boolean("verify", tls.verify);
}

void Loader::parseEndpoint(const Node& node, const std::string& path, Upstream& upstream) {
  if (!node.IsScalar()) return errors_.add(node.Mark(), path, "expected \"host:port\", got " + kindOf(node));
  Endpoint endpoint;
  endpoint.text = node.Scalar();
  for (const Endpoint& other : upstream.endpoints) {
    if (other.text == endpoint.text) {
      return errors_.add(node.Mark(), path, "duplicate endpoint '" + endpoint.text + "'");
    }
  }
  bool bracketed = false;
  auto error = splitEndpoint(endpoint.text, endpoint, bracketed);
  if (!error) error = resolve(endpoint, bracketed || !options_.resolve_host_names);
  if (error) return errors_.add(node.Mark(), path, *error);
  upstream.endpoints.push_back(std::move(endpoint));
}

void Loader::parseRoute(const Node& node, const std::string& path) {
  Route& route = config_->routes.emplace_back();
  const Fields fields(
      node, path, {"name", "match", "upstream", "timeout", "deadline_header", "cancellation", "forwarding"}, errors_);
  if (!fields.valid()) return;
  if (fields.string("name", route.name, true)) {
    registerName(route_names_, route.name, *fields.get("name"), fields.path("name"), "route", 0);
  }
  parseMatch(fields, route.match);
  parseUpstreamReference(fields, route);
  fields.duration("timeout", route.timeout);
  if (fields.string("deadline_header", route.deadline_header) && !isToken(route.deadline_header)) {
    fields.fail(*fields.get("deadline_header"), "deadline_header",
                "invalid header name '" + route.deadline_header + "'");
  }
  parseCancellation(fields, route.cancellation);
  parseForwarding(fields, route.forwarding);
}

void Loader::parseMatch(const Fields& route, RouteMatch& match) {
  const Entry* entry = route.require("match");
  if (entry == nullptr) return;
  const Fields fields(entry->value, route.path("match"), {"host", "path_prefix", "path", "methods"}, errors_);
  if (!fields.valid()) return;
  if (fields.string("host", match.host)) {
    if (const auto error = hostPatternError(match.host)) fields.fail(*fields.get("host"), "host", *error);
  }
  const bool has_prefix = fields.get("path_prefix") != nullptr;
  const bool has_path = fields.get("path") != nullptr;
  if (has_prefix == has_path) {
    errors_.add(has_path ? fields.get("path")->key.Mark() : entry->mark(), fields.path(),
                "set exactly one of 'path' or 'path_prefix'");
  }
  for (const auto key : {"path_prefix", "path"}) {
    std::string& out = std::string_view(key) == "path" ? match.path : match.path_prefix;
    if (fields.string(key, out) && out.front() != '/') fields.fail(*fields.get(key), key, "must start with '/'");
  }
  fields.methods("methods", match.methods);
}

void Loader::parseUpstreamReference(const Fields& route, Route& out) {
  if (!route.string("upstream", out.upstream, true)) return;
  const auto it = upstream_names_.find(out.upstream);
  if (it != upstream_names_.end()) {
    out.upstream_index = it->second.index;
    return;
  }
  Names names;
  for (const auto& [name, defined] : upstream_names_) names.push_back(name);
  route.fail(*route.get("upstream"), "upstream",
             "unknown upstream '" + out.upstream + "'" + suggestion(out.upstream, names, false));
}

void Loader::parseCancellation(const Fields& route, CancellationPolicy& policy) {
  const Entry* entry = route.get("cancellation");
  if (entry == nullptr) return;
  const Fields fields(entry->value, route.path("cancellation"),
                      {"mode", "methods", "grace", "grace_bytes", "half_close"}, errors_);
  fields.choice("mode", kCancelModes, policy.mode);
  fields.methods("methods", policy.methods);
  fields.duration("grace", policy.grace);
  size_t grace_bytes = 0;
  if (fields.size("grace_bytes", grace_bytes)) policy.grace_bytes = grace_bytes;
  fields.choice("half_close", kHalfClose, policy.half_close);
}

void Loader::parseForwarding(const Fields& route, Forwarding& forwarding) {
  const Entry* entry = route.get("forwarding");
  if (entry == nullptr) return;
  const Fields fields(entry->value, route.path("forwarding"), {"x_forwarded", "request_id"}, errors_);
  fields.boolean("x_forwarded", forwarding.x_forwarded);
  fields.boolean("request_id", forwarding.request_id);
}

void Loader::parseLimits(const Fields& root) {
  const Entry* entry = root.get("limits");
  if (entry == nullptr) return;
  Limits& limits = config_->limits;
  const Fields fields(
      entry->value, "limits",
      {"max_request_header_bytes", "header_read_timeout", "client_idle_timeout", "max_client_connections",
       "max_pipelined_bytes", "request_body_timeout", "send_timeout", "http2"},
      errors_);
  fields.size("max_request_header_bytes", limits.max_request_header_bytes, 1);
  fields.duration("header_read_timeout", limits.header_read_timeout, Duration{1});
  fields.duration("client_idle_timeout", limits.client_idle_timeout, Duration{1});
  fields.count("max_client_connections", limits.max_client_connections, 1);
  fields.size("max_pipelined_bytes", limits.max_pipelined_bytes);
  fields.duration("request_body_timeout", limits.request_body_timeout, Duration{1});
  fields.duration("send_timeout", limits.send_timeout, Duration{1});
  if (const Entry* http2 = fields.get("http2")) {
    const Fields h2(
        http2->value, fields.path("http2"),
        {"max_concurrent_streams", "initial_window_size", "max_header_list_size", "reset_budget", "reset_rate"},
        errors_);
    h2.count("max_concurrent_streams", limits.http2.max_concurrent_streams, 1, 100000);
    // RFC 9113 6.5.2: a window is at most 2^31-1 bytes.
    h2.count("initial_window_size", limits.http2.initial_window_size, 1024, 0x7fffffff);
    h2.size("max_header_list_size", limits.http2.max_header_list_size, 1024);
    h2.count("reset_budget", limits.http2.reset_budget, 1);
    h2.count("reset_rate", limits.http2.reset_rate, 1);
  }
}

void Loader::parseLog(const Fields& root) {
  const Entry* entry = root.get("log");
  if (entry == nullptr) return;
  Log& log = config_->log;
  const Fields fields(entry->value, "log",
                      {"format", "sink", "path", "level", "access_log", "include_query", "queue_lines"}, errors_);
  fields.choice("format", kLogFormats, log.format);
  const bool sink_ok = fields.choice("sink", kLogSinks, log.sink);
  fields.string("path", log.path);
  fields.choice("level", kLogLevels, log.level);
  fields.boolean("access_log", log.access_log);
  fields.boolean("include_query", log.include_query);
  fields.count("queue_lines", log.queue_lines, 1);
  if (sink_ok && log.sink == Log::Sink::File && fields.get("path") == nullptr) {
    fields.fail(*fields.get("sink"), "path", "required when sink is 'file'");
  }
}

void Loader::parseAdmin(const Fields& root) {
  Admin& admin = config_->admin;
  const Entry* entry = root.get("admin");
  const Fields fields(entry != nullptr ? entry->value : Node(), "admin", {"address", "recent_cancellations"}, errors_);
  fields.string("address", admin.address_text);
  fields.count("recent_cancellations", admin.recent_cancellations, 0, 100000);
  const auto address = net::SocketAddress::parse(admin.address_text);
  const Entry* at = fields.get("address");
  if (!address) {
    // Only a written address can be wrong; the built-in default always parses.
    if (at != nullptr) fields.fail(*at, "address", invalidAddressMessage(admin.address_text));
    return;
  }
  admin.address = *address;
  for (const BoundAddress& other : listener_addresses_) {
    if (!(other.address == *address)) continue;
    if (at != nullptr) {
      fields.fail(
          *at, "address",
          "'" + admin.address_text + "' is also used by the listener at line " + std::to_string(lineOf(other.mark)));
    } else {
      errors_.add(other.mark, other.path,
                  "clashes with the default admin address " + admin.address_text + "; set admin.address elsewhere");
    }
  }
}

}  // namespace

LoadResult loadConfigString(std::string_view yaml, const std::string& file_name_for_errors,
                            const LoadOptions& options) {
  return Loader(file_name_for_errors, options).load(yaml);
}

std::optional<std::string> regularFileError(const std::string& path) {
  FileDescriptor fd(-1);
  struct stat st {};
  return openRegularFile(path, fd, st);
}

LoadResult loadConfigFile(const std::string& path, const LoadOptions& options) {
  std::string text;
  if (auto error = readRegularFile(path, kMaxConfigFileBytes, text)) {
    LoadResult result;
    result.errors.push_back({path, 0, 0, "", "cannot read the file: " + *error});
    return result;
  }
  return loadConfigString(text, path, options);
}

}  // namespace tether::config
