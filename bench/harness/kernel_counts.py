#!/usr/bin/python3
"""Per-request system calls, page faults and context switches of each proxy under one bench/run load, counted by
`perf stat` on kernel tracepoints and software events while the load runs at full speed (unlike strace, which
stops the proxy at every call and so changes how much each loop turn batches). Counts, not times: trustworthy on a
busy machine as far as the batching they reflect is (rerun to see it move).

usage: kernel_counts.py --tools DIR --tether BINARY [--load wrk_tls_close|h2_few] [--only tether,nginx,haproxy]
                        [--duration S] [--out DIR]
Proxies are started as bench/run starts them (proxies.py: same configs, ports and pinning: proxy on CPU 1, load
and fast_upstream on CPU 0), one at a time; every process is stopped by PID.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procs  # noqa: E402
import proxies  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SYSCALLS = ("recvfrom", "recvmsg", "read", "sendmsg", "sendto", "write", "writev", "epoll_wait", "epoll_ctl",
            "accept4", "close", "shutdown", "setsockopt", "getsockopt", "getpid", "futex", "brk", "mmap", "munmap",
            "madvise", "connect", "socket", "fcntl", "ioctl", "clock_gettime")
EVENTS = ["raw_syscalls:sys_enter", "page-faults", "context-switches", "task-clock"] + \
    [f"syscalls:sys_enter_{s}" for s in SYSCALLS]


def load_argv(load, px, duration):
    if load == "wrk_tls_close":
        return ["wrk", "-t1", "-c50", f"-d{duration}s", "--timeout", "5s", "-H", "Connection: close", "-s",
                os.path.join(HERE, "report.lua"), f"https://{px.tls}/"]
    return ["h2load", "-c10", "-m5", "-t1", "-D", str(duration), f"http://{px.h2}/"]


def served(load, out):
    if load == "wrk_tls_close":
        return json.loads(re.search(r"WRKJSON (\{.*\})", out).group(1))["requests"]
    return int(re.search(r"requests: \d+ total, \d+ started, (\d+) done", out).group(1))


def measure(load, px, duration):
    warm = load_argv(load, px, 1)
    procs.run(warm, cpus="0", timeout=60)
    pids = ",".join(str(p) for p in px.worker_pids() if p != (px.proc.pid if px.name == "nginx" else -1))
    with tempfile.NamedTemporaryFile("r", suffix=".perf") as f:
        perf = subprocess.Popen(["perf", "stat", "-x,", "-o", f.name, "-e", ",".join(EVENTS), "-p", pids],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out, _ = procs.run(load_argv(load, px, duration), cpus="0", timeout=duration + 60)
        perf.send_signal(2)
        perf.wait(timeout=30)
        counts = {}
        for line in f.read().splitlines():
            parts = line.split(",")
            if len(parts) > 3 and parts[0].replace(".", "").isdigit():
                counts[parts[2].replace("syscalls:sys_enter_", "")] = float(parts[0])
    n = served(load, out)
    return n, {k: v / n for k, v in counts.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tools", required=True)
    ap.add_argument("--tether", required=True)
    ap.add_argument("--load", default="wrk_tls_close", choices=("wrk_tls_close", "h2_few"))
    ap.add_argument("--only", default="tether,nginx,haproxy")
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    outdir = a.out or tempfile.mkdtemp(prefix="kernel_counts-")
    cert = proxies.make_cert(outdir)
    upstream = procs.start([os.path.join(a.tools, "fast_upstream"), "--listen", proxies.UPSTREAM, "--threads", "2"],
                           cpus="0", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.wait_port(proxies.UPSTREAM)
    make = {"tether": lambda: proxies.Tether(outdir, "1", a.tether, cert=cert),
            "nginx": lambda: proxies.Nginx(outdir, "1", cert=cert),
            "haproxy": lambda: proxies.Haproxy(outdir, "1", cert=cert)}
    rows = {}
    try:
        for name in a.only.split(","):
            px = make[name]().start()
            try:
                rows[name] = measure(a.load, px, a.duration)
            finally:
                px.stop()
    finally:
        procs.stop(upstream)
        procs.stop_all()
    keys = ["raw_syscalls:sys_enter", "page-faults", "context-switches", "task-clock"] + \
        [s for s in SYSCALLS if any(r[1].get(s, 0) >= 0.005 for r in rows.values())]
    print(f"load {a.load}: per request (task-clock in ms per request; wall-clock, load-dependent)")
    print("| proxy | requests | " + " | ".join(k.replace("raw_syscalls:sys_enter", "syscalls") for k in keys) + " |")
    print("|---" * (len(keys) + 2) + "|")
    for name, (n, c) in rows.items():
        print(f"| {name} | {n} | " + " | ".join(f"{c.get(k, 0):.3f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
