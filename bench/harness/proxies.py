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

# The TLS rows: one ECDSA P-256 certificate per run (make_cert) and the same TLS settings on every proxy. tether has
# no keys for protocol versions, suites or groups yet, so it runs OpenSSL's defaults (plus server preference for
# suites, which it sets); nginx and HAProxy are told those same values explicitly, so that no build's defaults
# (or a distribution's OpenSSL configuration) can make them differ. Every client
# here offers TLS 1.3, so all three negotiate it; results.json records what each actually negotiated.
TLS_ALIKE = {"versions": "TLSv1.3",
             "ciphersuites": "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
             "groups": "X25519:P-256:X448:P-521:P-384"}


def make_cert(outdir):
    """A self-signed ECDSA P-256 certificate for localhost and 127.0.0.1: {cert, key, pem (cert+key, HAProxy)}."""
    d = os.path.join(outdir, "tls")
    os.makedirs(d, exist_ok=True)
    cert, key, pem = (os.path.join(d, n) for n in ("cert.pem", "key.pem", "haproxy.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "3", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    with open(pem, "w") as f:
        f.write(open(cert).read() + open(key).read())
    return {"cert": cert, "key": key, "pem": pem}


def negotiated(addr, alpn="h2,http/1.1"):
    """What a TLS 1.3-capable client (openssl s_client -brief) negotiates with addr: version, suite, group, ..."""
    host, port = addr.rsplit(":", 1)
    p = subprocess.run(["openssl", "s_client", "-brief", "-connect", f"{host}:{port}", "-servername", "localhost",
                        "-alpn", alpn], stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    # stdout may carry what the server sent first (an h2 SETTINGS frame): bytes, not text.
    text = (p.stdout + p.stderr).decode(errors="replace")
    keys = {"Protocol version": "version", "Ciphersuite": "suite", "Server Temp Key": "group", "Peer Temp Key": "group",
            "Signature type": "signature", "Peer signature type": "signature", "ALPN protocol": "alpn"}
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        if k.strip() in keys and v.strip():
            out[keys[k.strip()]] = v.strip()
    return out


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
    tls = ""        # TLS listen address (ALPN h2 and http/1.1), "" without the TLS rows
    upstream_protocol = "http1"  # what it speaks to the upstreams: http1 or h2c

    def __init__(self, outdir, cpus, cert=None):
        self.outdir, self.cpus, self.proc = outdir, cpus, None
        self.cert = cert  # make_cert()'s paths: this proxy gets a TLS listener on self.tls

    def argv(self):
        raise NotImplementedError

    def start(self):
        procs.wait_port_free(self.h1)
        self.log = open(os.path.join(self.outdir, f"{self.name}.log"), "w")
        self.proc = procs.start(self.argv(), cpus=self.cpus, stdout=self.log, stderr=subprocess.STDOUT)
        procs.wait_port(self.h1)
        procs.wait_port(self.h2)
        if self.cert:
            procs.wait_port(self.tls)
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

    def __init__(self, outdir, cpus, binary, workers=1, port=18010, name="tether", upstream_protocol="http1",
                 cert=None):
        super().__init__(outdir, cpus, cert)
        self.binary, self.workers = binary, workers
        self.upstream_protocol = upstream_protocol
        self.name = name  # also names its config and log files in the results directory
        self.label = self.name
        self.h1 = self.h2 = f"127.0.0.1:{port}"
        self.admin = f"127.0.0.1:{port + 891}"
        self.tls = f"127.0.0.1:{port + 2}" if cert else ""

    def argv(self):
        cfg = render("tether.yaml", os.path.join(self.outdir, f"{self.name}.yaml"), workers=self.workers,
                     h1=self.h1, upstream=UPSTREAM_H2C if self.upstream_protocol == "h2c" else UPSTREAM,
                     probe=PROBE, admin=self.admin, protocol=self.upstream_protocol, tls_listener=(
                         f"  - name: bench-tls\n    address: {self.tls}\n    tls: {{cert: {self.cert['cert']}, "
                         f"key: {self.cert['key']}}}\n" if self.cert else ""))
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

    def __init__(self, outdir, cpus, upstream_protocol="http1", cert=None):
        super().__init__(outdir, cpus, cert)
        self.upstream_protocol = upstream_protocol
        self.tls = "127.0.0.1:18022" if cert else ""
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
                     tls_server=self.tls_server(), **{"pass": "grpc_pass grpc://" if h2c else "proxy_pass http://"})
        return ["nginx", "-p", d, "-c", cfg, "-e", os.path.join(d, "nginx-error.log")]

    def tls_server(self):
        if not self.cert:
            return ""
        a = TLS_ALIKE
        return (f"    listen {self.tls} ssl http2 backlog=4096;\n"
                f"    ssl_certificate {self.cert['cert']};\n    ssl_certificate_key {self.cert['key']};\n"
                f"    ssl_protocols {a['versions']};\n    ssl_prefer_server_ciphers on;\n"
                f"    ssl_conf_command Ciphersuites {a['ciphersuites']};\n    ssl_ecdh_curve {a['groups']};\n"
                f"    ssl_session_tickets on;   # the default, as in tether (OpenSSL's default); no session cache\n")

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

    def __init__(self, outdir, cpus, abortonclose=False, upstream_protocol="http1", cert=None):
        super().__init__(outdir, cpus, cert)
        self.tls = "127.0.0.1:18032" if cert else ""
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
                     abortonclose="option abortonclose" if self.abortonclose else "", tls_bind=self.tls_bind())
        return ["haproxy", "-db", "-f", cfg]

    def tls_bind(self):
        if not self.cert:
            return ""
        a = TLS_ALIKE
        return (f"  bind {self.tls} ssl crt {self.cert['pem']} alpn h2,http/1.1 ssl-min-ver {a['versions']} "
                f"ciphersuites {a['ciphersuites']} curves {a['groups']} backlog 4096\n")


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
