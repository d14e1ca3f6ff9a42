#pragma once

// The typed configuration: plain structs, loaded and validated once by ConfigLoader, then shared with every
// worker as an immutable snapshot (std::shared_ptr<const Config>).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "log/log_settings.h"
#include "net/socket_address.h"

namespace tether::config {

using Duration = std::chrono::milliseconds;

struct ListenerLimits {
  std::optional<size_t> max_connections;  // overrides Limits::max_client_connections for this listener
};

// One certificate of a TLS listener: PEM files (the certificate file may hold the chain) and the names (SNI) it
// answers.
struct ListenerCertificate {
  std::string cert;
  std::string key;
  // Lowercase; "*.example.com" matches one label. Empty: the certificate's DNS names (its common name if none).
  std::vector<std::string> server_names;
  // Where the entry is written (line/column 1-based, 0: unknown), for errors found when its files are loaded.
  std::string key_path;
  int line = 0;
  int column = 0;
};

// `tls:` on a listener: `{cert, key}` (one certificate) or `{certificates: [{cert, key, server_names}, ...]}`.
struct ListenerTls {
  // At least one. A client's SNI name picks the first certificate that names it (exact, then wildcard); the first
  // certificate answers a name none carries, and a client that sends none.
  std::vector<ListenerCertificate> certificates;
  // Session tickets (RFC 5077, TLS 1.3 PSK): sealed with keys every worker derives alike and that rotate every
  // `ticket_rotation`; a ticket resumes for one to two rotations. No session cache either way.
  bool session_tickets = true;
  Duration ticket_rotation{3600 * 1000};
};

struct Listener {
  std::string name;
  std::string address_text;  // as written, e.g. "127.0.0.1:8080"
  net::SocketAddress address;
  ListenerLimits limits;
  std::optional<ListenerTls> tls;  // TLS with ALPN h2 and http/1.1; plaintext (HTTP/1.1 and h2c) when absent
};

struct Endpoint {
  std::string text;  // as written, "host:port"
  std::string host;
  uint16_t port = 0;
  std::vector<net::SocketAddress> addresses;  // resolved at load (getaddrinfo, off the event loops)
};

// `tls:` on an upstream: connections to its endpoints speak TLS 1.2+ (HTTP/1.1 inside, ALPN "http/1.1").
struct UpstreamTls {
  // SNI and the name the certificate must carry. Empty: the endpoint's host when it is a name (an IP literal gets
  // no SNI, and the certificate must carry that address).
  std::string server_name;
  std::string ca;           // PEM file of trusted CAs; empty: the system store
  std::string certificate;  // client certificate (PEM, may hold the chain) and its key: both or neither
  std::string key;
  bool verify = true;  // false: any certificate is accepted (written out explicitly; startup warns)
};

struct Upstream {
  std::string name;
  std::vector<Endpoint> endpoints;
  Duration connect_timeout{5000};
  size_t max_connections_per_endpoint = 1024;  // per worker
  // Longest wait in the queue for a connection slot when every endpoint is at max_connections_per_endpoint (503
  // after it). Unset in the file: the upstream's connect_timeout, which is what bounded the wait before this key.
  Duration queue_timeout{5000};
  size_t max_idle_connections_per_endpoint = 1024;  // per worker: kept for reuse; more are closed when released
  Duration keepalive_idle_timeout{60000};
  // Progress timeouts of one request (nginx's proxy_*_timeout defaults): the response head must come this long
  // after the request was sent (interim 1xx responses do not count), then body bytes at least every read_timeout;
  // the upstream must take request body bytes at least every send_timeout.
  Duration response_timeout{60000};
  Duration read_timeout{60000};
  Duration send_timeout{60000};
  Duration failure_backoff{5000};  // an endpoint that refused a connection is skipped this long
  enum class CancelWith { Rst, Fin } cancel_with = CancelWith::Rst;
  // How tether talks to the endpoints: HTTP/1.1, HTTP/2 cleartext with prior knowledge (h2c), or HTTP/2 over TLS
  // (h2, ALPN; refused by the loader until TLS to upstreams exists).
  enum class Protocol { Http1, H2c, H2 } protocol = Protocol::Http1;
  std::optional<UpstreamTls> tls;  // cleartext when absent
  // The reset-storm guard of HTTP/2 upstreams (docs/upstreams.md): more than `reset_budget` streams reset by tether
  // within `reset_window` on one connection, and it takes no new streams and drains with GOAWAY(NO_ERROR), so the
  // upstream's Rapid Reset defence never fires on legitimate cancellations. 0: no guard.
  uint32_t reset_budget = 10;
  Duration reset_window{30000};
};

struct CancellationPolicy {
  enum class Mode { Propagate, Ignore } mode = Mode::Propagate;
  std::vector<std::string> methods;  // empty: all methods propagate
  Duration grace{0};
  uint64_t grace_bytes = 0;
  enum class HalfClose { Cancel, Wait } half_close = HalfClose::Cancel;
};

struct RouteMatch {
  std::string host;                  // empty: any host. "*.example.com" matches any subdomain.
  std::string path_prefix;           // empty if `path` is used
  std::string path;                  // exact path; empty if `path_prefix` is used
  std::vector<std::string> methods;  // empty: any method
};

// The fields tether adds to what it forwards (`forwarding:` of a route). Off for a hop whose upstream must see the
// request as the client sent it, or to compare with a peer that adds nothing; the client's own fields then pass as
// they came, and tether's logs keep the request id either way.
struct Forwarding {
  bool x_forwarded = true;  // X-Forwarded-For (appended), -Proto and -Host to the upstream
  bool request_id = true;   // X-Request-Id to the upstream and in the response
};

struct Route {
  std::string name;
  RouteMatch match;
  std::string upstream;         // name, as written
  size_t upstream_index = 0;    // index into Config::upstreams, resolved by the loader
  Duration timeout{0};          // total deadline; 0 = none
  std::string deadline_header;  // empty: not sent
  CancellationPolicy cancellation;
  Forwarding forwarding;
};

// HTTP/2 client connections (`limits.http2`).
struct Http2Limits {
  uint32_t max_concurrent_streams = 100;
  size_t initial_window_size = 64 * 1024;   // request body bytes a stream may have in flight before tether reads
  size_t max_header_list_size = 64 * 1024;  // decoded request head, RFC 9113 accounting
  // Streams a client may reset before completion (RST_STREAM, or a protocol error that makes tether reset them): a
  // token bucket of `reset_budget` refilled at `reset_rate` per second, per connection; empty -> GOAWAY.
  uint32_t reset_budget = 200;
  uint32_t reset_rate = 100;
};

struct Limits {
  size_t max_request_header_bytes = 64 * 1024;
  Duration header_read_timeout{10000};     // slowloris guard: whole request head must arrive in this time
  Duration client_idle_timeout{60000};     // keep-alive idle between requests
  size_t max_client_connections = 10000;   // per listener per worker unless the listener overrides
  size_t max_pipelined_bytes = 64 * 1024;  // bytes buffered from a client while a request is in flight
  Duration request_body_timeout{60000};    // the client must send request body bytes at least this often (408)
  Duration send_timeout{60000};            // the client must take response bytes at least this often
  Http2Limits http2;
};

using Log = log::LogSettings;  // owned by log/, which must not include config/

struct Admin {
  std::string address_text = "127.0.0.1:9901";
  net::SocketAddress address;
  size_t recent_cancellations = 100;  // per worker, served by GET /cancellations; 0 keeps none
};

struct Config {
  std::string source_path;
  std::vector<Listener> listeners;
  std::vector<Upstream> upstreams;
  std::vector<Route> routes;
  Limits limits;
  Duration drain_timeout{30000};  // SIGTERM/SIGINT: how long in-flight requests may finish before `shutdown`
  unsigned workers = 1;           // absent in the file: number of cores (the loader resolves it); 1..256
  Log log;
  Admin admin;
};

}  // namespace tether::config
