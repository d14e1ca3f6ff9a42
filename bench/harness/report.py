"""results.json -> results.md (tables + targets) and chart.png."""
import json
import os
import sys

PEERS = ("nginx", "haproxy")
KINDS = (("fin", "FIN (close)"), ("rst", "RST (linger 0)"), ("h2rst", "h2 RST_STREAM"))
H2UP = ("tether-h2c", "haproxy-h2c", "nghttpx-h2c", "nginx-h2c")  # h2c-upstream rows; peers are every one but tether-h2c


def fmt(v, digits=0, unit=""):
    if v is None:
        return "–"
    if isinstance(v, float):
        v = round(v, digits) if digits else int(round(v))
    return f"{v:,}{unit}" if isinstance(v, int) else f"{v}{unit}"


def get(results, proxy, *path):
    node = results.get("proxies", {}).get(proxy)
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def spread(w):
    if w.get("rps_min") is None or w.get("reps", 1) < 2:
        return "–"
    return f"{w['rps_min']:,.0f}–{w['rps_max']:,.0f}"


def throughput_tables(r):
    order = [p for p in ("tether", "nginx", "haproxy") if p in r.get("proxies", {})]
    cfg = r["config"]
    rows = []
    for p in order:
        w = get(r, p, "wrk") or {}
        rows.append([get(r, p, "label"), fmt(w.get("rps")), spread(w), fmt(w.get("p50_us")), fmt(w.get("p99_us")),
                     fmt(w.get("p999_us")), fmt(w.get("cpu_us_per_req"), 2), fmt(w.get("user_us_per_req"), 2),
                     fmt(w.get("sys_us_per_req"), 2), fmt(w.get("proxy_cpu_pct"), 1),
                     fmt(w.get("loadgen_cpu_pct"), 1), fmt(w.get("errors")), fmt(w.get("non2xx")),
                     fmt(w.get("other_busy_pct"), 1)])
    md = [f"Each number is the median of {cfg.get('reps', 1)} interleaved runs (range = lowest–highest req/s).\n",
          f"### HTTP/1.1 keep-alive, closed loop (wrk -t1 -c{cfg['connections']} -d{cfg['duration']}s)\n",
          table(["proxy", "req/s", "range", "p50 µs", "p99 µs", "p99.9 µs", "proxy CPU µs/req", "of which user",
                 "of which kernel", "proxy CPU %", "wrk CPU %", "socket errors", "non-2xx", "other load %"], rows)]
    rows = []
    for p in order:
        f = get(r, p, "fixed_rate") or {}
        rows.append([get(r, p, "label"), fmt(f.get("achieved_rps")), fmt(f.get("p50_us")), fmt(f.get("p90_us")),
                     fmt(f.get("p99_us")), fmt(f.get("p999_us")), fmt(f.get("max_us")),
                     fmt(f.get("cpu_us_per_req"), 2), fmt((f.get("errors") or 0) + (f.get("unfinished") or 0)),
                     fmt(f.get("non2xx")), fmt(f.get("max_dispatch_lag_us")), fmt(f.get("other_busy_pct"), 1)])
    md += [f"\n### HTTP/1.1 keep-alive, open loop at {cfg['rate']} req/s (bench/tools/fixed_rate, "
           f"{cfg['connections']} connections, {cfg['duration']} s; latency from each request's due time)\n",
           table(["proxy", "req/s", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs", "proxy CPU µs/req",
                  "errors", "non-2xx", "worst send lag µs", "other load %"], rows)]
    rows = []
    for p in order:
        h = get(r, p, "h2") or {}
        rows.append([get(r, p, "label"), fmt(h.get("rps")), spread(h), fmt(h.get("p50_us")), fmt(h.get("p99_us")),
                     fmt(h.get("p999_us")), fmt(h.get("cpu_us_per_req"), 2), fmt(h.get("user_us_per_req"), 2),
                     fmt(h.get("sys_us_per_req"), 2), fmt(h.get("proxy_cpu_pct"), 1),
                     fmt((h.get("failed") or 0) + (h.get("errored") or 0)), fmt(h.get("non2xx")),
                     fmt(h.get("other_busy_pct"), 1)])
    md += [f"\n### HTTP/2 h2c prior knowledge (h2load -t1 -c{cfg['connections']} -m{cfg['h2_streams']} "
           f"-D {cfg['duration']})\n",
           table(["proxy", "req/s", "range", "p50 µs", "p99 µs", "p99.9 µs", "proxy CPU µs/req", "of which user",
                  "of which kernel", "proxy CPU %", "failed", "non-2xx", "other load %"], rows)]
    return "\n".join(md)


# Issue 15's rows: (results key, label). Closed-loop ones first, then new connections, then open loop.
def tls_row_labels(cfg):
    c, m = cfg["connections"], cfg["h2_streams"]
    fc, fm = cfg.get("few_connections", 10), cfg.get("few_streams", 5)
    return {"wrk": f"HTTP/1.1 cleartext (wrk -c{c})", "h2": f"h2c (h2load -c{c} -m{m})",
            "h2_few": f"h2c, few (h2load -c{fc} -m{fm})", "wrk_tls": f"HTTP/1.1 over TLS (wrk https -c{c})",
            "h2_tls": f"h2 over TLS (h2load https -c{c} -m{m})",
            "wrk_tls_close": f"new TLS connection per request (wrk https -c{c}, Connection: close; resumed)",
            "tls_full": f"new TLS connections, full handshake (tls_connect -c{c})",
            "tls_resume": f"new TLS connections, resumed (tls_connect --resume -c{c})",
            "fixed_rate": f"open loop {cfg['rate']}/s, cleartext", "fixed_rate_tls": f"open loop {cfg['rate']}/s, TLS"}


def best_peer(r, load, field):
    vals = {p: get(r, p, load, field) for p in PEERS if get(r, p, load, field) is not None}
    return min(vals.items(), key=lambda kv: kv[1]) if vals else (None, None)


def ratio_to_peer(r, p, load, field):
    """p's value / the best (lowest) of nginx and HAProxy, for tether's rows only."""
    name, ref = best_peer(r, load, field)
    v = get(r, p, load, field)
    if p != "tether" or v is None or not ref:
        return "–"
    return f"{v / ref:.2f}x {name}"


def tls_section(r):
    """Issue 15's rows: TLS listeners (keep-alive h1 and h2, new connections, open loop) and h2c with few
    connections, each with CPU per request and its ratio to the best peer; what each proxy negotiated."""
    order = [p for p in ("tether", "nginx", "haproxy") if p in r.get("proxies", {})]
    cfg = r["config"]
    labels = tls_row_labels(cfg)
    closed = [k for k in ("wrk_tls", "h2_tls", "h2_few", "wrk_tls_close") if any(get(r, p, k) for p in order)]
    conns = [k for k in ("tls_full", "tls_resume") if any(get(r, p, k) for p in order)]
    if not (closed or conns or any(get(r, p, "fixed_rate_tls") for p in order)):
        return ""
    md = ["## TLS listeners, and h2c with few connections (issue 15)",
          f"Same pinning and interleaving as above ({cfg.get('reps', 1)} rounds, median). Every proxy serves the "
          "run's ECDSA P-256 certificate with the same TLS settings (tether has no keys for them, so OpenSSL's "
          "defaults; nginx and HAProxy are set to those); what each negotiated is in the last table. "
          "\"vs best peer\" = tether's CPU per request / the lower of nginx's and HAProxy's.\n"]
    rows = []
    for k in closed:
        for p in order:
            w = get(r, p, k) or {}
            if not w:
                continue
            rows.append([labels[k], get(r, p, "label"), fmt(w.get("rps")), spread(w), fmt(w.get("p50_us")),
                         fmt(w.get("p99_us")), fmt(w.get("cpu_us_per_req"), 2), ratio_to_peer(r, p, k, "cpu_us_per_req"),
                         fmt(w.get("user_us_per_req"), 2), fmt(w.get("sys_us_per_req"), 2),
                         fmt(w.get("proxy_cpu_pct"), 1),
                         fmt((w.get("errors") or 0) + (w.get("failed") or 0) + (w.get("errored") or 0)),
                         fmt(w.get("non2xx")), fmt(w.get("other_busy_pct"), 1)])
    if rows:
        md += ["### Closed loop\n", table(["row", "proxy", "req/s", "range", "p50 µs", "p99 µs", "proxy CPU µs/req",
                                           "vs best peer", "of which user", "of which kernel", "proxy CPU %",
                                           "errors", "non-2xx", "other load %"], rows)]
    rows = []
    for k in conns:
        for p in order:
            c = get(r, p, k) or {}
            if not c:
                continue
            resumed = (f"{c['resumed_pct']:.1f}% of {fmt(c.get('offered'))}" + (" **(< 99%)**" if
                       c.get("offered") and c["resumed_pct"] < 99 else "")) if k == "tls_resume" else "–"
            rows.append([labels[k], get(r, p, "label"), fmt(c.get("conn_per_s")), fmt(c.get("handshake_p50_us")),
                         fmt(c.get("handshake_p99_us")), fmt(c.get("total_p99_us")), resumed,
                         fmt(c.get("cpu_us_per_req"), 1), ratio_to_peer(r, p, k, "cpu_us_per_req"),
                         fmt(c.get("user_us_per_req"), 1), fmt(c.get("sys_us_per_req"), 1), fmt(c.get("errors")),
                         fmt(c.get("other_busy_pct"), 1)])
    if rows:
        md += [f"\n### New TLS connections (bench/tools/tls_connect: {cfg['connections']} at a time, each TCP connect "
               "+ handshake + one GET + close_notify; handshake time = connect() to handshake done; --resume: each "
               "connection offers the ticket its slot's previous connection received, resumed % counts the connections "
               "that offered one)\n",
               table(["row", "proxy", "conn/s", "handshake p50 µs", "handshake p99 µs", "connection p99 µs",
                      "resumed", "proxy CPU µs/conn", "vs best peer", "of which user", "of which kernel", "errors",
                      "other load %"], rows)]
    rows = []
    for p in order:
        f = get(r, p, "fixed_rate_tls") or {}
        if f:
            rows.append([get(r, p, "label"), fmt(f.get("achieved_rps")), fmt(f.get("p50_us")), fmt(f.get("p90_us")),
                         fmt(f.get("p99_us")), ratio_to_peer(r, p, "fixed_rate_tls", "p99_us"), fmt(f.get("p999_us")),
                         fmt(f.get("max_us")), fmt(f.get("cpu_us_per_req"), 2),
                         ratio_to_peer(r, p, "fixed_rate_tls", "cpu_us_per_req"),
                         fmt((f.get("errors") or 0) + (f.get("unfinished") or 0)), fmt(f.get("max_dispatch_lag_us")),
                         fmt(f.get("other_busy_pct"), 1)])
    if rows:
        md += [f"\n### HTTP/1.1 over TLS, open loop at {cfg['rate']} req/s (fixed_rate --tls, {cfg['connections']} "
               "connections, every handshake before t0)\n",
               table(["proxy", "req/s", "p50 µs", "p90 µs", "p99 µs", "p99 vs best peer", "p99.9 µs", "max µs",
                      "proxy CPU µs/req", "CPU vs best peer", "errors", "worst send lag µs", "other load %"], rows)]
    rows = []
    for p in order:
        m = get(r, p, "memory_tls") or {}
        if m:
            rows.append([get(r, p, "label"), fmt(m.get("idle_kib")), fmt(m.get("conns_kib")),
                         f"{fmt(m.get('conns_ok'))} ok / {fmt(m.get('conns_failed'))} failed",
                         fmt(m.get("per_conn_marginal_bytes")), fmt(m.get("per_conn_bytes")),
                         fmt(get(r, p, "memory", "per_conn_marginal_bytes"))])
    if rows:
        md += [f"\n### Memory per idle TLS connection (conn_holder --tls: {cfg['idle_conns']} connections, each with "
               "its handshake and one GET, in two holders like the cleartext test)\n",
               table(["proxy", "RSS before KiB", "with the connections KiB", "connections",
                      "bytes / idle TLS conn (slope)", "bytes / idle TLS conn (average)",
                      "cleartext slope, for comparison"], rows)]
    rows = []
    for p in order:
        s_ = get(r, p, "tls") or {}
        neg = get(r, p, "negotiated") or {}
        seen = sorted({f"{v.get('version')} {v.get('suite')} {v.get('group')}" for v in neg.values()})
        rows.append([get(r, p, "label"), s_.get("version", "–"), s_.get("suite", "–"), s_.get("group", "–"),
                     s_.get("signature", "–"), "; ".join(seen) or "–",
                     ", ".join(sorted({v.get("alpn") for v in neg.values() if v.get("alpn")})) or "–"])
    md += ["\n### Negotiated (openssl s_client -brief; and what the load generators' connections got)\n",
           table(["proxy", "version", "suite", "group", "signature", "the rows' clients saw", "ALPN"], rows)]
    return "\n".join(md)


def issue15_targets(r):
    """Issue 15's targets, each a ratio to the best of nginx and HAProxy within this run:
    (description, met?, ratio text)."""
    out = []
    labels = tls_row_labels(r["config"])

    def add(desc, load, field, factor=1.0):
        tv = get(r, "tether", load, field)
        name, ref = best_peer(r, load, field)
        if tv is None or not ref:
            return
        out.append((desc, tv <= factor * ref, f"{tv / ref:.2f}x {name} (tether {tv:,.2f} vs {ref:,.2f})"))

    for k in ("wrk", "h2", "h2_few", "wrk_tls", "h2_tls", "wrk_tls_close", "tls_full", "tls_resume"):
        add(f"CPU/request <= best peer: {labels[k]}", k, "cpu_us_per_req")
    add("user-space CPU/request <= 0.8x best peer's: HTTP/1.1 cleartext", "wrk", "user_us_per_req", 0.8)
    add(f"open-loop p99 <= best peer: {labels['fixed_rate']}", "fixed_rate", "p99_us")
    add(f"open-loop p99 <= best peer: {labels['fixed_rate_tls']}", "fixed_rate_tls", "p99_us")
    c = get(r, "tether", "tls_resume")
    if c and c.get("offered"):
        out.append(("resumed >= 99% of the connections that offered a ticket", c["resumed_pct"] >= 99,
                    f"{c['resumed_pct']:.1f}% of {c['offered']:,}"))
    return out


def issue15_targets_table(r):
    t = issue15_targets(r)
    if not t:
        return ""
    rows = [[d, "met" if m else "**not met**", ratio] for d, m, ratio in t]
    return ("### Targets, issue 15 (ratios to the best peer within this run; wall-clock based, so only an idle "
            "machine's run counts)\n\n" + table(["target", "result", "ratio"], rows))


TLS_KINDS = (("fin", "FIN (close, no close_notify)"), ("rst", "RST (linger 0)"),
             ("close_notify", "close_notify alone (TCP stays open)"), ("h2rst", "h2 RST_STREAM (h2 over TLS)"))


def cancel_table(r, key="cancel"):
    rows = []
    order = [p for p in ("tether", "nginx", "haproxy", "haproxy-abortonclose") if p in r.get("proxies", {})]
    for p in order:
        for kind, label in (TLS_KINDS if key == "cancel_tls" else KINDS):
            c = get(r, p, key, kind)
            if not c:
                continue
            how = f"{c['upstream_saw_rst']} RST / {c['upstream_saw_fin']} FIN"
            rows.append([get(r, p, "label"), label, f"{c['noticed']}/{c['count']}", fmt(c["noticed_pct"], 1),
                         fmt(c["p50_us"]), fmt(c["p99_us"]), fmt(c["max_us"]), how,
                         fmt(c["not_received"] + c["failed_connect"])])
    cfg = r["config"]
    if not rows:
        return ""
    return (f"### Cancellation propagation{' over TLS' if key == 'cancel_tls' else ''} "
            f"({cfg['cancel_count']} aborts per kind; noticed = the upstream saw "
            f"its connection closed or reset within {cfg['cancel_window_ms']} ms)\n\n" +
            table(["proxy", "client abort", "noticed", "%", "p50 µs", "p99 µs", "max µs",
                   "upstream saw", "not started"], rows))


def h2_upstream_section(r):
    """The h2c-upstream rows: their throughput/CPU for both client protocols, cancellation timed at the upstream
    (RST_STREAM arrival) with the reset code each proxy sends, and their own targets."""
    order = [p for p in H2UP if get(r, p, "wrk") or get(r, p, "h2")]
    cancel_order = order + [p for p in ("haproxy-h2c-abortonclose",) if get(r, p, "cancel")]
    if not cancel_order:
        return ""
    cfg = r["config"]
    rows = []
    for p in order:
        for load, client in (("wrk", f"HTTP/1.1 (wrk -c{cfg['connections']})"),
                             ("h2", f"h2c (h2load -c{cfg['connections']} -m{cfg['h2_streams']})")):
            w = get(r, p, load) or {}
            rows.append([get(r, p, "label"), client, fmt(w.get("rps")), fmt(w.get("p50_us")), fmt(w.get("p99_us")),
                         fmt(w.get("cpu_us_per_req"), 2), fmt(w.get("user_us_per_req"), 2),
                         fmt(w.get("sys_us_per_req"), 2),
                         fmt((w.get("errors") or 0) + (w.get("failed") or 0) + (w.get("errored") or 0)),
                         fmt(w.get("non2xx")), fmt(w.get("other_busy_pct"), 1)])
    md = ["## h2c upstreams (client -> proxy -> HTTP/2 cleartext upstream)",
          f"`fast_upstream --h2c` (nghttp2, 100 concurrent streams per connection) behind each proxy; "
          f"{cfg['duration']} s per run, median of {cfg.get('reps', 1)} interleaved rounds.\n",
          table(["proxy", "client", "req/s", "p50 µs", "p99 µs", "proxy CPU µs/req", "of which user",
                 "of which kernel", "errors", "non-2xx", "other load %"], rows)]
    rows = []
    for p in cancel_order:
        for kind, label in KINDS:
            c = get(r, p, "cancel", kind)
            if not c:
                continue
            codes = ", ".join(f"{k} {v}" for k, v in (c.get("rst_stream_codes") or {}).items()) or "–"
            rows.append([get(r, p, "label"), label, f"{c['noticed']}/{c['count']}", fmt(c["noticed_pct"], 1),
                         fmt(c["p50_us"]), fmt(c["p99_us"]), fmt(c["max_us"]), codes,
                         f"{c['upstream_saw_rst']} RST / {c['upstream_saw_fin']} FIN",
                         fmt(c["not_received"] + c["failed_connect"])])
    md += [f"\n### Cancellation at an h2c upstream ({cfg['cancel_count']} aborts per kind; noticed = RST_STREAM on "
           f"that stream, or its connection closed, within {cfg['cancel_window_ms']} ms of the client's abort)\n",
           table(["proxy", "client abort", "noticed", "%", "p50 µs", "p99 µs", "max µs", "RST_STREAM codes",
                  "connection closed", "not started"], rows)]
    rows = [[d, "–" if m is None else ("met" if m else "**not met**"), ratio] for d, m, ratio in h2_upstream_targets(r)]
    md += ["\n### Targets, h2c upstreams (ratios within this run)\n", table(["target", "result", "ratio"], rows)]
    return "\n".join(md)


def h2_upstream_targets(r):
    out = []
    for load, name in (("wrk", "HTTP/1.1 client"), ("h2", "h2c client")):
        tv = get(r, "tether-h2c", load, "cpu_us_per_req")
        peers = {p: get(r, p, load, "cpu_us_per_req") for p in H2UP[1:] if get(r, p, load, "cpu_us_per_req")}
        if tv is None or not peers:
            out.append((f"CPU/request ({name}) <= best peer", None, "no data"))
            continue
        ref_name, ref = min(peers.items(), key=lambda kv: kv[1])
        out.append((f"CPU/request ({name}) <= best peer", tv <= ref,
                    f"{tv / ref:.2f}x {ref_name} (tether {tv:.2f} vs {ref:.2f} µs)"))
    for kind, label in KINDS:
        c = get(r, "tether-h2c", "cancel", kind)
        desc = f"cancellation {label} -> RST_STREAM(CANCEL): 100% noticed, p99 <= 1 ms"
        if not c:
            out.append((desc, None, "no data"))
            continue
        codes = c.get("rst_stream_codes") or {}
        ok = (c["count"] > 0 and c["noticed"] == c["count"] and codes.get("CANCEL") == c["count"]
              and c["p99_us"] is not None and c["p99_us"] <= 1000)
        out.append((desc, ok, f"{c['noticed_pct']:.1f}% noticed ({', '.join(f'{k} {v}' for k, v in codes.items()) or 'no RST_STREAM'}), p99 {fmt(c['p99_us'])} µs"))
    return out


def memory_table(r):
    rows = []
    cfg = r["config"]
    for p in [p for p in ("tether", "nginx", "haproxy") if p in r.get("proxies", {})]:
        m = get(r, p, "memory") or {}
        rows.append([get(r, p, "label"), fmt(m.get("idle_kib")), fmt(m.get("conns_kib")),
                     f"{fmt(m.get('conns_ok'))} ok / {fmt(m.get('conns_failed'))} failed",
                     fmt(m.get("per_conn_marginal_bytes")), fmt(m.get("per_conn_bytes")), fmt(m.get("slow_before_kib")), fmt(m.get("slow_peak_kib")),
                     fmt(m.get("slow_delta_kib")),
                     fmt((m.get("slow_disk_buffer_bytes") or 0) / 1048576, 1) if m.get("slow_disk_buffer_bytes")
                     is not None else "–",
                     fmt((m.get("slow_read_bytes") or 0) / 1048576, 1)])
    return (f"### Memory (VmRSS summed over the proxy's processes; nginx = master + worker)\n\n" +
            table(["proxy", "idle KiB", f"{cfg['idle_conns']} idle conns KiB", "connections",
                   "bytes / idle conn (slope)", "bytes / idle conn (average)", "before streaming KiB", "streaming peak KiB", "streaming growth KiB",
                   "buffered on disk MiB", f"MiB read in {cfg['slow_seconds']} s"], rows) +
            f"\n\nSlope: RSS growth from the first {cfg['idle_conns'] // 10} idle connections to all of them, per "
            f"connection (what one more idle connection costs). Average: RSS growth from idle, over all connections "
            f"(also holds what the burst of concurrent first requests left: upstream keep-alive connections, "
            f"allocator caches)."
            f"\n\nStreaming: the upstream sends {cfg['big_bytes'] >> 20} MiB, the client reads 1 MiB/s for "
            f"{cfg['slow_seconds']} s (one connection, after the idle-connection test; growth = peak − before).")


def syscall_table(r, key="syscalls", what="wrk run"):
    order = [p for p in ("tether", "nginx", "haproxy") if get(r, p, key)]
    if not order:
        return ""
    names = []
    for p in order:  # the calls that matter for any proxy, most frequent first
        for k, v in get(r, p, key, "per_req").items():
            if v >= 0.05 and k not in names:
                names.append(k)
    rows = [[get(r, p, "label"), fmt(get(r, p, key, "total_per_req"), 2)] +
            [fmt(get(r, p, key, "per_req").get(k, 0.0), 2) for k in names] for p in order]
    return (f"### System calls per request (strace -c on the worker during a 3 s {what}; counts only, strace "
            "makes everything slow)\n\n" + table(["proxy", "total"] + names, rows))


def scaling_table(r):
    s = r.get("scaling") or {}
    if not s:
        return ""
    rows = []
    for k in ("1w", "2w"):
        w = s.get(k)
        if w:
            rows.append([k.replace("w", ""), fmt(w["rps"]), spread(w), fmt(w["p99_us"]), fmt(w["proxy_cpu_pct"], 1),
                         fmt(w["loadgen_cpu_pct"], 1), fmt(w["upstream_cpu_pct"], 1),
                         fmt(w["proxy_cpu_pct"] + w["loadgen_cpu_pct"] + w["upstream_cpu_pct"], 1),
                         fmt(w["cpu_us_per_req"], 2), fmt(w["other_busy_pct"], 1)])
    note = ""
    if "1w" in s and "2w" in s:
        w2 = s["2w"]
        bench_pct = w2["proxy_cpu_pct"] + w2["loadgen_cpu_pct"] + w2["upstream_cpu_pct"]
        other = 2 * w2["other_busy_pct"]  # other_busy_pct is a share of both cores; here: % of one core
        note = (f"\n\nWith 2 workers, tether used {w2['proxy_cpu_pct']:.0f}%, wrk {w2['loadgen_cpu_pct']:.0f}% and "
                f"the upstream {w2['upstream_cpu_pct']:.0f}% of one core ({bench_pct:.0f}% of the 200% the machine "
                f"has), other processes {other:.0f}%. wrk and the upstream take "
                f"{w2['loadgen_cpu_pct'] + w2['upstream_cpu_pct']:.0f}% that tether cannot use, so on this 2-core box "
                "the second worker can at best get what is left: this measures the box, not tether's scaling "
                "limit. " + ("The cores were saturated." if bench_pct + other > 180 else
                             "The cores were NOT saturated: the load (wrk -t2, 50 connections) was too light or "
                             "something stalled."))
        w1 = s["1w"]
        if w1.get("cpu_us_per_req") and w2.get("cpu_us_per_req"):
            # Requests per CPU-second of tether: what each worker could serve with a core to itself. With 2 workers
            # it drops only by what running two event loops costs (no locks between workers, so no contention).
            per_core = w1["cpu_us_per_req"] / w2["cpu_us_per_req"]
            note += (f" What can be checked here is the cost per request: {fmt(w1['cpu_us_per_req'], 2)} µs of "
                     f"tether CPU with one worker, {fmt(w2['cpu_us_per_req'], 2)} µs with two (each worker then does "
                     f"{per_core:.2f}x the work per CPU-second of the single one), so two workers with a core each "
                     f"would serve about {2 * per_core:.2f}x one worker's requests, if the load generator and "
                     "the upstream had cores of their own.")
    return ("### tether 1 vs 2 workers (unpinned: tether, wrk -t2 and the upstream share CPUs 0-1)\n\n" +
            table(["workers", "req/s", "range", "p99 µs", "tether CPU %", "wrk CPU %", "upstream CPU %", "sum CPU %",
                   "tether CPU µs/req", "other load %"], rows) + note)


def cpu_floor_text(r, load):
    """User vs kernel CPU per request: 0.8x the best peer's total is compared with what the kernel alone costs."""
    names = [p for p in ("tether",) + tuple(PEERS) if get(r, p, load, "sys_us_per_req") is not None]
    if "tether" not in names or len(names) < 2:
        return ""
    best = min((p for p in names if p != "tether"), key=lambda p: get(r, p, load, "cpu_us_per_req"))
    goal = 0.8 * get(r, best, load, "cpu_us_per_req")
    user = ", ".join(f"{p} {get(r, p, load, 'user_us_per_req'):.1f}" for p in names)
    kernel = ", ".join(f"{p} {get(r, p, load, 'sys_us_per_req'):.1f}" for p in names)
    return (f"user µs/req: {user}; kernel µs/req: {kernel}; 0.8x {best} = {goal:.1f} µs, "
            f"{'below' if goal < min(get(r, p, load, 'sys_us_per_req') for p in names) else 'above'} "
            f"every proxy's kernel time alone")


def targets(r):
    """Each target: (description, met?, ratio text)."""
    out = []

    def peer_vals(*path):
        return {p: get(r, p, *path) for p in PEERS if get(r, p, *path) is not None}

    def add(desc, tv, peers, lower_is_better, factor=1.0):
        if tv is None or not peers:
            out.append((desc, None, "no data"))
            return
        ref_name, ref = (min if lower_is_better else max)(peers.items(), key=lambda kv: kv[1])
        ratio = tv / ref if ref else float("inf")
        met = ratio <= factor if lower_is_better else ratio >= factor
        out.append((desc, met, f"{ratio:.2f}x {ref_name} (tether {tv:,.2f} vs {ref:,.2f})"))

    def load_targets(load, name):
        """CPU/request (with its user/kernel split), req/s and p99 of one closed-loop load."""
        add(f"CPU/request ({name}) <= 0.8x best peer", get(r, "tether", load, "cpu_us_per_req"),
            peer_vals(load, "cpu_us_per_req"), True, 0.8)
        floor = cpu_floor_text(r, load)
        if floor:
            out.append(("… of which user space (kernel time is the floor)", None, floor))
        add(f"req/s ({name}) >= best peer", get(r, "tether", load, "rps"), peer_vals(load, "rps"), False)
        add(f"p99 ({name}) <= best peer", get(r, "tether", load, "p99_us"), peer_vals(load, "p99_us"), True)

    load_targets("wrk", "wrk")
    add("p99 (fixed rate) <= best peer", get(r, "tether", "fixed_rate", "p99_us"),
        peer_vals("fixed_rate", "p99_us"), True)
    load_targets("h2", "h2c")
    for kind, label in KINDS:
        c = get(r, "tether", "cancel", kind)
        if not c:
            out.append((f"cancellation {label}: 100% noticed, p50 <= nginx, p99 <= 1 ms", None, "no data"))
            continue
        n = get(r, "nginx", "cancel", kind) or {}
        all_ok = c["noticed"] == c["count"] and c["count"] > 0
        p50_ok = n.get("p50_us") is None or (c["p50_us"] is not None and c["p50_us"] <= n["p50_us"])
        p99_ok = c["p99_us"] is not None and c["p99_us"] <= 1000
        ratio = (f"{c['noticed_pct']:.1f}% noticed, p50 {fmt(c['p50_us'])} µs vs nginx {fmt(n.get('p50_us'))} µs"
                 f" ({(c['p50_us'] or 0) / n['p50_us']:.2f}x), p99 {fmt(c['p99_us'])} µs"
                 if n.get("p50_us") else f"{c['noticed_pct']:.1f}% noticed, p99 {fmt(c['p99_us'])} µs")
        out.append((f"cancellation {label}: 100% noticed, p50 <= nginx, p99 <= 1 ms", all_ok and p50_ok and p99_ok,
                    ratio))
    t_idle, n_idle = get(r, "tether", "memory", "idle_kib"), get(r, "nginx", "memory", "idle_kib")
    add("RSS idle <= nginx", t_idle, {"nginx": n_idle} if n_idle else {}, True)
    t_pc = get(r, "tether", "memory", "per_conn_marginal_bytes")
    n_pc = get(r, "nginx", "memory", "per_conn_marginal_bytes")
    add("RSS per idle connection (slope) <= nginx", t_pc, {"nginx": n_pc} if n_pc else {}, True)
    s = r.get("scaling") or {}
    if "1w" in s and "2w" in s:
        ratio = s["2w"]["rps"] / s["1w"]["rps"]
        out.append(("2 workers >= 1.7x one worker (req/s)", ratio >= 1.7,
                    f"{ratio:.2f}x ({s['2w']['rps']:,.0f} vs {s['1w']['rps']:,.0f}; see the CPU split)"))
    else:
        out.append(("2 workers >= 1.7x one worker (req/s)", None, "no data"))
    return out


def targets_table(r):
    rows = [[d, "–" if m is None else ("met" if m else "**not met**"), ratio] for d, m, ratio in targets(r)]
    return "### Targets (ratios within this run)\n\n" + table(["target", "result", "ratio"], rows)


def setup_text(r):
    m = r["machine"]
    cfg = r["config"]
    other = [(p, k, get(r, p, k, "other_busy_pct")) for p in r.get("proxies", {})
             for k in ("wrk", "fixed_rate", "h2", "h2_few", "wrk_tls", "h2_tls", "wrk_tls_close", "tls_full",
                       "tls_resume", "fixed_rate_tls")]
    noisy = [f"{p}/{k} {v:.0f}%" for p, k, v in other if v is not None and v > 5]
    warn = ("\n\n**Warning: other processes used CPU during the run** (share of all cores outside the benchmark: "
            + ", ".join(noisy) + "). Numbers from a shared machine are noisy; rerun on an idle machine."
            if noisy else "")
    return (f"Run {r['started']} – {r.get('finished', '?')}, mode **{r['mode']}**. "
            f"{m['nproc']} × {m['cpu_model']}, {m['mem_gib']} GiB, kernel {m['kernel']}; "
            f"{m['nginx']}; {m['haproxy']}; {m.get('nghttpx', 'nghttpx ?')}; {m['wrk']}; {m['h2load']}; tether {m['tether_commit']}"
            f"{' + uncommitted proxy/ changes' if m.get('tether_dirty') else ''} "
            f"(binary built {m.get('tether_binary_mtime', '?')}). "
            f"Load average at start {' '.join(m['loadavg_at_start'])}; benchmark processes at nice {m.get('nice', 0)}.\n\n"
            f"Pinning: each proxy has one worker/thread on CPU 1 (`taskset -c 1`); the upstream (fast_upstream, "
            f"2 epoll threads, 13-byte 200 responses) and every load generator on CPU 0. All proxies run at once, "
            f"only one is under load at a time; loads are interleaved ({cfg.get('reps', 1)} rounds, rotated order). "
            f"All proxies use keep-alive to the upstream and no access log. Warm-up {cfg['warmup']} s before "
            f"each closed-loop run.{warn}")


def render_markdown(r):
    failures = r.get("failures") or {}
    parts = ["# tether macro benchmark\n", setup_text(r)]
    if failures:
        parts.append("**Failures:** " + "; ".join(f"{k}: {v}" for k, v in failures.items()))
    main_rows = [p for p in r.get("proxies", {}) if p in ("tether", "nginx", "haproxy")]
    if main_rows:
        if any(get(r, p, "wrk") for p in main_rows):
            parts += [targets_table(r), throughput_tables(r)]
        parts += [issue15_targets_table(r), tls_section(r)]
        if any(get(r, p, "cancel") for p in main_rows):
            parts.append(cancel_table(r))
        if any(get(r, p, "cancel_tls") for p in main_rows):
            parts.append(cancel_table(r, "cancel_tls"))
        if any(get(r, p, "memory") for p in main_rows):
            parts.append(memory_table(r))
        parts += [scaling_table(r), syscall_table(r), syscall_table(r, "syscalls_tls", "wrk https run (keep-alive)"),
                  syscall_table(r, "syscalls_tls_close", "wrk https run with Connection: close (per new, resumed, "
                                "TLS connection)")]
    parts.append(h2_upstream_section(r))
    tlog = get(r, "tether", "log")
    if tlog:
        ev = ", ".join(f"{k} {v}" for k, v in sorted(tlog["events"].items()))
        parts.append(f"### tether log\n\nEvents: {ev}." + (
            "\n\nWarnings/errors (first 20):\n\n```\n" + "\n".join(tlog["problems"]) + "\n```"
            if tlog["problems"] else " No warnings or errors besides request_cancelled."))
    alive = {p: get(r, p, "survived") for p in r.get("proxies", {}) if get(r, p, "survived") is not None}
    dead = [p for p, ok in alive.items() if not ok]
    if dead:
        parts.append("**Proxies that had exited before the harness stopped them: " + ", ".join(dead) + "**")
    parts.append("![chart](chart.png)")
    return "\n\n".join(p for p in parts if p) + "\n"


def write_markdown(r, outdir):
    text = render_markdown(r)
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write(text)
    return text


def write_chart(r, outdir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = [p for p in ("tether", "nginx", "haproxy") if p in r.get("proxies", {})]
    if not order:  # only the h2c-upstream rows ran: their tables say it all
        return
    labels = [get(r, p, "label") for p in order]
    colors = ["#d62728", "#2ca02c", "#1f77b4", "#9467bd"]
    panels = [
        ("HTTP/1.1 req/s (wrk)", [get(r, p, "wrk", "rps") for p in order]),
        ("h2c req/s (h2load)", [get(r, p, "h2", "rps") for p in order]),
        ("proxy CPU µs / request (wrk)", [get(r, p, "wrk", "cpu_us_per_req") for p in order]),
        ("p99 µs (wrk, closed loop)", [get(r, p, "wrk", "p99_us") for p in order]),
        (f"p99 µs (open loop {r['config']['rate']}/s)", [get(r, p, "fixed_rate", "p99_us") for p in order]),
        ("RSS idle MiB", [(get(r, p, "memory", "idle_kib") or 0) / 1024 for p in order]),
        ("bytes per idle connection", [get(r, p, "memory", "per_conn_bytes") for p in order]),
    ]
    corder = [p for p in ("tether", "nginx", "haproxy", "haproxy-abortonclose") if p in r.get("proxies", {})]
    fig, axes = plt.subplots(3, 3, figsize=(15, 12))
    axes = axes.flatten()
    for ax, (title, vals) in zip(axes, panels):
        ax.bar(labels, [v or 0 for v in vals], color=colors[:len(labels)])
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
    for ax, stat in zip(axes[len(panels):], ("p50_us", "p99_us")):
        width = 0.8 / max(1, len(corder))
        for i, p in enumerate(corder):
            vals = [(get(r, p, "cancel", k, stat) or 0) for k, _ in KINDS]
            ax.bar([x + i * width for x in range(len(KINDS))], vals, width, label=get(r, p, "label"),
                   color=colors[i % len(colors)])
        ax.set_xticks([x + width * (len(corder) - 1) / 2 for x in range(len(KINDS))])
        ax.set_xticklabels([label for _, label in KINDS], fontsize=8)
        ax.set_title(f"cancellation {stat.replace('_us', '')} µs (abort -> upstream notices; 0 = never)",
                     fontsize=10)
        ax.set_yscale("symlog", linthresh=100)
        ax.legend(fontsize=7)
    fig.suptitle(f"tether macro benchmark ({r['mode']}, {r['started']})")
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "chart.png"), dpi=90)
    plt.close(fig)


def write_all(r, outdir):
    write_markdown(r, outdir)
    try:
        write_chart(r, outdir)
    except Exception as e:  # a chart problem must not lose the tables
        print(f"chart failed: {e}", file=sys.stderr)


if __name__ == "__main__":
    d = sys.argv[1]
    with open(os.path.join(d, "results.json")) as f:
        write_all(json.load(f), d)
    print(open(os.path.join(d, "results.md")).read())
