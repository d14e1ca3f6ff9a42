"""The three proxies under test: how to configure, start and account for each.

All of them listen on 127.0.0.1 ports in 18000-18999, talk HTTP/1.1 with keep-alive to the same
upstreams (fast_upstream for load, cancel_probe's slow upstream for /slow/), run ONE worker / thread,
and are pinned by the caller with taskset. The h2c-upstream variants (upstream_protocol "h2c": tether-h2c,
haproxy-h2c, nghttpx-h2c, nginx-h2c with grpc_pass) talk HTTP/2 cleartext to `fast_upstream --h2c` and to cancel_probe's h2c upstream.
"""
import os
import string
import subprocess
import time
import urllib.request

import procs

HERE = os.path.dirname(os.path.abspath(__file__))
UPSTREAM = "127.0.0.1:18001"   # fast_upstream
PROBE = "127.0.0.1:18002"      # cancel_probe's slow upstream (HTTP/1.1 or h2c, per cancel_probe run)
UPSTREAM_H2C = "127.0.0.1:18003"  # fast_upstream --h2c


def render(template, dest, **values):
    with open(os.path.join(HERE, "configs", template)) as f:
        text = string.Template(f.read()).substitute(values)
    with open(dest, "w") as f:
        f.write(text)
    return dest


class Proxy:
    name = ""       # key in results
    label = ""      # shown in tables
    h1 = h2 = ""    # listen addresses: HTTP/1.1 and h2c (prior knowledge); the same for tether
    upstream_protocol = "http1"  # what it speaks to the upstreams: http1 or h2c

    def __init__(self, outdir, cpus):
        self.outdir, self.cpus, self.proc = outdir, cpus, None

    def argv(self):
        raise NotImplementedError

    def start(self):
        procs.wait_port_free(self.h1)
        self.log = open(os.path.join(self.outdir, f"{self.name}.log"), "w")
        self.proc = procs.start(self.argv(), cpus=self.cpus, stdout=self.log, stderr=subprocess.STDOUT)
        procs.wait_port(self.h1)
        procs.wait_port(self.h2)
        time.sleep(0.3)  # let nginx fork its worker
        self.get("/")    # one request so the upstream pool holds a connection
        return self

    def stop(self):
        if self.proc:
            procs.stop(self.proc)
            self.proc = None
            self.log.close()

    def pids(self):
        """Every process of this proxy (nginx: master and workers)."""
        return [self.proc.pid] + procs.children(self.proc.pid)

    def worker_pids(self):
        return self.pids()

    def rss_kib(self):
        return sum(procs.rss_kib(p) for p in self.pids())

    def disk_buffer_bytes(self):
        """Bytes the proxy has buffered in temporary files (only nginx does that)."""
        return None

    def get(self, path):
        with urllib.request.urlopen(f"http://{self.h1}{path}", timeout=5) as r:
            r.read()
            return r.status


class Tether(Proxy):
    name, label = "tether", "tether"

    def __init__(self, outdir, cpus, binary, workers=1, port=18010, name="tether", upstream_protocol="http1"):
        super().__init__(outdir, cpus)
        self.binary, self.workers = binary, workers
        self.upstream_protocol = upstream_protocol
        self.name = name  # also names its config and log files in the results directory
        self.label = self.name
        self.h1 = self.h2 = f"127.0.0.1:{port}"
        self.admin = f"127.0.0.1:{port + 891}"

    def argv(self):
        cfg = render("tether.yaml", os.path.join(self.outdir, f"{self.name}.yaml"), workers=self.workers,
                     h1=self.h1, upstream=UPSTREAM_H2C if self.upstream_protocol == "h2c" else UPSTREAM,
                     probe=PROBE, admin=self.admin, protocol=self.upstream_protocol)
        return [self.binary, "--config", cfg, "--workers", str(self.workers)]

    def metrics(self):
        try:
            with urllib.request.urlopen(f"http://{self.admin}/metrics", timeout=5) as r:
                return r.read().decode()
        except OSError as e:
            return f"# metrics unavailable: {e}\n"


class Nginx(Proxy):
    name, label = "nginx", "nginx"
    h1, h2 = "127.0.0.1:18020", "127.0.0.1:18021"

    def __init__(self, outdir, cpus, upstream_protocol="http1"):
        super().__init__(outdir, cpus)
        self.upstream_protocol = upstream_protocol
        if upstream_protocol == "h2c":  # grpc_pass: nginx's only HTTP/2 client
            self.name, self.label = "nginx-h2c", "nginx (grpc_pass)"
            self.h1, self.h2 = "127.0.0.1:18090", "127.0.0.1:18091"

    def argv(self):
        d = os.path.join(self.outdir, self.name)
        for sub in ("client", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(d, "nginx-tmp", sub), exist_ok=True)
        h2c = self.upstream_protocol == "h2c"
        cfg = render("nginx.conf", os.path.join(d, "nginx.conf"), dir=d, h1=self.h1, h2=self.h2,
                     upstream=UPSTREAM_H2C if h2c else UPSTREAM, probe=PROBE,
                     **{"pass": "grpc_pass grpc://" if h2c else "proxy_pass http://"})
        return ["nginx", "-p", d, "-c", cfg, "-e", os.path.join(d, "nginx-error.log")]

    def worker_pids(self):
        return procs.children(self.proc.pid)

    def disk_buffer_bytes(self):
        # Unlinked temp files do not show in the directory; count them through the worker's open fds.
        total = 0
        for pid in self.worker_pids():
            fd_dir = f"/proc/{pid}/fd"
            for fd in os.listdir(fd_dir) if os.path.isdir(fd_dir) else []:
                try:
                    target = os.readlink(os.path.join(fd_dir, fd))
                    if "nginx-tmp" in target:
                        total += os.stat(os.path.join(fd_dir, fd)).st_size
                except OSError:
                    pass
        return total


class Haproxy(Proxy):
    name, label = "haproxy", "HAProxy"
    h1, h2 = "127.0.0.1:18030", "127.0.0.1:18031"

    def __init__(self, outdir, cpus, abortonclose=False, upstream_protocol="http1"):
        super().__init__(outdir, cpus)
        self.abortonclose = abortonclose
        self.upstream_protocol = upstream_protocol
        if abortonclose:
            self.name, self.label = "haproxy-abortonclose", "HAProxy + abortonclose"
            self.h1, self.h2 = "127.0.0.1:18040", "127.0.0.1:18041"
        if upstream_protocol == "h2c":
            self.name, self.label = self.name.replace("haproxy", "haproxy-h2c"), self.label + " (proto h2)"
            self.h1, self.h2 = ("127.0.0.1:18074", "127.0.0.1:18075") if abortonclose else \
                ("127.0.0.1:18070", "127.0.0.1:18071")

    def argv(self):
        h2c = self.upstream_protocol == "h2c"
        cfg = render("haproxy.cfg", os.path.join(self.outdir, f"{self.name}.cfg"), h1=self.h1, h2=self.h2,
                     upstream=UPSTREAM_H2C if h2c else UPSTREAM, probe=PROBE,
                     server_opts="proto h2" if h2c else "",
                     abortonclose="option abortonclose" if self.abortonclose else "")
        return ["haproxy", "-db", "-f", cfg]


class Nghttpx(Proxy):
    """nghttpx (nghttp2's proxy) with HTTP/2 cleartext backends: one frontend without TLS takes HTTP/1.1 and h2c
    prior knowledge on the same port; one worker thread in the main thread (--single-thread); no access log.
    Only as an h2c-upstream row: HTTP/2 backends are what it is built around."""
    name, label = "nghttpx-h2c", "nghttpx (proto=h2)"
    h1 = h2 = "127.0.0.1:18080"
    upstream_protocol = "h2c"

    def argv(self):
        host, port = self.h1.rsplit(":", 1)
        up_host, up_port = UPSTREAM_H2C.rsplit(":", 1)
        probe_host, probe_port = PROBE.rsplit(":", 1)
        return ["nghttpx", "--conf=/dev/null", f"--frontend={host},{port};no-tls",
                f"--backend={up_host},{up_port};/;proto=h2", f"--backend={probe_host},{probe_port};/slow/;proto=h2",
                "--single-thread", "--workers=1", "--no-ocsp", "--no-via", "--no-server-rewrite",
                "--backlog=4096", f"--pid-file={os.path.join(self.outdir, 'nghttpx.pid')}",
                f"--errorlog-file={os.path.join(self.outdir, 'nghttpx-error.log')}"]
