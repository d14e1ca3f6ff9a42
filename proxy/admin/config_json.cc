#include "admin/config_json.h"

#include "admin/json_writer.h"

namespace tether::admin {
namespace {

uint64_t ms(config::Duration d) { return static_cast<uint64_t>(d.count()); }

void writeListeners(JsonWriter& out, const config::Config& config) {
  out.key("listeners").beginArray();
  for (const auto& listener : config.listeners) {
    out.beginObject().key("name").value(listener.name).key("address").value(listener.address_text);
    out.key("max_connections");
    if (listener.limits.max_connections)
      out.value(uint64_t{*listener.limits.max_connections});
    else
      out.null();
    out.key("tls");
    if (listener.tls) {
      out.beginObject().key("certificates").beginArray();
      for (const auto& certificate : listener.tls->certificates) {
        out.beginObject().key("cert").value(certificate.cert).key("key").value(certificate.key);
        out.key("server_names").beginArray();
        for (const auto& name : certificate.server_names) out.value(name);
        out.endArray().endObject();
      }
      out.endArray().key("session_tickets").value(listener.tls->session_tickets);
      out.key("ticket_rotation_ms").value(ms(listener.tls->ticket_rotation)).endObject();
    } else {
      out.null();
    }
    out.endObject();
  }
  out.endArray();
}

const char* protocolName(config::Upstream::Protocol protocol) {
  switch (protocol) {
    case config::Upstream::Protocol::Http1: return "http1";
    case config::Upstream::Protocol::H2c: return "h2c";
    case config::Upstream::Protocol::H2: return "h2";
  }
  return "http1";
}

void writeUpstreams(JsonWriter& out, const config::Config& config) {
  out.key("upstreams").beginArray();
  for (const auto& upstream : config.upstreams) {
    std::vector<std::string> endpoints;
    for (const auto& endpoint : upstream.endpoints) endpoints.push_back(endpoint.text);
    out.beginObject().key("name").value(upstream.name).key("endpoints").strings(endpoints);
    out.key("connect_timeout_ms").value(ms(upstream.connect_timeout));
    out.key("max_connections_per_endpoint").value(uint64_t{upstream.max_connections_per_endpoint});
    out.key("queue_timeout_ms").value(ms(upstream.queue_timeout));
    out.key("max_idle_connections_per_endpoint").value(uint64_t{upstream.max_idle_connections_per_endpoint});
    out.key("keepalive_idle_timeout_ms").value(ms(upstream.keepalive_idle_timeout));
    out.key("failure_backoff_ms").value(ms(upstream.failure_backoff));
    out.key("response_timeout_ms").value(ms(upstream.response_timeout));
    out.key("read_timeout_ms").value(ms(upstream.read_timeout));
    out.key("send_timeout_ms").value(ms(upstream.send_timeout));
    out.key("cancel_with").value(upstream.cancel_with == config::Upstream::CancelWith::Rst ? "rst" : "fin");
    out.key("protocol").value(protocolName(upstream.protocol));
    out.key("reset_budget").value(uint64_t{upstream.reset_budget});
    out.key("reset_window_ms").value(ms(upstream.reset_window));
    if (upstream.tls) {
      // File paths, not their contents: nothing secret goes out.
      const config::UpstreamTls& tls = *upstream.tls;
      out.key("tls").beginObject().key("server_name").value(tls.server_name).key("ca").value(tls.ca);
      out.key("certificate").value(tls.certificate).key("key").value(tls.key).key("verify").value(tls.verify);
      out.endObject();
    }
    out.endObject();
  }
  out.endArray();
}

void writeCancellation(JsonWriter& out, const config::CancellationPolicy& policy) {
  out.beginObject();
  out.key("mode").value(policy.mode == config::CancellationPolicy::Mode::Propagate ? "propagate" : "ignore");
  out.key("methods").strings(policy.methods);
  out.key("grace_ms").value(ms(policy.grace));
  out.key("grace_bytes").value(policy.grace_bytes);
  out.key("half_close").value(policy.half_close == config::CancellationPolicy::HalfClose::Cancel ? "cancel" : "wait");
  out.endObject();
}

void writeRoutes(JsonWriter& out, const config::Config& config) {
  out.key("routes").beginArray();
  for (const auto& route : config.routes) {
    out.beginObject().key("name").value(route.name);
    out.key("match").beginObject().key("host").value(route.match.host);
    out.key("path_prefix").value(route.match.path_prefix).key("path").value(route.match.path);
    out.key("methods").strings(route.match.methods).endObject();
    out.key("upstream").value(route.upstream).key("timeout_ms").value(ms(route.timeout));
    out.key("deadline_header").value(route.deadline_header);
    out.key("cancellation");
    writeCancellation(out, route.cancellation);
    out.key("forwarding").beginObject().key("x_forwarded").value(route.forwarding.x_forwarded);
    out.key("request_id").value(route.forwarding.request_id).endObject();
    out.endObject();
  }
  out.endArray();
}

void writeLimits(JsonWriter& out, const config::Limits& limits) {
  out.key("limits").beginObject();
  out.key("max_request_header_bytes").value(uint64_t{limits.max_request_header_bytes});
  out.key("header_read_timeout_ms").value(ms(limits.header_read_timeout));
  out.key("client_idle_timeout_ms").value(ms(limits.client_idle_timeout));
  out.key("max_client_connections").value(uint64_t{limits.max_client_connections});
  out.key("max_pipelined_bytes").value(uint64_t{limits.max_pipelined_bytes});
  out.key("request_body_timeout_ms").value(ms(limits.request_body_timeout));
  out.key("send_timeout_ms").value(ms(limits.send_timeout));
  out.key("http2").beginObject();
  out.key("max_concurrent_streams").value(uint64_t{limits.http2.max_concurrent_streams});
  out.key("initial_window_size").value(uint64_t{limits.http2.initial_window_size});
  out.key("max_header_list_size").value(uint64_t{limits.http2.max_header_list_size});
  out.key("reset_budget").value(uint64_t{limits.http2.reset_budget});
  out.key("reset_rate").value(uint64_t{limits.http2.reset_rate});
  out.endObject().endObject();
}

const char* levelName(config::Log::Level level) {
  switch (level) {
    case config::Log::Level::Debug: return "debug";
    case config::Log::Level::Info: return "info";
    case config::Log::Level::Warn: return "warn";
    case config::Log::Level::Error: return "error";
  }
  return "info";
}

const char* sinkName(config::Log::Sink sink) {
  switch (sink) {
    case config::Log::Sink::Stdout: return "stdout";
    case config::Log::Sink::Stderr: return "stderr";
    case config::Log::Sink::File: return "file";
  }
  return "stdout";
}

void writeLogAndAdmin(JsonWriter& out, const config::Config& config) {
  const auto& log = config.log;
  out.key("log").beginObject().key("format").value("json").key("sink").value(sinkName(log.sink));
  out.key("path").value(log.path).key("level").value(levelName(log.level));
  out.key("access_log").value(log.access_log).key("include_query").value(log.include_query);
  out.key("queue_lines").value(uint64_t{log.queue_lines}).endObject();
  out.key("admin").beginObject().key("address").value(config.admin.address_text);
  out.key("recent_cancellations").value(uint64_t{config.admin.recent_cancellations}).endObject();
}

}  // namespace

std::string configToJson(const config::Config& config) {
  JsonWriter out;
  out.beginObject().key("source_path").value(config.source_path).key("workers").value(uint64_t{config.workers});
  writeListeners(out, config);
  writeUpstreams(out, config);
  writeRoutes(out, config);
  writeLimits(out, config.limits);
  writeLogAndAdmin(out, config);
  out.endObject();
  std::string text = out.take();
  text.push_back('\n');
  return text;
}

}  // namespace tether::admin
