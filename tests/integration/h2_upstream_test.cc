// HTTP/2 cleartext upstreams (`protocol: h2c`) on the real binary, against a small nghttp2 server in this file:
// GET and POST bodies arrive byte-exact for HTTP/1.1 and h2c clients, sequential requests reuse one upstream
// connection, concurrent ones multiplex on it, and a client that leaves while the upstream holds its response
// resets only that stream (RST_STREAM CANCEL): the connection serves the next request.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/any_client.h"
#include "support/tether_fixture.h"

namespace tether::testing {
namespace {

using namespace std::chrono_literals;

// An h2c (prior knowledge) server on a loopback port, one thread, poll(2). Paths:
//   /echo      answers 200 with the request body
//   /hold...   never answers (until the stream is reset)
//   /gather/N  answers once N /gather requests are open at once (they must be multiplexed or concurrent)
//   /big/N     answers N bytes of "abc...z" repeated
//   /fields    answers the request's fields, one "name: value" a line
//   /reset     RST_STREAM(INTERNAL_ERROR) instead of an answer
//   /goaway    on the first connection: GOAWAY with the stream before it as the last one processed (this request
//              was refused unprocessed); on later connections answered as any other path
//   anything else: 200 with "hello <path>"
class H2TestUpstream {
 public:
  struct Reset {
    int connection;
    int32_t stream_id;
    uint32_t error_code;
  };

  // `max_streams`: the SETTINGS_MAX_CONCURRENT_STREAMS it announces (0: none, unlimited).
  explicit H2TestUpstream(uint32_t max_streams = 0) : max_streams_(max_streams) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listen_fd_, 64);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (pipe(wake_) != 0) wake_[0] = wake_[1] = -1;
    thread_ = std::thread([this] { run(); });
  }

  ~H2TestUpstream() {
    const char c = 0;
    if (write(wake_[1], &c, 1) < 0) {
    }
    thread_.join();
    for (auto& connection : connections_) close(connection->fd);
    close(listen_fd_);
    close(wake_[0]);
    close(wake_[1]);
  }

  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

  int acceptedConnections() {
    std::lock_guard lock(mutex_);
    return accepted_;
  }
  std::vector<Reset> resets() {
    std::lock_guard lock(mutex_);
    return resets_;
  }
  // Waits until `done()` holds (under the lock); false after `timeout`.
  template <class Pred>
  bool waitFor(Pred done, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return done(); });
  }
  bool waitHeld(int n) {
    return waitFor([&] { return held_ >= n; });
  }
  // Waits until tether has closed `n` connections, having sent at least `pings` PINGs.
  bool waitClosedAfterPings(int n, int pings) {
    return waitFor([&] { return closed_ >= n && pings_ >= pings; });
  }
  bool waitReset() {
    return waitFor([&] { return !resets_.empty(); });
  }
  // Connections that carried a request, by index: how many requests each.
  std::map<int, int> requestsPerConnection() {
    std::lock_guard lock(mutex_);
    return requests_per_connection_;
  }

 private:
  struct Stream {
    std::string method;
    std::string path;
    std::string request_body;
    std::string fields;  // "name: value\n" of every request field, pseudo-headers included
    std::string response_body;
    size_t sent = 0;
  };
  struct Connection {
    H2TestUpstream* server;
    int index;
    int fd;
    nghttp2_session* session = nullptr;
    std::map<int32_t, Stream> streams;
    std::vector<int32_t> gathered;
    ~Connection() { nghttp2_session_del(session); }
  };

  void run() {
    while (true) {
      std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      for (auto& connection : connections_) fds.push_back({connection->fd, POLLIN, 0});
      if (poll(fds.data(), fds.size(), 1000) < 0) continue;
      if (fds[0].revents) return;
      if (fds[1].revents & POLLIN) accept();
      for (size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents) serve(*connections_[i - 2]);
      }
      std::erase_if(connections_, [](const std::unique_ptr<Connection>& c) {
        if (c->session != nullptr) return false;
        close(c->fd);
        return true;
      });
    }
  }

  void accept() {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    auto connection = std::make_unique<Connection>();
    connection->server = this;
    connection->fd = fd;
    {
      std::lock_guard lock(mutex_);
      connection->index = accepted_++;
    }
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &H2TestUpstream::onBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &H2TestUpstream::onHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &H2TestUpstream::onData);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &H2TestUpstream::onFrame);
    nghttp2_session_server_new(&connection->session, cbs, connection.get());
    nghttp2_session_callbacks_del(cbs);
    const nghttp2_settings_entry limit{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_streams_};
    nghttp2_submit_settings(connection->session, NGHTTP2_FLAG_NONE, &limit, max_streams_ > 0 ? 1 : 0);
    flush(*connection);
    changed_.notify_all();
    connections_.push_back(std::move(connection));
  }

  void serve(Connection& c) {
    char buf[16384];
    const ssize_t n = read(c.fd, buf, sizeof(buf));
    if (n <= 0 || nghttp2_session_mem_recv(c.session, reinterpret_cast<uint8_t*>(buf), static_cast<size_t>(n)) < 0) {
      nghttp2_session_del(c.session);
      c.session = nullptr;
      std::lock_guard lock(mutex_);
      ++closed_;
      changed_.notify_all();
      return;
    }
    flush(c);
  }

  static void flush(Connection& c) {
    while (true) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(c.session, &data);
      if (n <= 0) return;
      for (ssize_t off = 0; off < n;) {
        const ssize_t w = write(c.fd, data + off, static_cast<size_t>(n - off));
        if (w <= 0) return;
        off += w;
      }
    }
  }

  static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto& c = *static_cast<Connection*>(user);
    if (frame->hd.type == NGHTTP2_HEADERS) c.streams[frame->hd.stream_id];
    return 0;
  }

  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto& stream = static_cast<Connection*>(user)->streams[frame->hd.stream_id];
    const std::string n(reinterpret_cast<const char*>(name), namelen);
    const std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":method") stream.method = v;
    if (n == ":path") stream.path = v;
    stream.fields += n + ": " + v + "\n";
    return 0;
  }

  static int onData(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len, void* user) {
    static_cast<Connection*>(user)->streams[stream_id].request_body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }

  static int onFrame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto& c = *static_cast<Connection*>(user);
    H2TestUpstream& server = *c.server;
    if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
      std::lock_guard lock(server.mutex_);
      ++server.pings_;
      server.changed_.notify_all();
      return 0;
    }
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
      std::lock_guard lock(server.mutex_);
      server.resets_.push_back({c.index, frame->hd.stream_id, frame->rst_stream.error_code});
      server.changed_.notify_all();
      return 0;
    }
    const bool request_end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 &&
                             (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA);
    if (request_end) server.onRequest(c, frame->hd.stream_id);
    return 0;
  }

  void onRequest(Connection& c, int32_t id) {
    Stream& stream = c.streams[id];
    {
      std::lock_guard lock(mutex_);
      ++requests_per_connection_[c.index];
      if (stream.path.starts_with("/hold")) ++held_;
      changed_.notify_all();
    }
    if (stream.path.starts_with("/hold")) return;
    if (stream.path == "/reset") {
      nghttp2_submit_rst_stream(c.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
      return;
    }
    if (stream.path == "/goaway" && c.index == 0) {
      nghttp2_submit_goaway(c.session, NGHTTP2_FLAG_NONE, id - 2, NGHTTP2_NO_ERROR, nullptr, 0);
      return;
    }
    if (stream.path.starts_with("/gather/")) {
      c.gathered.push_back(id);
      if (c.gathered.size() < std::stoul(stream.path.substr(8))) return;
      for (int32_t gathered : c.gathered) respond(c, gathered, "gathered");
      c.gathered.clear();
      return;
    }
    if (stream.path.starts_with("/big/")) {
      std::string body(std::stoul(stream.path.substr(5)), '\0');
      for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
      respond(c, id, std::move(body));
      return;
    }
    if (stream.path == "/fields") {
      respond(c, id, stream.fields);
      return;
    }
    respond(c, id, stream.path == "/echo" ? stream.request_body : "hello " + stream.path);
  }

  static void respond(Connection& c, int32_t id, std::string body) {
    Stream& stream = c.streams[id];
    stream.response_body = std::move(body);
    const std::string length = std::to_string(stream.response_body.size());
    const nghttp2_nv nv[] = {
        {const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(":status")),
         const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>("200")), 7, 3, NGHTTP2_NV_FLAG_NONE},
        {const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>("content-length")),
         reinterpret_cast<uint8_t*>(const_cast<char*>(length.data())), 14, length.size(), NGHTTP2_NV_FLAG_NONE},
    };
    nghttp2_data_provider provider{};
    provider.read_callback = [](nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t len, uint32_t* flags,
                                nghttp2_data_source*, void* user) -> ssize_t {
      Stream& s = static_cast<Connection*>(user)->streams[stream_id];
      const size_t n = std::min(len, s.response_body.size() - s.sent);
      std::copy_n(s.response_body.data() + s.sent, n, buf);
      s.sent += n;
      if (s.sent == s.response_body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    };
    nghttp2_submit_response(c.session, id, nv, 2, &provider);
  }

  uint32_t max_streams_ = 0;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::thread thread_;
  std::vector<std::unique_ptr<Connection>> connections_;  // the server thread's
  std::mutex mutex_;
  std::condition_variable changed_;
  int accepted_ = 0;
  int held_ = 0;
  int pings_ = 0;   // PINGs received (not ACKs)
  int closed_ = 0;  // connections tether closed
  std::vector<Reset> resets_;
  std::map<int, int> requests_per_connection_;
};

TetherOptions h2cTo(const H2TestUpstream& upstream) {
  return TetherOptions::proxyTo({upstream.endpoint()}, {{"protocol", "h2c"}, {"connect_timeout", "5s"}});
}

class H2UpstreamTest : public ::testing::TestWithParam<ClientProtocol> {};

TEST_P(H2UpstreamTest, GetAndPostBodiesArriveByteExactOnOneConnection) {
  H2TestUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  AnyClient client(GetParam());
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/a/b?c=d"));
  auto get = client.readResponse();
  ASSERT_TRUE(get) << tether.dumpLog();
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "hello /a/b?c=d");

  std::string body;
  for (int i = 0; body.size() < 300 * 1024; ++i) body += "line " + std::to_string(i) + "\n";
  ASSERT_TRUE(client.request("POST", "/echo", {}, body));
  auto post = client.readResponse();
  ASSERT_TRUE(post) << tether.dumpLog();
  EXPECT_EQ(post->status, 200);
  EXPECT_EQ(post->body.size(), body.size());
  EXPECT_TRUE(post->body == body);

  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.request("GET", "/again"));
    auto again = client.readResponse();
    ASSERT_TRUE(again);
    EXPECT_EQ(again->body, "hello /again");
  }
  EXPECT_EQ(upstream.acceptedConnections(), 1);  // five sequential requests, one upstream connection
}

TEST_P(H2UpstreamTest, LargeResponseFlowsThroughTheWindows) {
  H2TestUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  AnyClient client(GetParam());
  ASSERT_TRUE(client.connect(tether.port()));
  constexpr size_t kSize = 3 * 1024 * 1024;  // well beyond the 64 KiB stream and 1 MiB connection windows
  ASSERT_TRUE(client.request("GET", "/big/" + std::to_string(kSize)));
  auto response = client.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body_bytes, kSize);
  bool pattern = true;
  for (size_t i = 0; i < response->body.size() && pattern; ++i)
    pattern = response->body[i] == static_cast<char>('a' + i % 26);
  EXPECT_TRUE(pattern);
  ASSERT_TRUE(client.request("GET", "/after"));  // the connection's window was given back: it still serves
  auto after = client.readResponse();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->body, "hello /after");
  EXPECT_EQ(upstream.acceptedConnections(), 1);
}

TEST_P(H2UpstreamTest, ConcurrentRequestsMultiplexOnOneConnection) {
  H2TestUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  constexpr int kRequests = 4;
  std::vector<std::unique_ptr<AnyClient>> clients;
  for (int i = 0; i < kRequests; ++i) {
    clients.push_back(std::make_unique<AnyClient>(GetParam()));
    ASSERT_TRUE(clients.back()->connect(tether.port()));
    ASSERT_TRUE(clients.back()->request("GET", "/gather/" + std::to_string(kRequests)));
  }
  // The upstream answers only once all four are open at once on one connection.
  for (auto& client : clients) {
    auto response = client->readResponse();
    ASSERT_TRUE(response) << tether.dumpLog();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "gathered");
  }
  EXPECT_EQ(upstream.acceptedConnections(), 1);
}

TEST_P(H2UpstreamTest, ClientLeavingResetsOnlyItsStream) {
  H2TestUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  {
    AnyClient leaving(GetParam());
    ASSERT_TRUE(leaving.connect(tether.port()));
    ASSERT_TRUE(leaving.request("GET", "/hold"));
    ASSERT_TRUE(upstream.waitHeld(1));
    leaving.leave(Leave::kRst);
  }
  ASSERT_TRUE(upstream.waitReset()) << tether.dumpLog();
  const auto resets = upstream.resets();
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(resets[0].error_code, static_cast<uint32_t>(NGHTTP2_CANCEL));
  EXPECT_EQ(resets[0].connection, 0);
  const auto cancelled = tether.waitForLogEvents("request_cancelled", "", 1, 20s);
  ASSERT_EQ(cancelled.size(), 1u) << tether.dumpLog();
  // The line says what went upstream: the stream's RST_STREAM code, on an h2c connection.
  EXPECT_EQ(cancelled[0].str("upstream_protocol"), "h2c");
  EXPECT_EQ(cancelled[0].str("upstream_reset"), "CANCEL");

  AnyClient next(GetParam());
  ASSERT_TRUE(next.connect(tether.port()));
  ASSERT_TRUE(next.request("GET", "/after"));
  auto response = next.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->body, "hello /after");
  EXPECT_EQ(upstream.acceptedConnections(), 1);  // the connection outlived the cancelled stream
  EXPECT_EQ(tether.logEvents("request_cancelled").size(), 1u);
}

TEST_P(H2UpstreamTest, StreamResetByTheUpstreamGets502AndTheConnectionGoesOn) {
  H2TestUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  AnyClient client(GetParam());
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/reset"));
  auto reset = client.readResponse();
  ASSERT_TRUE(reset) << tether.dumpLog();
  EXPECT_EQ(reset->status, 502);
  ASSERT_TRUE(client.request("GET", "/after"));
  auto after = client.readResponse();
  ASSERT_TRUE(after) << tether.dumpLog();
  EXPECT_EQ(after->body, "hello /after");
  EXPECT_EQ(upstream.acceptedConnections(), 1);
}

TEST_P(H2UpstreamTest, ServerStreamLimitOpensAnotherConnection) {
  H2TestUpstream upstream(2);  // SETTINGS_MAX_CONCURRENT_STREAMS 2
  TetherInstance tether(h2cTo(upstream));
  std::vector<std::unique_ptr<AnyClient>> clients;
  for (int i = 1; i <= 3; ++i) {
    clients.push_back(std::make_unique<AnyClient>(GetParam()));
    ASSERT_TRUE(clients.back()->connect(tether.port()));
    ASSERT_TRUE(clients.back()->request("GET", "/hold"));
    ASSERT_TRUE(upstream.waitHeld(i)) << tether.dumpLog();
  }
  EXPECT_EQ(upstream.acceptedConnections(), 2);  // two streams on the first, the third on a second one
  for (auto& client : clients) client->leave(Leave::kRst);
  ASSERT_EQ(tether.waitForLogEvents("request_cancelled", "", 3, 20s).size(), 3u) << tether.dumpLog();
}

TEST(H2UpstreamConfigTest, ClientStreamResetCancelsTheUpstreamStream) {
  H2TestUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  AnyClient client(ClientProtocol::kH2c);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/hold"));
  ASSERT_TRUE(upstream.waitHeld(1));
  client.leave(Leave::kStreamReset);
  ASSERT_TRUE(upstream.waitReset()) << tether.dumpLog();
  EXPECT_EQ(upstream.resets()[0].error_code, static_cast<uint32_t>(NGHTTP2_CANCEL));
  ASSERT_TRUE(client.request("GET", "/after"));  // both connections live on
  auto after = client.readResponse();
  ASSERT_TRUE(after) << tether.dumpLog();
  EXPECT_EQ(after->body, "hello /after");
  EXPECT_EQ(upstream.acceptedConnections(), 1);
}

TEST_P(H2UpstreamTest, RequestRefusedByGoawayIsRetriedOnANewConnection) {
  H2TestUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  AnyClient client(GetParam());
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/first"));
  ASSERT_TRUE(client.readResponse());
  ASSERT_TRUE(client.request("GET", "/goaway"));  // stream 3: GOAWAY says only stream 1 was processed
  auto response = client.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello /goaway");
  EXPECT_EQ(upstream.acceptedConnections(), 2);
  EXPECT_EQ(upstream.requestsPerConnection()[1], 1);
  EXPECT_TRUE(tether.logEvents("request_cancelled").empty());
}

TEST(H2UpstreamConfigTest, ConnectionSpecificFieldsAreDropped) {
  H2TestUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  AnyClient client(ClientProtocol::kH1);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/fields",
                             {{"Connection", "keep-alive, X-Hop"},
                              {"Keep-Alive", "timeout=5"},
                              {"X-Hop", "1"},
                              {"Proxy-Connection", "keep-alive"},
                              {"TE", "trailers"},
                              {"X-Kept", "Yes"},
                              // Lowercased eight bytes at a time, then the tail: capitals in both parts.
                              {"X-Long-Mixed-CASE-Name-42Z", "Value-Kept-AS-IS"}}));
  auto response = client.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  ASSERT_EQ(response->status, 200);
  const std::string& fields = response->body;
  EXPECT_NE(fields.find(":method: GET\n"), std::string::npos) << fields;
  EXPECT_NE(fields.find(":scheme: http\n"), std::string::npos) << fields;
  EXPECT_NE(fields.find(":authority: test\n"), std::string::npos) << fields;
  EXPECT_NE(fields.find(":path: /fields\n"), std::string::npos) << fields;
  EXPECT_NE(fields.find("x-kept: Yes\n"), std::string::npos) << fields;
  EXPECT_NE(fields.find("x-long-mixed-case-name-42z: Value-Kept-AS-IS\n"), std::string::npos) << fields;
  for (const char* dropped : {"connection:", "keep-alive:", "x-hop:", "proxy-connection:", "\nhost:"}) {
    EXPECT_EQ(fields.find(dropped), std::string::npos) << dropped << " in\n" << fields;
  }
}

TEST(H2UpstreamConfigTest, IdleConnectionIsPingedThenClosedAtTheKeepaliveTimeout) {
  H2TestUpstream upstream;
  TetherInstance tether(
      TetherOptions::proxyTo({upstream.endpoint()}, {{"protocol", "h2c"}, {"keepalive_idle_timeout", "300ms"}}));
  AnyClient client(ClientProtocol::kH1);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/one"));
  ASSERT_TRUE(client.readResponse());
  // Idle: a PING after half the timeout (the server answers it), the close at the timeout.
  ASSERT_TRUE(upstream.waitClosedAfterPings(1, 1)) << tether.dumpLog();
  ASSERT_TRUE(client.request("GET", "/two"));  // a new connection serves the next request
  auto two = client.readResponse();
  ASSERT_TRUE(two) << tether.dumpLog();
  EXPECT_EQ(two->body, "hello /two");
  EXPECT_EQ(upstream.acceptedConnections(), 2);
}

TEST(H2UpstreamConfigTest, UpgradeRequestGets502) {
  H2TestUpstream upstream;
  TetherInstance tether(h2cTo(upstream));
  AnyClient client(ClientProtocol::kH1);
  ASSERT_TRUE(client.connect(tether.port()));
  ASSERT_TRUE(client.request("GET", "/ws", {{"Connection", "Upgrade"}, {"Upgrade", "websocket"}}));
  auto response = client.readResponse();
  ASSERT_TRUE(response) << tether.dumpLog();
  EXPECT_EQ(response->status, 502);
}

INSTANTIATE_TEST_SUITE_P(Clients, H2UpstreamTest, ::testing::Values(ClientProtocol::kH1, ClientProtocol::kH2c),
                         [](const auto& test) { return std::string(name(test.param)); });

}  // namespace
}  // namespace tether::testing
