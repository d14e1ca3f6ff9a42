#include "soak/soak_clients.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>

#include "soak/soak_h2.h"
#include "support/h2_client.h"
#include "support/raw_client.h"

namespace tether::soak {

using namespace std::chrono_literals;

namespace {

// Generous: a busy 2-core machine runs two tethers, the upstream and the clients; none of these is ever reached
// by a tether that works.
constexpr auto kRequestTimeout = 60s;
constexpr auto kArrivalTimeout = 60s;
constexpr auto kCloseTimeout = 60s;
constexpr size_t kMaxSamples = 20;

}  // namespace

const char* name(Proto p) {
  static const char* const kNames[] = {"http1", "h2c", "h2_tls"};
  return kNames[size_t(p)];
}
const char* name(Kind k) {
  static const char* const kNames[] = {"get", "post", "mid_head", "mid_body", "waiting", "mid_response"};
  return kNames[size_t(k)];
}
const char* name(How h) {
  static const char* const kNames[] = {"complete", "fin", "rst", "rst_stream"};
  return kNames[size_t(h)];
}

void Tally::fail(const std::string& what) {
  ++failures;
  if (failure_samples.size() < kMaxSamples) failure_samples.push_back(what);
}

void Tally::add(const Tally& other) {
  for (size_t p = 0; p < ops.size(); ++p) {
    for (size_t k = 0; k < ops[p].size(); ++k) {
      for (size_t h = 0; h < ops[p][k].size(); ++h) {
        ops[p][k][h] += other.ops[p][k][h];
        micros[p][k][h] += other.micros[p][k][h];
      }
    }
  }
  failures += other.failures;
  for (const auto& s : other.failure_samples) {
    if (failure_samples.size() < kMaxSamples) failure_samples.push_back(s);
  }
  cancel_ids.insert(cancel_ids.end(), other.cancel_ids.begin(), other.cancel_ids.end());
  cancel_ops.insert(cancel_ops.end(), other.cancel_ops.begin(), other.cancel_ops.end());
  completed += other.completed;
  immediate_leaves += other.immediate_leaves;
  body_bytes += other.body_bytes;
}

namespace {

// One operation: what to do, and the request id and size it uses.
struct Op {
  Kind kind = Kind::kGet;
  How how = How::kComplete;
  std::string id;
  uint64_t size = 0;
  // Mid-body or waiting, left by FIN or RST: leave right after the last bytes, without waiting until the upstream
  // saw the request, so the departure often arrives in the same read as the request (issue 11 item 1).
  bool immediate = false;

  std::string path() const {
    static const char* const kActions[] = {"get", "post", "get", "part", "wait", "stall"};
    return "/s/" + id + "/" + kActions[size_t(kind)] + "/" + std::to_string(size);
  }
  // "<request id> <reason>": the request_cancelled line this abort must produce.
  std::string cancellation() const {
    return id + (how == How::kFin ? " client_closed" : how == How::kRst ? " client_reset" : " stream_reset");
  }
  std::string describe() const {
    return std::string(name(kind)) + "/" + name(how) + (immediate ? "/immediate " : " ") + path();
  }
};

// Sizes spread over three scales (a third each up to 4 KiB, 64 KiB, 256 KiB), so small requests, which make up
// most real traffic, are common while every size up to 256 KiB occurs.
uint64_t pickSize(std::mt19937_64& rng) {
  static constexpr uint64_t kScales[] = {4096, 65536, 262144};
  return rng() % (kScales[rng() % 3] + 1);
}

// 70% complete (GET and POST alike), 30% aborts spread over the four points; the way of leaving is even among
// those the protocol has (RST_STREAM only on HTTP/2, and not mid-head: there is no stream yet).
Op pickOp(std::mt19937_64& rng, Proto proto, unsigned thread_index, uint64_t n) {
  Op op;
  const uint64_t r = rng() % 100;
  op.kind = r < 35 ? Kind::kGet : r < 70 ? Kind::kPost : static_cast<Kind>(size_t(Kind::kMidHead) + (r - 70) % 4);
  if (isAbort(op.kind)) {
    const bool stream_reset = proto != Proto::kH1 && op.kind != Kind::kMidHead;
    op.how = static_cast<How>(1 + rng() % (stream_reset ? 3 : 2));
  }
  op.size = pickSize(rng);
  if (op.kind == Kind::kMidBody) op.size = std::max<uint64_t>(op.size, 2);
  if (op.kind == Kind::kMidResponse) op.size = std::max<uint64_t>(op.size, kStallPiece + 1);
  op.immediate = (op.kind == Kind::kMidBody || op.kind == Kind::kWaiting) && op.how != How::kRstStream && rng() % 2;
  char id[40];
  std::snprintf(id, sizeof id, "%08x%08x%016" PRIx64, 0x50a4u, thread_index, n);
  op.id = id;
  return op;
}

bool bodyIsReference(const std::string& body, uint64_t size) {
  return body.size() == size && std::memcmp(body.data(), reference().data(), body.size()) == 0;
}

// HTTP/1.1: one keep-alive connection reused until an abort (or a `Connection: close`) ends it.
class H1Client {
 public:
  H1Client(uint16_t port, Arrivals& arrivals, Tally& tally) : port_(port), arrivals_(arrivals), tally_(tally) {}
  void run(const Op& op);

 private:
  std::string head(const Op& op, const std::string& method, uint64_t length) const {
    std::string out = method + " " + op.path() + " HTTP/1.1\r\nHost: soak\r\nX-Request-Id: " + op.id + "\r\n";
    if (method == "POST") out += "Content-Length: " + std::to_string(length) + "\r\n";
    return out + "\r\n";
  }
  void complete(const Op& op);
  void abort(const Op& op);
  bool readSomeBody();
  void leave(const Op& op);

  uint16_t port_;
  Arrivals& arrivals_;
  Tally& tally_;
  testing::RawClient client_;
};

void H1Client::run(const Op& op) {
  if (!client_.isOpen() && !client_.connect(port_, 10s)) return tally_.fail("connect failed: " + op.describe());
  isAbort(op.kind) ? abort(op) : complete(op);
}

void H1Client::complete(const Op& op) {
  const bool post = op.kind == Kind::kPost;
  const std::string_view body(reference().data(), post ? op.size : 0);
  if (!client_.send(head(op, post ? "POST" : "GET", op.size), kRequestTimeout) ||
      !client_.send(body, kRequestTimeout)) {
    client_.close();
    return tally_.fail("send failed: " + op.describe());
  }
  const auto response = client_.readResponse(kRequestTimeout);
  const bool ok = response && response->status == 200 && bodyIsReference(response->body, op.size) &&
                  (!post || (response->header("X-Body-Ok") == "yes" &&
                             response->header("X-Body-Bytes") == std::to_string(op.size)));
  if (!response || testing::headerHasToken(response->headers, "Connection", "close")) client_.close();
  if (!ok) {
    client_.close();
    return tally_.fail(std::string(response ? "bad response " + std::to_string(response->status) : "no response") +
                       ": " + op.describe());
  }
  ++tally_.completed;
  tally_.body_bytes += op.size * (post ? 2 : 1);
}

void H1Client::abort(const Op& op) {
  bool ok = true;
  if (op.kind == Kind::kMidHead) {
    const std::string bytes = head(op, "GET", 0);
    ok = client_.send(std::string_view(bytes).substr(0, 1 + op.size % (bytes.size() - 2)), kRequestTimeout);
  } else if (op.kind == Kind::kMidBody) {
    ok = client_.send(head(op, "POST", op.size), kRequestTimeout) &&
         client_.send(std::string_view(reference().data(), op.size / 2), kRequestTimeout) &&
         (op.immediate || arrivals_.waitFor(op.id, kArrivalTimeout));
  } else if (op.kind == Kind::kWaiting) {
    ok = client_.send(head(op, "GET", 0), kRequestTimeout) &&
         (op.immediate || arrivals_.waitFor(op.id, kArrivalTimeout));
  } else {
    ok = client_.send(head(op, "GET", 0), kRequestTimeout) && readSomeBody();
  }
  if (!ok) tally_.fail("abort set-up failed: " + op.describe());
  if (ok && cancels(op.kind)) tally_.expectCancel(op.cancellation(), op.describe());
  leave(op);
}

// The response head and at least one body byte.
bool H1Client::readSomeBody() {
  std::string seen;
  const auto deadline = testing::deadlineAfter(kRequestTimeout);
  for (int reads = 0; reads < 1000 && testing::Clock::now() < deadline; ++reads) {
    const size_t end = seen.find("\r\n\r\n");
    if (end != std::string::npos && seen.size() > end + 4) return seen.compare(0, 12, "HTTP/1.1 200") == 0;
    const std::string more =
        client_.recvSome(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - testing::Clock::now()));
    if (more.empty()) return false;
    seen += more;
  }
  return false;
}

void H1Client::leave(const Op& op) {
  if (op.how == How::kRst) return client_.closeWithRst();
  client_.shutdownWrite();
  if (!client_.waitClosed(kCloseTimeout)) tally_.fail("tether kept the connection after a FIN: " + op.describe());
  client_.close();
}

// HTTP/2 (h2c or TLS): one connection shared by successive operations until a connection-level abort ends it. A
// RST_STREAM abort runs beside a complete GET on the same connection, which must be unaffected.
class H2ClientRun {
 public:
  H2ClientRun(uint16_t port, bool tls, Arrivals& arrivals, Tally& tally)
      : port_(port), tls_(tls), arrivals_(arrivals), tally_(tally) {}
  void run(const Op& op, const Op& companion);

 private:
  bool complete(const Op& op, int32_t stream_id);
  bool startAbort(const Op& op, int32_t& stream_id);
  void midHead(const Op& op);
  void leave(const Op& op);

  uint16_t port_;
  bool tls_;
  Arrivals& arrivals_;
  Tally& tally_;
  std::unique_ptr<H2Session> session_;
};

void H2ClientRun::run(const Op& op, const Op& companion) {
  if (!session_) {
    session_ = std::make_unique<H2Session>();
    if (!session_->connect(port_, tls_)) {
      session_.reset();
      return tally_.fail("connect failed: " + op.describe());
    }
  }
  if (!isAbort(op.kind)) {
    const bool post = op.kind == Kind::kPost;
    const int32_t id = session_->submit(post ? "POST" : "GET", op.path(), op.id, post ? op.size : 0, UINT64_MAX);
    if (!complete(op, id)) session_.reset();
    return;
  }
  if (op.kind == Kind::kMidHead) return midHead(op);
  int32_t stream_id = -1;
  const bool ok = startAbort(op, stream_id);
  if (!ok) tally_.fail("abort set-up failed: " + op.describe());
  if (ok) tally_.expectCancel(op.cancellation(), op.describe());
  if (op.how != How::kRstStream || !ok) return leave(op);
  // RST_STREAM on a shared connection: the stream ends, the connection and its other stream go on.
  session_->reset(stream_id);
  const int32_t other = session_->submit("GET", companion.path(), companion.id, 0, 0);
  if (!complete(companion, other)) return session_.reset();
  if (!session_->runUntil([&] { return session_->stream(stream_id).closed; }, kRequestTimeout)) {
    tally_.fail("reset stream did not close: " + op.describe());
    return session_.reset();
  }
  session_->forget(stream_id);
}

bool H2ClientRun::complete(const Op& op, int32_t stream_id) {
  if (stream_id < 0) return tally_.fail("submit failed: " + op.describe()), false;
  const bool done = session_->runUntil([&] { return session_->stream(stream_id).closed; }, kRequestTimeout);
  const H2Session::Stream s = session_->stream(stream_id);
  session_->forget(stream_id);
  const bool post = op.kind == Kind::kPost;
  const bool ok = done && s.error_code == 0 && s.status == 200 && !s.mismatch && s.received == op.size &&
                  (!post || (s.body_ok == "yes" && s.body_bytes == std::to_string(op.size)));
  if (!ok) {
    return tally_.fail((done ? "bad response " + std::to_string(s.status) : std::string("no response")) + ": " +
                       op.describe()),
           false;
  }
  ++tally_.completed;
  tally_.body_bytes += op.size * (post ? 2 : 1);
  return true;
}

// Sends the request up to the abort point and waits until tether holds its exchange: the upstream saw the head
// (mid-body, waiting) or the client saw response bytes (mid-response).
bool H2ClientRun::startAbort(const Op& op, int32_t& stream_id) {
  H2Session& s = *session_;
  if (op.kind == Kind::kMidBody) {
    stream_id = s.submit("POST", op.path(), op.id, op.size, op.size / 2);
    return stream_id > 0 &&
           s.runUntil([&] { return s.stream(stream_id).provided == op.size / 2 && s.flushed(); }, kRequestTimeout) &&
           (op.immediate || arrivals_.waitFor(op.id, kArrivalTimeout));
  }
  stream_id = s.submit("GET", op.path(), op.id, 0, 0);
  if (stream_id < 0) return false;
  if (op.kind == Kind::kWaiting) {
    return s.runUntil([&] { return s.flushed(); }, kRequestTimeout) &&
           (op.immediate || arrivals_.waitFor(op.id, kArrivalTimeout));
  }
  return s.runUntil([&] { return s.stream(stream_id).status == 200 && s.stream(stream_id).received > 0; },
                    kRequestTimeout);
}

// Part of a HEADERS frame for the next stream, then away: no stream exists, so nothing is cancelled.
void H2ClientRun::midHead(const Op& op) {
  const testing::HeaderList fields{
      {":method", "GET"}, {":scheme", "http"}, {":path", op.path()}, {":authority", "soak"}, {"x-request-id", op.id}};
  const std::string frame = testing::h2frames::headers(session_->nextStreamId(), fields, true);
  if (!session_->conn().send(std::string_view(frame).substr(0, 1 + op.size % (frame.size() - 1)),
                             testing::deadlineAfter(kRequestTimeout))) {
    tally_.fail("send failed: " + op.describe());
  }
  leave(op);
}

void H2ClientRun::leave(const Op& op) {
  const Leave how = op.how == How::kFin ? Leave::kFin : Leave::kRst;
  if (!session_->conn().leave(how, kCloseTimeout)) {
    tally_.fail("tether kept the connection after a FIN: " + op.describe());
  }
  session_.reset();
}

}  // namespace

Tally runClient(const ClientPlan& plan, Arrivals& arrivals, std::atomic<uint64_t>& progress) {
  Tally tally;
  std::mt19937_64 rng(plan.seed * 1000003 + plan.thread_index);
  H1Client h1(plan.port, arrivals, tally);
  H2ClientRun h2(plan.port, plan.proto == Proto::kH2Tls, arrivals, tally);
  uint64_t n = 0;
  for (uint64_t done = 0; done < plan.operations; ++done) {
    if (std::chrono::steady_clock::now() >= plan.deadline) {
      tally.fail(std::to_string(plan.operations - done) + " operations not run: time limit");
      break;
    }
    const Op op = pickOp(rng, plan.proto, plan.thread_index, n++);
    tally.ops[size_t(plan.proto)][size_t(op.kind)][size_t(op.how)]++;
    tally.immediate_leaves += op.immediate ? 1 : 0;
    const auto started = std::chrono::steady_clock::now();
    if (plan.proto == Proto::kH1) {
      h1.run(op);
    } else {
      Op companion = pickOp(rng, plan.proto, plan.thread_index, n++);
      companion.kind = Kind::kGet;
      companion.how = How::kComplete;
      if (op.how == How::kRstStream) tally.ops[size_t(plan.proto)][size_t(Kind::kGet)][size_t(How::kComplete)]++;
      h2.run(op, companion);
    }
    tally.micros[size_t(plan.proto)][size_t(op.kind)][size_t(op.how)] += uint64_t(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count());
    progress.fetch_add(1, std::memory_order_relaxed);
  }
  return tally;
}

}  // namespace tether::soak
