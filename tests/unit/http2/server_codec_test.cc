// The HTTP/2 server codec without sockets: preface detection, and a request in and a response out through an
// nghttp2 client session on the other end of two buffers.
#include "http2/server_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/libevent.h"

namespace tether::http2 {
namespace {

TEST(ServerCodec, MatchPreface) {
  EXPECT_EQ(matchPreface(""), PrefaceMatch::NeedMore);
  EXPECT_EQ(matchPreface("PRI * HTTP/2"), PrefaceMatch::NeedMore);
  EXPECT_EQ(matchPreface(kClientPreface), PrefaceMatch::Match);
  EXPECT_EQ(matchPreface(std::string(kClientPreface) + "more"), PrefaceMatch::Match);
  EXPECT_EQ(matchPreface("GET / HTTP/1.1\r\n"), PrefaceMatch::NoMatch);
  EXPECT_EQ(matchPreface("POST / HTTP/1.1\r\n"), PrefaceMatch::NoMatch);
  EXPECT_EQ(matchPreface("PRI * HTTP/1.1\r\n"), PrefaceMatch::NoMatch);
}

// Records what the codec reports and serves one fixed body.
class Recorder : public ServerCodecCallbacks {
 public:
  void onStreamBegin(int32_t id) override { begun.push_back(id); }
  bool onHeader(int32_t id, std::string_view name, std::string_view value) override {
    headers[id][std::string(name)] = std::string(value);
    return true;
  }
  void onHeadersComplete(int32_t id, bool trailers, bool end_stream) override {
    if (!trailers) heads.push_back({id, end_stream});
  }
  void onData(int32_t id, const uint8_t* data, size_t len) override {
    bodies[id].append(reinterpret_cast<const char*>(data), len);
  }
  void onRequestEnd(int32_t id) override { ended.push_back(id); }
  void onStreamReset(int32_t id, uint32_t code) override { resets[id] = code; }
  void onStreamClose(int32_t id, uint32_t code) override { closes[id] = code; }
  void onGoaway(uint32_t code) override { goaway = code; }
  size_t readResponseBody(int32_t, uint8_t* buf, size_t len, bool* end, bool*) override {
    const size_t n = std::min(len, body.size());
    std::copy(body.begin(), body.begin() + static_cast<long>(n), buf);
    body.erase(0, n);
    *end = body.empty();
    return n;
  }

  std::vector<int32_t> begun;
  std::map<int32_t, std::map<std::string, std::string>> headers;
  std::vector<std::pair<int32_t, bool>> heads;
  std::map<int32_t, std::string> bodies;
  std::vector<int32_t> ended;
  std::map<int32_t, uint32_t> resets;
  std::map<int32_t, uint32_t> closes;
  std::optional<uint32_t> goaway;
  std::string body = "hello";
};

struct ClientDelete {
  void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
};

// A client session whose received response is kept in `status` and `data`.
struct Client {
  Client() {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(
        cbs, [](nghttp2_session*, const nghttp2_frame*, const uint8_t* n, size_t nl, const uint8_t* v, size_t vl,
                uint8_t flags, void* user) {
          const std::string name(reinterpret_cast<const char*>(n), nl);
          if (name == ":status") static_cast<Client*>(user)->status.assign(reinterpret_cast<const char*>(v), vl);
          static_cast<Client*>(user)->flags[name] = flags;
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cbs, [](nghttp2_session*, uint8_t, int32_t, const uint8_t* d, size_t len, void* user) {
          static_cast<Client*>(user)->data.append(reinterpret_cast<const char*>(d), len);
          return 0;
        });
    nghttp2_session* raw = nullptr;
    nghttp2_session_client_new(&raw, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    session.reset(raw);
    nghttp2_submit_settings(raw, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  std::string drain() {
    std::string out;
    const uint8_t* p = nullptr;
    for (ssize_t n; (n = nghttp2_session_mem_send(session.get(), &p)) > 0;)
      out.append(reinterpret_cast<const char*>(p), n);
    return out;
  }
  std::unique_ptr<nghttp2_session, ClientDelete> session;
  std::string status;
  std::string data;
  std::map<std::string, uint8_t> flags;  // per response field name: NGHTTP2_NV_FLAG_NO_INDEX if never indexed
};

nghttp2_nv nv(const char* name, const char* value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name)), reinterpret_cast<uint8_t*>(const_cast<char*>(value)),
          strlen(name), strlen(value), NGHTTP2_NV_FLAG_NONE};
}

TEST(ServerCodec, RequestInResponseOutAndReset) {
  Recorder recorder;
  ServerCodec codec(recorder, ServerSettings{});
  ASSERT_TRUE(codec.start());
  Client client;
  const nghttp2_nv request[] = {nv(":method", "GET"), nv(":scheme", "http"), nv(":path", "/x"),
                                nv(":authority", "example.test")};
  const int32_t id = nghttp2_submit_request(client.session.get(), nullptr, request, 4, nullptr, nullptr);
  const int32_t id2 = nghttp2_submit_request(client.session.get(), nullptr, request, 4, nullptr, nullptr);
  std::string wire = client.drain();
  ASSERT_TRUE(codec.receive(reinterpret_cast<const uint8_t*>(wire.data()), wire.size()));
  ASSERT_EQ(recorder.begun, (std::vector<int32_t>{id, id2}));
  EXPECT_EQ(recorder.headers[id][":path"], "/x");
  EXPECT_EQ(recorder.headers[id][":authority"], "example.test");
  ASSERT_EQ(recorder.heads.size(), 2u);
  EXPECT_TRUE(recorder.heads[0].second) << "GET ends the stream with its HEADERS";

  ASSERT_TRUE(codec.submitResponse(id, 200, {{"content-type", "text/plain"}}, true));
  util::EvBufferPtr out(evbuffer_new());
  ASSERT_TRUE(codec.send(out.get(), 1 << 20));
  std::string bytes(evbuffer_get_length(out.get()), '\0');
  evbuffer_remove(out.get(), bytes.data(), bytes.size());
  ASSERT_GE(
      nghttp2_session_mem_recv(client.session.get(), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0);
  EXPECT_EQ(client.status, "200");
  EXPECT_EQ(client.data, "hello");
  EXPECT_EQ(recorder.closes.count(id), 1u);

  nghttp2_submit_rst_stream(client.session.get(), NGHTTP2_FLAG_NONE, id2, NGHTTP2_CANCEL);
  wire = client.drain();
  ASSERT_TRUE(codec.receive(reinterpret_cast<const uint8_t*>(wire.data()), wire.size()));
  EXPECT_EQ(recorder.resets[id2], static_cast<uint32_t>(NGHTTP2_CANCEL));
  EXPECT_EQ(recorder.closes[id2], static_cast<uint32_t>(NGHTTP2_CANCEL));
}

// x-request-id is new on every response: indexing it would only churn the HPACK dynamic table (see
// http2/field_indexing.h), so it goes out as a never-indexed literal, except the first on a connection, which is
// indexed once so that the later ones can refer to its name; other fields stay indexable.
TEST(ServerCodec, RequestIdIsNeverIndexedAfterTheFirst) {
  Recorder recorder;
  ServerCodec codec(recorder, ServerSettings{});
  ASSERT_TRUE(codec.start());
  Client client;
  const nghttp2_nv request[] = {nv(":method", "GET"), nv(":scheme", "http"), nv(":path", "/"),
                                nv(":authority", "example.test")};
  const int32_t first = nghttp2_submit_request(client.session.get(), nullptr, request, 4, nullptr, nullptr);
  const int32_t second = nghttp2_submit_request(client.session.get(), nullptr, request, 4, nullptr, nullptr);
  const std::string wire = client.drain();
  ASSERT_TRUE(codec.receive(reinterpret_cast<const uint8_t*>(wire.data()), wire.size()));
  // Each response goes to the client on its own, so `flags` holds that response's flags.
  const auto respond = [&](int32_t id, const char* request_id) {
    ASSERT_TRUE(codec.submitResponse(id, 200, {{"content-type", "text/plain"}, {"x-request-id", request_id}}, false));
    util::EvBufferPtr out(evbuffer_new());
    ASSERT_TRUE(codec.send(out.get(), 1 << 20));
    std::string bytes(evbuffer_get_length(out.get()), '\0');
    evbuffer_remove(out.get(), bytes.data(), bytes.size());
    client.flags.clear();
    ASSERT_GE(
        nghttp2_session_mem_recv(client.session.get(), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
        0);
    ASSERT_EQ(client.flags.count("x-request-id"), 1u);
  };
  respond(first, "0123abcd");
  EXPECT_EQ(client.flags["x-request-id"] & NGHTTP2_NV_FLAG_NO_INDEX, 0) << "the first puts the name in the table";
  respond(second, "4567ef01");
  EXPECT_NE(client.flags["x-request-id"] & NGHTTP2_NV_FLAG_NO_INDEX, 0);
  EXPECT_EQ(client.flags["content-type"] & NGHTTP2_NV_FLAG_NO_INDEX, 0);
}

TEST(ServerCodec, GarbageAfterPrefaceIsAConnectionError) {
  Recorder recorder;
  ServerCodec codec(recorder, ServerSettings{});
  ASSERT_TRUE(codec.start());
  const std::string bytes = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_FALSE(codec.receive(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

}  // namespace
}  // namespace tether::http2
