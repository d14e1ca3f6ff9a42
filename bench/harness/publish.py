#!/usr/bin/python3
"""Writes docs/benchmarks.md (and docs/benchmarks/chart.png) from one run's results.json.

usage: /usr/bin/python3 bench/harness/publish.py bench/results/<run> [bench/results/<run with syscall counts>]
The optional second run supplies the system-call table when the first has none (its counts per request do
not depend on background load the way timings do).
The prose lives here so that republishing after a new run keeps it; the optimisation log section is
carried over from the existing docs/benchmarks.md (the lead maintains it by hand), and so is any hand-written
section between "## Machine" and "## Results" (the before/after table of an issue, for instance).
"""
import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
OPT_LOG_HEADING = "## Optimisation log"
OPT_LOG_EMPTY = ("_The lead fills this in: one entry per change to tether made because of these numbers — what "
                 "changed, the commit, and the before/after rows from `results.md`._\n")

INTRO = """# Benchmarks: tether vs nginx vs HAProxy

`bench/run` compares tether with nginx and HAProxy on one machine, over loopback, with the same upstream and the
same pinning. It measures HTTP/1.1 and h2c throughput and latency, the CPU each proxy spends per request, how
fast a client's abort reaches the upstream (tether's reason to exist), and memory.

## Reproduce

```sh
bench/run                     # full run, about 22 minutes (14 of them TLS rows) plus ~6 for the h2c-upstream rows; builds build/release if needed
bench/run --quick             # under 2 minutes: short loads, 30 aborts per kind, 1,000 idle connections
bench/run build/h-bench       # another build dir (or TETHER_BUILD_DIR=...)
bench/run --nice -10          # benchmark at nice -10 (helps only a little against builds running alongside)
bench/run -- --only tether,nginx --skip scaling,abortonclose --duration 30   # harness options
bench/run --quick -- --only tether-h2c,haproxy-h2c,nghttpx-h2c,nginx-h2c   # only the h2c-upstream rows
bench/run --quick -- --only tether,nginx,haproxy --tls-only   # only the TLS rows (--rows KEYS|cleartext|tls picks loads)
/usr/bin/python3 bench/harness/publish.py bench/results/<run>              # regenerate this page from a run
```

`bench/run` first runs `bench/setup.sh` (idempotent: apt-installs wrk, nginx-light, haproxy, nghttp2-proxy for
nghttpx, nghttp2-client for h2load, python3-matplotlib and linux-perf, with a `policy-rc.d` so Debian does not start the nginx/haproxy
services, and stops them if they run). Each run writes `bench/results/<UTC time>[-quick]/`: `results.json` (every
number, plus raw wrk output), `results.md` (the tables below), `chart.png`, the generated proxy configs and each
proxy's log (tether's JSON log has a `request_cancelled` line per cancelled request), and tether's `/metrics` at
the end. Raw results are not committed (`bench/results/.gitignore`).

When the machine is busy and wall-clock numbers are too noisy to compare two builds, count work instead of time:

```sh
bench/instructions build/release/tether /path/to/other/tether             # HTTP/1.1 keep-alive (h2load --h1)
bench/instructions --proto h2c --requests 40000 build/release/tether     # h2c, 10 streams per connection
bench/instructions --proto h1tls build/release/tether /usr/sbin/haproxy /usr/sbin/nginx   # over TLS (h2tls, tlsnew)
```

It runs each binary under valgrind's callgrind twice (2,000 and N requests, from `h2load` against
`fast_upstream`) and prints user-space instructions per request (the difference over N - 2,000), repeatable to
about 0.1% whatever else runs. It sees no kernel time (about two thirds of tether's CPU per request), so it
answers "did this change add work in tether's code", not "how fast is tether".

Run it on an idle machine: the tables have an "other load %" column (CPU used by processes outside the benchmark,
as a share of all cores, from `/proc/stat`) and `results.md` warns when it is above 5%.

## Set-up

| part | what | where |
|---|---|---|
| upstream | `bench/tools/fast_upstream`: epoll, 2 threads, keep-alive, answers every GET with 200 and a 13-byte body; `GET /big?bytes=N` streams N bytes with back-pressure. The same process serves all proxies. | CPU 0 |
| slow upstream | inside `bench/tools/cancel_probe` (see below) | CPU 0 |
| proxies | all three started at once, one worker / one thread each, HTTP/1.1 keep-alive to the upstream, no access log; only one is under load at any time | CPU 1 (`taskset -c 1`) |
| load generators | wrk 1 thread; h2load 1 thread; `fixed_rate`; `conn_holder`; `cancel_probe` | CPU 0 |

Proxy configuration (generated from `bench/harness/configs/`; everything not listed is the proxy's default):

- **tether**: `workers: 1`, `log.access_log: false`, `limits.max_client_connections: 20000`; cancellation at its
  defaults (`mode: propagate`, `half_close: cancel`, `cancel_with: rst`); upstream keep-alive pool at its defaults
  (`max_connections_per_endpoint` and `max_idle_connections_per_endpoint` 1024). One listener serves HTTP/1.1 and
  h2c.
- **nginx 1.22**: `worker_processes 1`, `upstream { keepalive 1024; }` (as many idle upstream connections as the
  others keep: with 256, h2c's 500 concurrent streams made it reconnect constantly) with `proxy_http_version 1.1` and an empty
  `Connection` header (needed for upstream keep-alive), `keepalive_requests` raised from 1000 (else wrk
  reconnects every 1000 requests; the others have no such limit), `access_log off`, h2c on a second port
  (`listen ... http2` without TLS = prior knowledge). Cancellation needs nothing: `proxy_ignore_client_abort off`
  is the default. `proxy_buffering` stays on (default), so a slow client's body is buffered to a temp file.
- **HAProxy 2.6**: `nbthread 1`, `mode http`, default keep-alive and `http-reuse safe`, timeouts 5 s / 60 s,
  `maxconn 9500` (see fd limit below), h2c via `bind ... proto h2` on a second port. Cancellation is measured
  twice: with the defaults and with `option abortonclose`, which is what an operator who wants aborts to reach the
  backend sets (without it HAProxy keeps the server request running when the client closes).
- **TLS (issue 15's rows)**: each run makes one self-signed ECDSA P-256 certificate (SAN localhost, 127.0.0.1); each
  proxy gets a third listener with it (tether: a second listener with `tls:`; HAProxy: cert+key in one PEM) offering
  ALPN h2 and http/1.1. tether has no TLS keys besides cert/key, so it runs OpenSSL 3.0's defaults (server suite
  preference, tickets on); nginx and HAProxy are set to the same (`TLSv1.3`, suites
  `TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256` in server order, groups
  `X25519:P-256:X448:P-521:P-384`, set explicitly so that no build's defaults differ). All three negotiate TLSv1.3,
  TLS_AES_256_GCM_SHA384, X25519, ECDSA; results.json records it per proxy (`tls`: `openssl s_client -brief`;
  `negotiated`: what h2load, tls_connect and fixed_rate got). Rows: see "Where a TLS request's time goes".

## What is measured, and how

- **Interleaving**: the machine may be shared, so each load below runs in 3 rounds; every round runs each proxy
  once, in a rotated order, and the tables show the per-field median over the rounds (plus the req/s range).
  A burst of outside load then hits all proxies alike instead of whichever happened to be running.
- **Throughput and latency, closed loop**: `wrk -t1 -c50 -d10s` after a 2 s warm-up; p50/p99/p99.9 from wrk's own
  histogram (a Lua `done()` hook, `bench/harness/report.lua`, prints p99.9 and error counts).
- **Latency at a fixed rate, open loop**: Debian has no wrk2, and h2load's `-r` is a *connection* rate, so
  `bench/tools/fixed_rate` sends request k at t0 + k/rate on connection k mod 50 and measures latency from the
  request's due time: a stall is charged to every request queued behind it (no coordinated omission). The rate
  (5,000/s) is far below every proxy's saturation. "worst send lag" is how late the tool itself sent a request to
  an idle connection: a large value means the machine, not the proxy, delayed it.
- **h2c**: `h2load -t1 -c50 -m10 -D 10 --warm-up-time=2`; h2load 1.52 prints no percentiles, so they come from its
  `--log-file` (per-request latency).
- **CPU per request**: utime+stime of the proxy's processes (`/proc/PID/stat` fields 14+15, all threads; nginx:
  master + worker) before and after the measured load, divided by the requests completed. "proxy CPU %" is the
  same over wall time: near 100% means the proxy was the bottleneck. Load generator CPU comes from its rusage.
  "of which user / kernel" splits it (utime / stime): the kernel part is the TCP work of the proxy's system calls,
  including loopback delivery to the peer, which runs in the sender's context; it is much the same for every
  proxy, so it bounds what optimising a proxy's own code can gain.
- **Cancellation**: `bench/tools/cancel_probe` runs a slow upstream (never answers requests carrying
  `x-probe-id`) in its own thread and the client in another, so both timestamps use one CLOCK_MONOTONIC. Per probe
  the client sends `GET /slow/<id>` through the proxy, waits until the upstream has the request, then aborts:
  **FIN** = `close()`, **RST** = `SO_LINGER {1, 0}` + `close()`, **h2 RST_STREAM** = `RST_STREAM(CANCEL)` on an
  h2c connection that stays open. The upstream records when it sees the proxy's upstream connection end (read
  returns 0 = FIN, ECONNRESET = RST; "upstream saw" counts which). Reported: noticed - aborted, p50/p99/max, and
  the share noticed within 2 s. 200 aborts per kind, one after another (a probe not noticed within 20 ms does not
  hold up the next; it still gets its 2 s).
- **Memory**: VmRSS (`/proc/PID/status`, summed over the proxy's processes) right after start and one request
  ("idle"); with 9,000 idle keep-alive client connections that each did one request (`bench/tools/conn_holder`,
  opened 50 at a time, each with its GET, in two holders: 900 then 8,100). Bytes per idle connection: the
  **slope** = RSS growth from 900 to 9,000 connections / 8,100 (what one more idle connection costs), and the
  **average** = (RSS with all − idle RSS) / 9,000, which also carries what the first requests left behind (pooled
  upstream connections, allocator caches); and the growth while the proxy streams a 1 GiB body from
  the upstream to a client that reads 1 MiB/s, over 10 s (nginx's default `proxy_buffering` spools what the client
  cannot take yet to a temp file, reported as "buffered on disk").
  **fd limit**: this machine's hard `RLIMIT_NOFILE` is 20,000 and cannot be raised (no CAP_SYS_RESOURCE), so the
  test uses 9,000 connections instead of 10,000 (HAProxy needs two fds per connection in its maxconn
  arithmetic). `--idle-conns` changes it where the limit allows.
- **System calls per request**: last, `strace -c -f` on each proxy's worker during a 3 s wrk run, divided by
  the requests wrk completed. strace slows the proxy a lot, so only the counts mean something.
- **tether 1 vs 2 workers**: both unpinned, `wrk -t2 -c50`, interleaved like the rest; with 2 cores shared by
  tether, wrk and the upstream the table reports each one's CPU so the split is visible. On a 2-core machine this
  cannot show 2x: wrk and the upstream need a core's worth between them.

## Targets

Ratios are taken within one run. tether CPU/request ≤ 0.8 × the best of nginx and HAProxy; req/s ≥ the best;
p99 ≤ the best; cancellation noticed 100% for FIN, RST and RST_STREAM with p50 ≤ nginx's and p99 ≤ 1 ms; RSS idle
and per idle connection ≤ nginx's; 2 workers ≥ 1.7 × one worker. `results.md` prints each one as met / not met
with its ratio.
"""


def machine_section(r):
    m = r["machine"]
    return (f"## Machine (latest full run)\n\n"
            f"- {m['nproc']} vCPUs, {m['cpu_model']}, {m['mem_gib']} GiB RAM, kernel {m['kernel']} "
            "(a Firecracker VM when this page was written: a 200 µs sleep there overshoots to ~0.3 ms at p50, "
            "~0.6 ms at p99 and several ms at worst, and that jitter shows up in every latency percentile)\n"
            f"- {m['nginx']}; {m['haproxy']}\n- {m['wrk']}; {m['h2load']}\n"
            f"- tether {m['tether_commit']}{' plus uncommitted changes in proxy/' if m.get('tether_dirty') else ''}, "
            f"binary built {m.get('tether_binary_mtime', '?')}\n"
            f"- load average when the run started: {' '.join(m['loadavg_at_start'])}; benchmark processes at nice "
            f"{m.get('nice', 0)} (`bench/run --nice`)\n")


def results_section(r):
    md = report.render_markdown(r)  # same text as the run's results.md
    body = md.split("\n", 2)[2]            # drop the "# tether macro benchmark" title
    body = body.replace("![chart](chart.png)", "![chart](benchmarks/chart.png)")
    if r.get("syscalls_from"):
        body = body.replace("### System calls per request", f"### System calls per request (from the run of "
                            f"{r['syscalls_from']})", 1)
    # One level below "## Results": the run's own sections must not read as sections of this page.
    body = re.sub(r"^(#{2,3}) ", lambda m: "#" + m.group(1) + " ", body, flags=re.M)
    return "## Results (latest full run)\n\n" + body


def old_hand_sections():
    """Hand-written sections between the machine bullets and "## Results" in the existing page."""
    try:
        with open(DOC) as f:
            text = f.read()
    except OSError:
        return ""
    start = text.find("## Machine (latest full run)\n")
    end = text.find("\n## Results (latest full run)\n")
    if start < 0 or end < start:
        return ""
    # The machine bullets (and their indented continuation lines) end at the first blank line.
    gap = text.find("\n\n", text.find("\n\n", start) + 2)
    return text[gap + 2:end + 1] if 0 <= gap < end else ""


def old_optimisation_log():
    try:
        with open(DOC) as f:
            text = f.read()
    except OSError:
        return OPT_LOG_EMPTY
    m = re.search(re.escape(OPT_LOG_HEADING) + r"\n\n(.*)\Z", text, re.S)
    return m.group(1) if m and m.group(1).strip() else OPT_LOG_EMPTY


def main():
    run = sys.argv[1]
    with open(os.path.join(run, "results.json")) as f:
        r = json.load(f)
    if len(sys.argv) > 2:
        with open(os.path.join(sys.argv[2], "results.json")) as f:
            other = json.load(f)
        for name, p in other.get("proxies", {}).items():
            if "syscalls" in p and name in r.get("proxies", {}) and "syscalls" not in r["proxies"][name]:
                r["proxies"][name]["syscalls"] = p["syscalls"]
                r["syscalls_from"] = other["started"]
    os.makedirs(os.path.join(ROOT, "docs", "benchmarks"), exist_ok=True)
    if os.path.exists(os.path.join(run, "chart.png")):
        shutil.copy(os.path.join(run, "chart.png"), os.path.join(ROOT, "docs", "benchmarks", "chart.png"))
    log = old_optimisation_log()
    parts = [INTRO, machine_section(r)]
    hand = old_hand_sections()
    if hand:
        parts.append(hand.rstrip("\n") + "\n")
    text = "\n".join(parts + [results_section(r), OPT_LOG_HEADING + "\n", log])
    with open(DOC, "w") as f:
        f.write(text)
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
