#!/usr/bin/python3
"""Macro benchmark: tether vs nginx vs HAProxy on loopback. Driven by bench/run.

Layout of one run (every load is bounded in time and count; every process is stopped by PID):
  fast_upstream (CPU 0, 2 threads) and the three proxies (each one worker/thread, all on CPU 1; only the
  one under load is busy) are started once; load generators run on CPU 0.
    1. memory, one proxy at a time: idle -> N idle keep-alive connections -> streaming a large body to a
       slow reader;
    2. `reps` interleaved rounds of: wrk closed loop, fixed_rate open loop, h2load h2c - each proxy once
       per round in rotated order; the report uses the median round;
    3. cancellation probes (fin, rst, h2rst) per proxy.
  With TLS rows (default; --rows picks loads, --tls-only runs only the TLS rows): each of the three proxies also
    has a TLS listener with the run's certificate (proxies.make_cert, TLS settings alike: proxies.TLS_ALIKE), and
    the interleaved rounds add: wrk https keep-alive, h2load https (h2 via ALPN), h2load h2c with few connections
    and streams, wrk https with `Connection: close` (a new connection per request; wrk resumes each connection's
    previous session), tls_connect (full handshakes, and resumed ones), fixed_rate --tls; strace counts on the https wrk load too.
  Then HAProxy with `option abortonclose` (cancellation only) and tether 1 vs 2 workers (unpinned,
  interleaved the same way).
  h2c-upstream rows (tether-h2c, haproxy-h2c, nghttpx-h2c, nginx-h2c in --only): the proxies speaking HTTP/2
  cleartext to `fast_upstream --h2c` (its own process on CPU 0): interleaved wrk (HTTP/1.1 client) and h2load (h2c client)
  rounds, then the cancellation probes against cancel_probe's h2c upstream, which times each RST_STREAM's arrival
  (and counts its error code).
Results: results.json, results.md, chart.png in the output directory.
"""
import argparse
import atexit
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procs  # noqa: E402
import proxies  # noqa: E402
import report  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LOADGEN_CPU = "0"
PROXY_CPU = "1"

FULL = dict(reps=3, duration=10, warmup=2, connections=50, rate=5000, h2_streams=10, cancel_count=200,
            few_connections=10, few_streams=5,
            cancel_window_ms=2000, idle_conns=9000, slow_seconds=10, slow_rate=1 << 20, big_bytes=1 << 30)
QUICK = dict(reps=1, duration=3, warmup=1, connections=50, rate=2000, h2_streams=10, cancel_count=30,
             few_connections=10, few_streams=5,
             cancel_window_ms=2000, idle_conns=1000, slow_seconds=3, slow_rate=1 << 20, big_bytes=1 << 30)


# The interleaved loads, by key (results.json: proxies.<name>.<key>). --rows takes keys or the group names.
CLEARTEXT_ROWS = ("wrk", "fixed_rate", "h2", "h2_few")
TLS_ROWS = ("wrk_tls", "h2_tls", "wrk_tls_close", "tls_full", "tls_resume", "fixed_rate_tls")
ROW_GROUPS = {"cleartext": CLEARTEXT_ROWS, "tls": TLS_ROWS}


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def children_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_loadgen(argv, timeout, meter_pids):
    """Runs one bounded load generator pinned to LOADGEN_CPU; returns (stdout, cpu accounting).
    The generator's own CPU comes from RUSAGE_CHILDREN (it is the only child reaped meanwhile)."""
    meter = procs.CpuMeter(meter_pids).start()
    c0 = children_cpu_seconds()
    out, _ = procs.run(argv, cpus=LOADGEN_CPU, timeout=timeout)
    cpu = meter.stop({"loadgen": children_cpu_seconds() - c0})
    return out, cpu


def cpu_fields(cpu, requests, proxy_role="proxy"):
    """CPU time per request of the proxy (µs) and each role's utilisation (% of one core)."""
    wall = cpu["wall"]
    out = {"cpu_us_per_req": 1e6 * cpu[proxy_role] / requests if requests else None,
           "other_busy_pct": round(cpu["other_busy_pct"], 1)}
    # User space vs kernel: the kernel part (syscalls, and loopback TCP delivery, which runs in the sender's
    # context) is much the same for every proxy, so it bounds what optimising user space can gain.
    user, system = cpu.get("split", {}).get(proxy_role, (None, None))
    if requests and user is not None:
        out["user_us_per_req"] = 1e6 * user / requests
        out["sys_us_per_req"] = 1e6 * system / requests
    for role in ("proxy", "upstream", "loadgen"):
        if role in cpu:
            out[f"{role}_cpu_pct"] = round(100.0 * cpu[role] / wall, 1)
    return out


# ------------------------------------------------------------------ phases
def phase_wrk(t, px, pids, cfg, url_path="/", threads=1, cpus=LOADGEN_CPU, tls=False, close=False):
    """wrk closed loop; tls: https to px.tls (HTTP/1.1, no ALPN); close: `Connection: close` on every request, so
    every request is a new connection. With tls these are RESUMED handshakes after each connection's first: wrk
    keeps its SSL object across reconnects (SSL_clear), so it offers the ticket of its previous connection."""
    url = f"https://{px.tls}{url_path}" if tls else f"http://{px.h1}{url_path}"
    lua = os.path.join(HERE, "report.lua")
    hdr = ["-H", "Connection: close"] if close else []
    procs.run(["wrk", "-t", str(threads), "-c", str(cfg["connections"]), "-d", f"{cfg['warmup']}s"] + hdr + [url],
              cpus=cpus, timeout=cfg["warmup"] + 30)
    meter = procs.CpuMeter(pids).start()
    c0 = children_cpu_seconds()
    out, _ = procs.run(["wrk", "-t", str(threads), "-c", str(cfg["connections"]), "-d", f"{cfg['duration']}s",
                        "--timeout", "5s", "-s", lua] + hdr + [url], cpus=cpus, timeout=cfg["duration"] + 30)
    cpu = meter.stop({"loadgen": children_cpu_seconds() - c0})
    m = re.search(r"WRKJSON (\{.*\})", out)
    if not m:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    w = json.loads(m.group(1))
    w["rps"] = w["requests"] / (w["duration_us"] / 1e6)
    w["errors"] = w["connect_errors"] + w["read_errors"] + w["write_errors"] + w["timeouts"]
    w.update(cpu_fields(cpu, w["requests"]))
    w["raw"] = out
    return w


def phase_fixed_rate(t, px, pids, cfg, tls=False):
    """Open loop; tls: over px.tls, every handshake done before the first request is due."""
    out, cpu = run_loadgen([t["fixed_rate"], "--target", px.tls if tls else px.h1, "--rate", str(cfg["rate"]),
                            "--connections", str(cfg["connections"]), "--duration-s", str(cfg["duration"])] +
                           (["--tls"] if tls else []), cfg["duration"] + 30, pids)
    r = json.loads(out)
    if not r.get("negotiated"):
        r.pop("negotiated", None)
    r.update(cpu_fields(cpu, r["ok"] + r["non2xx"]))
    return r


def phase_h2load(t, px, pids, cfg, outdir, tls=False, few=False):
    """h2load: h2c prior knowledge to px.h2, or (tls) h2 via ALPN to px.tls; few: few_connections x few_streams."""
    logf = os.path.join(outdir, f"h2load-{px.name}.tsv")
    conns, streams = (cfg["few_connections"], cfg["few_streams"]) if few else (cfg["connections"], cfg["h2_streams"])
    argv = ["h2load", "-c", str(conns), "-m", str(streams), "-t", "1",
            f"--warm-up-time={cfg['warmup']}", "-D", str(cfg["duration"]), f"--log-file={logf}",
            f"https://{px.tls}/" if tls else f"http://{px.h2}/"]
    out, cpu = run_loadgen(argv, cfg["duration"] + cfg["warmup"] + 30, pids)
    r = parse_h2load(out, logf)
    m = re.search(r"TLS Protocol: (\S+)\nCipher: (\S+)\nServer Temp Key: ([^\n]*)\nApplication protocol: (\S+)", out)
    if m:
        r["negotiated"] = {"version": m.group(1), "suite": m.group(2), "group": m.group(3).split()[0], "alpn": m.group(4)}
    os.remove(logf)  # large; the summary keeps what matters
    r.update(cpu_fields(cpu, r["requests"]))
    r["raw"] = out
    return r


def parse_h2load(out, logf):
    m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", out)
    reqs = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                     r"(\d+) errored, (\d+) timeout", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    if not (m and reqs and codes):
        raise RuntimeError(f"cannot parse h2load output:\n{out}")
    lat = []
    with open(logf) as f:  # start time, status, microseconds until end of response
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                lat.append(int(parts[2]))
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else None  # noqa: E731
    return {"rps": float(m.group(3)), "requests": int(reqs.group(3)), "succeeded": int(reqs.group(4)),
            "failed": int(reqs.group(5)), "errored": int(reqs.group(6)), "timeout": int(reqs.group(7)),
            "non2xx": int(codes.group(2)) + int(codes.group(3)) + int(codes.group(4)),
            "p50_us": pct(50), "p99_us": pct(99), "p999_us": pct(99.9), "max_us": lat[-1] if lat else None}


def phase_tls_connect(t, px, pids, cfg, resume):
    """New TLS connections: handshake + one GET + close, connections-at-a-time; resume: each offers the ticket its
    slot's previous connection received."""
    out, cpu = run_loadgen([t["tls_connect"], "--target", px.tls, "--concurrency", str(cfg["connections"]),
                            "--duration-s", str(cfg["duration"])] + (["--resume"] if resume else []),
                           cfg["duration"] + 30, pids)
    r = json.loads(out)
    r["rps"] = r["conn_per_s"]
    r["p50_us"], r["p99_us"] = r["total_p50_us"], r["total_p99_us"]  # connect to response, per connection
    r.update(cpu_fields(cpu, r["connections"]))
    if resume and r["offered"] and r["resumed_pct"] < 99.0:
        log(f"  {px.label}: only {r['resumed_pct']:.1f}% of connections resumed (below 99%)")
    return r


def phase_cancel(t, px, cfg, kinds=("fin", "rst", "h2rst"), tls=False):
    """tls: the client side over px.tls (h2rst inside h2 over TLS), plus close_notify (the alert alone)."""
    res = {}
    for kind in kinds:
        target = px.tls if tls else px.h2 if kind == "h2rst" else px.h1
        out, _ = procs.run([t["cancel_probe"], "--upstream", proxies.PROBE, "--target", target, "--kind", kind,
                            "--count", str(cfg["cancel_count"]), "--window-ms", str(cfg["cancel_window_ms"]),
                            "--upstream-protocol", px.upstream_protocol] + (["--tls"] if tls else []),
                           cpus=LOADGEN_CPU, timeout=cfg["cancel_count"] * 3 + 60)
        r = json.loads(out)
        d = sorted(r.pop("deltas_us"))
        pct = lambda p: d[min(len(d) - 1, int(p / 100 * len(d)))] if d else None  # noqa: E731
        r.update({"p50_us": pct(50), "p99_us": pct(99), "max_us": d[-1] if d else None,
                  "noticed_pct": 100.0 * r["noticed"] / r["count"] if r["count"] else 0.0})
        res[kind] = r
        codes = f" RST_STREAM codes {r['rst_stream_codes']}" if r.get("rst_stream_codes") else ""
        log(f"  cancel {kind:6s} noticed {r['noticed']}/{r['count']} p50 {r['p50_us']} us p99 {r['p99_us']} us"
            f"{codes}")
    return res


def phase_memory(t, px, cfg, tls=False):
    """RSS idle, with N idle keep-alive connections, and while streaming a big body to a slow reader.
    The N connections come in two holders, N/10 then the rest, so the cost of one more idle connection (the slope
    between the two) is reported apart from the average, which also carries what the first burst of concurrent
    requests left behind (upstream keep-alive connections, allocator caches). Connections are opened 50 at a time
    (each with its one GET), so no proxy needs more than ~50 upstream connections for them.
    tls: the idle connections are TLS ones to px.tls (no streaming part)."""
    mem = {"idle_kib": px.rss_kib()}
    first_n = max(1, cfg["idle_conns"] // 10)
    holders, oks, fails, rss = [], [], [], []
    for n in (first_n, cfg["idle_conns"] - first_n):
        holder = procs.start([t["conn_holder"], "--target", px.tls if tls else px.h1, "--connections", str(n),
                              "--hold-s", "120", "--timeout-s", "60", "--batch", "50"] + (["--tls"] if tls else []),
                             cpus=LOADGEN_CPU,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        holders.append(holder)
        line = holder.stdout.readline().split()  # "ready ok failed"; bounded by --timeout-s
        time.sleep(1.0)  # let the proxy settle (lazy frees, worker wake-ups)
        rss.append(px.rss_kib())
        oks.append(int(line[1]) if len(line) == 3 else 0)
        fails.append(int(line[2]) if len(line) == 3 else n)
    mem["conns_kib"] = rss[-1]
    mem["conns_ok"] = sum(oks)
    mem["conns_failed"] = sum(fails)
    for holder in holders:
        holder.stdin.close()
        holder.wait(timeout=30)
        procs.stop(holder)
    if mem["conns_ok"]:
        mem["per_conn_bytes"] = (mem["conns_kib"] - mem["idle_kib"]) * 1024 / mem["conns_ok"]
    if oks[1]:
        mem["per_conn_marginal_bytes"] = (rss[1] - rss[0]) * 1024 / oks[1]
    time.sleep(1.0)
    mem["after_conns_kib"] = px.rss_kib()
    if not tls:
        mem.update(slow_reader(px, cfg))
    return mem


def slow_reader(px, cfg):
    """GET /big?bytes=N through the proxy and read it at slow_rate bytes/s for slow_seconds; sample RSS."""
    host, port = px.h1.rsplit(":", 1)
    before = px.rss_kib()
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(f"GET /big?bytes={cfg['big_bytes']} HTTP/1.1\r\nHost: {px.h1}\r\n\r\n".encode())
    got, peak, chunk = 0, 0, 64 * 1024
    start = time.monotonic()
    end = start + cfg["slow_seconds"]
    while time.monotonic() < end:
        due = start + got / cfg["slow_rate"]  # token bucket: never ahead of slow_rate
        if time.monotonic() < due:
            time.sleep(min(0.05, due - time.monotonic()))
            continue
        data = s.recv(chunk)
        if not data:
            break
        got += len(data)
        peak = max(peak, px.rss_kib())
    peak = max(peak, px.rss_kib())
    spilled = px.disk_buffer_bytes()  # nginx buffers what the client cannot take yet in a temp file
    s.close()
    return {"slow_before_kib": before, "slow_peak_kib": peak, "slow_delta_kib": peak - before,
            "slow_read_bytes": got, "slow_seconds": cfg["slow_seconds"], "slow_disk_buffer_bytes": spilled}


def phase_syscalls(t, px, cfg, outdir, tls=False, close=False):
    """System calls per request under a short wrk load, counted with `strace -c` on the proxy's worker.
    strace slows the proxy down a lot, so only the counts per request mean anything, not the speed.
    tls: the same over https (wrk keep-alive, HTTP/1.1); close: `Connection: close`, i.e. per new connection
    (resumed handshakes: see phase_wrk)."""
    out_file = os.path.join(outdir, f"strace-{px.name}{'-tls' if tls else ''}{'-close' if close else ''}.txt")
    worker = px.worker_pids()[0]
    tracer = procs.start(["strace", "-c", "-f", "-p", str(worker), "-o", out_file],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # attach
    out, _ = procs.run(["wrk", "-t1", "-c", str(cfg["connections"]), "-d", "3s", "-s",
                        os.path.join(HERE, "report.lua")] + (["-H", "Connection: close"] if close else []) +
                       [f"https://{px.tls}/" if tls else f"http://{px.h1}/"], cpus=LOADGEN_CPU, timeout=60)
    requests = json.loads(re.search(r"WRKJSON (\{.*\})", out).group(1))["requests"]
    procs.stop(tracer)  # SIGTERM: strace detaches and writes its summary
    calls = {}
    with open(out_file) as f:
        for line in f:
            parts = line.split()
            # "% time  seconds  usecs/call  calls  [errors]  syscall"
            if len(parts) >= 5 and parts[0].replace(".", "").isdigit() and parts[-1] != "total":
                calls[parts[-1]] = int(parts[3])
    per_req = {k: v / requests for k, v in calls.items() if k not in ("rt_sigtimedwait",)}
    return {"requests": requests, "total_per_req": sum(per_req.values()),
            "per_req": dict(sorted(per_req.items(), key=lambda kv: -kv[1]))}


def tether_log_summary(path):
    """Counts events by name and level in tether's JSON log (the evidence for cancellations/errors)."""
    events, problems = {}, []
    try:
        with open(path) as f:
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    problems.append(line.strip()[:300])
                    continue
                key = e.get("event", "?")
                events[key] = events.get(key, 0) + 1
                if e.get("level") in ("error",) or (e.get("level") == "warn" and key != "request_cancelled"):
                    if len(problems) < 20:
                        problems.append(line.strip()[:300])
    except OSError:
        pass
    return {"events": events, "problems": problems}


# ------------------------------------------------------------------ orchestration
# The machine may be shared (other people's builds come and go), so load runs are interleaved: every
# repetition runs each proxy once, in a rotated order, and the report takes the median over repetitions.
# A burst of outside load then hits all proxies alike instead of whichever happened to run at the time.

def median_of(reps):
    """Per-field median over repetitions (numbers only); spread of req/s kept as rps_min/rps_max."""
    out = {}
    for key in reps[0]:
        vals = [r[key] for r in reps if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)]
        if len(vals) == len(reps):
            vals.sort()
            mid = len(vals) // 2
            out[key] = vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2
    rps = [r["rps"] for r in reps if r.get("rps") is not None]
    if rps:
        out["rps_min"], out["rps_max"] = min(rps), max(rps)
    out["reps"] = len(reps)
    return out


def rotated(items, k):
    k %= len(items)
    return items[k:] + items[:k]


def run_interleaved(loads, pxs, upstream, cfg, store):
    """loads: [(key, fn(px, pids) -> dict)]. Runs cfg['reps'] rounds; store[px.name][key] = median."""
    reps = {(px.name, key): [] for px in pxs for key, _ in loads}
    for rep in range(cfg["reps"]):
        for key, fn in loads:
            for px in rotated(pxs, rep):
                pids = {"proxy": px.pids(), "upstream": [upstream.pid]}
                res = fn(px, pids)
                res.pop("raw", None)
                if res.get("negotiated"):  # strings: kept once per proxy and load, not in the medians
                    store[px.name].setdefault("negotiated", {})[key] = res.pop("negotiated")
                reps[(px.name, key)].append(res)
                log(f"  rep {rep + 1} {key:10s} {px.label:10s} {res.get('rps') or res.get('achieved_rps'):>9.0f} "
                    f"req/s p99 {res.get('p99_us') or 0:>8.0f} us  proxy CPU "
                    f"{res.get('cpu_us_per_req') or 0:.1f} us/req (user {res.get('user_us_per_req') or 0:.1f})  "
                    f"other load {res.get('other_busy_pct')}%")
    for (name, key), lst in reps.items():
        store[name][key] = median_of(lst)
        store[name][key + "_reps"] = lst


def bench_main(t, pxs, upstream, cfg, outdir, results):
    store = results.setdefault("proxies", {})
    for px in pxs:
        store[px.name] = {"label": px.label}
        if px.tls:
            store[px.name]["tls"] = proxies.negotiated(px.tls)
            log(f"{px.label}: TLS on {px.tls}: {store[px.name]['tls']}")
    # Memory first, one proxy at a time, on fresh processes.
    skip = cfg["skip"]
    for px in pxs if "memory" not in skip and "memory_cleartext" not in skip else []:
        m = store[px.name]["memory"] = phase_memory(t, px, cfg)
        log(f"{px.label}: RSS idle {m['idle_kib']} KiB; {m['conns_ok']} idle conns {m['conns_kib']} KiB "
            f"({m.get('per_conn_bytes') or 0:.0f} B/conn average, {m.get('per_conn_marginal_bytes') or 0:.0f} B/conn slope); streaming +{m['slow_delta_kib']} KiB")
    for px in [p for p in pxs if p.tls] if "memory" not in skip and "memory_tls" not in skip else []:
        m = store[px.name]["memory_tls"] = phase_memory(t, px, cfg, tls=True)
        log(f"{px.label}: {m['conns_ok']} idle TLS conns {m['conns_kib']} KiB ({m.get('per_conn_bytes') or 0:.0f} "
            f"B/conn average, {m.get('per_conn_marginal_bytes') or 0:.0f} B/conn slope)")
    loads = {"wrk": lambda px, pids: phase_wrk(t, px, pids, cfg),
             "fixed_rate": lambda px, pids: phase_fixed_rate(t, px, pids, cfg),
             "h2": lambda px, pids: phase_h2load(t, px, pids, cfg, outdir),
             "h2_few": lambda px, pids: phase_h2load(t, px, pids, cfg, outdir, few=True),
             "wrk_tls": lambda px, pids: phase_wrk(t, px, pids, cfg, tls=True),
             "h2_tls": lambda px, pids: phase_h2load(t, px, pids, cfg, outdir, tls=True),
             "wrk_tls_close": lambda px, pids: phase_wrk(t, px, pids, cfg, tls=True, close=True),
             "tls_full": lambda px, pids: phase_tls_connect(t, px, pids, cfg, resume=False),
             "tls_resume": lambda px, pids: phase_tls_connect(t, px, pids, cfg, resume=True),
             "fixed_rate_tls": lambda px, pids: phase_fixed_rate(t, px, pids, cfg, tls=True)}
    run_interleaved([(k, loads[k]) for k in cfg["rows"]], pxs, upstream, cfg, store)
    for px in pxs:
        if "cancel" not in skip and "cancel_cleartext" not in skip:
            log(f"{px.label}: cancellation")
            store[px.name]["cancel"] = phase_cancel(t, px, cfg)
        if px.tls and "cancel" not in skip and "cancel_tls" not in skip:
            log(f"{px.label}: cancellation over TLS")
            store[px.name]["cancel_tls"] = phase_cancel(t, px, cfg, ("fin", "rst", "close_notify", "h2rst"), tls=True)
        store[px.name]["rss_end_kib"] = px.rss_kib()
        if isinstance(px, proxies.Tether):
            with open(os.path.join(outdir, "tether-metrics.txt"), "w") as f:
                f.write(px.metrics())
    if "syscalls" not in cfg["skip"]:
        variants = [(False, False, "syscalls")] if "wrk" in cfg["rows"] else []
        variants += [(True, False, "syscalls_tls")] if "wrk_tls" in cfg["rows"] else []
        variants += [(True, True, "syscalls_tls_close")] if "wrk_tls_close" in cfg["rows"] else []
        for tls, close, key in variants:
            for px in pxs:  # last: strace slows the proxy down and must not touch the other measurements
                if tls and not px.tls:
                    continue
                try:
                    sc = store[px.name][key] = phase_syscalls(t, px, cfg, outdir, tls=tls, close=close)
                    top = ", ".join(f"{k} {v:.2f}" for k, v in list(sc["per_req"].items())[:6])
                    log(f"{px.label}{' (https)' if tls else ''}{' (Connection: close)' if close else ''}: "
                        f"{sc['total_per_req']:.1f} syscalls/request ({top})")
                except Exception as e:  # strace may be missing or not permitted
                    log(f"{px.label}: syscall count failed: {e}")


def bench_h2_upstream(t, pxs, upstream, cfg, outdir, results):
    """The h2c-upstream rows: closed-loop CPU/request and latency with an HTTP/1.1 and an h2c client, then
    cancellation timed at the upstream (RST_STREAM arrival)."""
    store = results.setdefault("proxies", {})
    for px in pxs:
        store[px.name] = {"label": px.label, "upstream_protocol": px.upstream_protocol}
    run_interleaved([("wrk", lambda px, pids: phase_wrk(t, px, pids, cfg)),
                     ("h2", lambda px, pids: phase_h2load(t, px, pids, cfg, outdir))],
                    pxs, upstream, cfg, store)
    for px in pxs:
        log(f"{px.label}: cancellation (h2c upstream)")
        store[px.name]["cancel"] = phase_cancel(t, px, cfg)


def bench_abortonclose(t, cfg, outdir, results, upstream_protocol="http1"):
    px = proxies.Haproxy(outdir, PROXY_CPU, abortonclose=True, upstream_protocol=upstream_protocol)
    log(f"{px.label}: cancellation only")
    px.start()
    try:
        r = results["proxies"].setdefault(px.name, {"label": px.label})
        r["cancel"] = phase_cancel(t, px, cfg)
    finally:
        px.stop()


def bench_scaling(t, upstream, cfg, outdir, results):
    """tether with 1 and 2 workers under identical, unpinned conditions (2 cores shared by everything)."""
    subprocess.run(["taskset", "-a", "-p", "-c", "0,1", str(upstream.pid)], check=True, capture_output=True)
    pxs = [proxies.Tether(outdir, "0,1", t["tether"], workers=w, port=18050 + w, name=f"tether-scaling-{w}w")
           for w in (1, 2)]
    store = {px.name: {} for px in pxs}
    try:
        for px in pxs:
            px.start()
        log("tether 1 vs 2 workers, unpinned, wrk -t2")
        run_interleaved([("wrk", lambda px, pids: phase_wrk(t, px, pids, cfg, threads=2, cpus="0,1"))],
                        pxs, upstream, cfg, store)
        results["scaling"] = {f"{px.workers}w": store[px.name]["wrk"] for px in pxs}
        results["scaling_reps"] = {f"{px.workers}w": store[px.name]["wrk_reps"] for px in pxs}
    finally:
        for px in pxs:
            px.stop()
        subprocess.run(["taskset", "-a", "-p", "-c", LOADGEN_CPU, str(upstream.pid)], capture_output=True)


def machine_info(t):
    def cmd(argv):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (p.stdout + p.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "unavailable"

    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {"nproc": os.cpu_count(), "cpu_model": model, "mem_gib": round(mem_kib / 1024 / 1024, 1),
            "kernel": os.uname().release, "nginx": cmd(["nginx", "-v"]), "haproxy": cmd(["haproxy", "-v"]),
            "nghttpx": cmd(["nghttpx", "--version"]),
            "wrk": cmd(["wrk", "-v"]), "h2load": cmd(["h2load", "--version"]), "openssl": cmd(["openssl", "version"]),
            "tether_commit": cmd(["git", "-C", os.path.join(HERE, "..", ".."), "rev-parse", "--short", "HEAD"]),
            "tether_dirty": bool(subprocess.run(["git", "-C", os.path.join(HERE, "..", ".."), "status",
                                                 "--porcelain", "--", "proxy"], capture_output=True,
                                                text=True).stdout.strip()),
            "tether_binary_mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.path.getmtime(t["tether"]))),
            "loadavg_at_start": open("/proc/loadavg").read().split()[:3], "nice": os.nice(0)}


H2C_UPSTREAM_ROWS = ("tether-h2c", "haproxy-h2c", "nghttpx-h2c", "nginx-h2c")


def start_proxies(names, candidates, results):
    """Starts each named proxy (all on CPU 1 at once; only the one under load is busy). A proxy that fails to
    start is recorded and skipped: one broken proxy must not lose the others' numbers."""
    pxs = []
    for name in names:
        px = candidates[name]()
        try:
            log(f"{px.label}: starting on CPU {px.cpus}")
            pxs.append(px.start())
        except Exception as e:
            log(f"{name}: FAILED to start: {e}")
            results.setdefault("failures", {})[name] = str(e)
    return pxs


def run_group(fn, pxs, what, outdir, results):
    """Runs one group's measurements, then stops its proxies and records whether each survived."""
    try:
        fn()
    except Exception as e:
        log(f"FAILED: {e}")
        results.setdefault("failures", {})[what] = repr(e)
    finally:
        for px in pxs:
            results.setdefault("proxies", {}).setdefault(px.name, {})["survived"] = px.proc.poll() is None
            px.stop()
            if isinstance(px, proxies.Tether):
                results["proxies"][px.name]["log"] = tether_log_summary(os.path.join(outdir, f"{px.name}.log"))


def run_h2_upstream_rows(t, names, cfg, tether, outdir, results, abortonclose):
    """tether-h2c, haproxy-h2c, nghttpx-h2c, nginx-h2c (grpc_pass) against their own `fast_upstream --h2c`
    (2 threads, CPU 0); then
    HAProxy + abortonclose with h2 servers (cancellation only) while that upstream still runs."""
    upstream = procs.start([t["fast_upstream"], "--listen", proxies.UPSTREAM_H2C, "--threads", "2", "--h2c"],
                           cpus=LOADGEN_CPU)
    try:
        procs.wait_port(proxies.UPSTREAM_H2C)
        candidates = {"tether-h2c": lambda: proxies.Tether(outdir, PROXY_CPU, tether, port=18060, name="tether-h2c",
                                                           upstream_protocol="h2c"),
                      "haproxy-h2c": lambda: proxies.Haproxy(outdir, PROXY_CPU, upstream_protocol="h2c"),
                      "nghttpx-h2c": lambda: proxies.Nghttpx(outdir, PROXY_CPU),
                      "nginx-h2c": lambda: proxies.Nginx(outdir, PROXY_CPU, upstream_protocol="h2c")}
        pxs = start_proxies(names, candidates, results)
        if pxs:
            run_group(lambda: bench_h2_upstream(t, pxs, upstream, cfg, outdir, results), pxs, "h2c-upstream",
                      outdir, results)
        if abortonclose and "haproxy-h2c" in names:
            try:
                bench_abortonclose(t, cfg, outdir, results, upstream_protocol="h2c")
            except Exception as e:
                log(f"haproxy-h2c-abortonclose: FAILED: {e}")
                results.setdefault("failures", {})["haproxy-h2c-abortonclose"] = str(e)
    finally:
        procs.stop(upstream)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tether", required=True)
    ap.add_argument("--tools", required=True, help="directory with fast_upstream, fixed_rate, ...")
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="tether,nginx,haproxy," + ",".join(H2C_UPSTREAM_ROWS),
                    help="comma-separated proxies (h2c-upstream rows: " + ",".join(H2C_UPSTREAM_ROWS) + ")")
    ap.add_argument("--skip", default="",
                    help="comma-separated: scaling,abortonclose,syscalls,memory (both memory tests),memory_cleartext,"
                         "memory_tls,cancel (both),cancel_cleartext,cancel_tls")
    ap.add_argument("--rows", default="cleartext,tls",
                    help="interleaved loads of the main proxies, comma-separated keys or groups: cleartext = "
                         + ",".join(CLEARTEXT_ROWS) + "; tls = " + ",".join(TLS_ROWS))
    ap.add_argument("--tls-only", action="store_true",
                    help="only the TLS rows (memory per idle TLS connection, loads, strace counts): --rows tls "
                         "--skip memory_cleartext,cancel_cleartext,scaling,abortonclose")
    ap.add_argument("--duration", type=int, help="seconds per load run (overrides the mode's)")
    ap.add_argument("--reps", type=int, help="interleaved repetitions of each load (median reported)")
    ap.add_argument("--idle-conns", type=int, help="idle keep-alive connections in the memory test")
    ap.add_argument("--cancel-count", type=int, help="aborts per proxy and kind")
    a = ap.parse_args()

    cfg = dict(QUICK if a.quick else FULL)
    if a.tls_only:  # the TLS rows, memory per idle TLS connection, cancellation over TLS, their strace counts
        a.rows = "tls"
        a.skip = ",".join([a.skip, "memory_cleartext", "cancel_cleartext", "scaling", "abortonclose"])
    cfg["skip"] = a.skip.split(",")
    cfg["rows"] = [k for name in a.rows.split(",") for k in ROW_GROUPS.get(name, (name,))]
    unknown = [k for k in cfg["rows"] if k not in CLEARTEXT_ROWS + TLS_ROWS]
    if unknown:
        ap.error(f"unknown rows {unknown}")
    for key in ("duration", "idle_conns", "cancel_count", "reps"):
        if getattr(a, key) is not None:
            cfg[key] = getattr(a, key)
    os.makedirs(a.out, exist_ok=True)
    t = {n: os.path.join(a.tools, n) for n in ("fast_upstream", "fixed_rate", "conn_holder", "cancel_probe",
                                                 "tls_connect")}
    t["tether"] = a.tether
    results = {"mode": "quick" if a.quick else "full", "config": cfg,
               "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine_info(t),
               "pinning": {"proxy": f"CPU {PROXY_CPU}", "upstream_and_loadgen": f"CPU {LOADGEN_CPU}",
                           "scaling": "unpinned (CPUs 0,1 shared by tether, wrk -t2 and the upstream)"}}

    atexit.register(procs.stop_all)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))

    # Soft fd limit up to the hard one: 10k client sockets + 10k proxy-side sockets.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    upstream = procs.start([t["fast_upstream"], "--listen", proxies.UPSTREAM, "--threads", "2"],
                           cpus=LOADGEN_CPU)
    procs.wait_port(proxies.UPSTREAM)
    only = a.only.split(",")
    skip = cfg["skip"]
    cert = proxies.make_cert(a.out) if any(k in TLS_ROWS for k in cfg["rows"]) else None
    if cert:
        results["tls"] = {"certificate": "ECDSA P-256, self-signed, SAN localhost + 127.0.0.1 (one per run)",
                          "alike": proxies.TLS_ALIKE}
    h2_only = [n for n in only if n in H2C_UPSTREAM_ROWS]
    only = [n for n in only if n not in H2C_UPSTREAM_ROWS]
    try:
        candidates = {"tether": lambda: proxies.Tether(a.out, PROXY_CPU, a.tether, cert=cert),
                      "nginx": lambda: proxies.Nginx(a.out, PROXY_CPU, cert=cert),
                      "haproxy": lambda: proxies.Haproxy(a.out, PROXY_CPU, cert=cert)}
        pxs = start_proxies(only, candidates, results)
        if pxs:
            run_group(lambda: bench_main(t, pxs, upstream, cfg, a.out, results), pxs, "main", a.out, results)
        if h2_only:
            run_h2_upstream_rows(t, h2_only, cfg, a.tether, a.out, results, abortonclose="abortonclose" not in skip)
        extras = []
        if "abortonclose" not in skip and "haproxy" in only:
            extras.append(("haproxy-abortonclose", lambda: bench_abortonclose(t, cfg, a.out, results)))

        if "scaling" not in skip and "tether" in only:
            extras.append(("scaling", lambda: bench_scaling(t, upstream, cfg, a.out, results)))
        for name, fn in extras:
            try:
                fn()
            except Exception as e:
                log(f"{name}: FAILED: {e}")
                results.setdefault("failures", {})[name] = str(e)
    finally:
        procs.stop(upstream)
        results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with open(os.path.join(a.out, "results.json"), "w") as f:
            json.dump(results, f, indent=2, default=str)
    report.write_all(results, a.out)
    log(f"results in {a.out}")


if __name__ == "__main__":
    main()
