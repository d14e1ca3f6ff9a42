"""Process handling and /proc readings for the macro benchmark.

Every process the harness starts goes through start(); stop_all() (called from an atexit hook and the
signal handlers in bench.py) stops them by PID: SIGTERM, then SIGKILL after a grace period. Nothing is
ever stopped by name.
"""
import os
import signal
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
_started = []  # Popen objects, newest last


def start(argv, cpus=None, stdout=None, stderr=None, stdin=None, text=False):
    """Starts argv (optionally pinned with taskset) in its own process group; remembered for stop_all()."""
    if cpus is not None:
        argv = ["taskset", "-c", cpus] + list(argv)
    p = subprocess.Popen(argv, stdout=stdout, stderr=stderr, stdin=stdin, text=text, start_new_session=True)
    _started.append(p)
    return p


def stop(p, grace=5.0):
    """SIGTERM p (its process group: nginx's workers too), SIGKILL after `grace` seconds."""
    if p.poll() is None:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                break
            try:
                p.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    if p in _started:
        _started.remove(p)


def stop_all():
    while _started:
        stop(_started[-1], grace=3.0)


def run(argv, cpus=None, timeout=120, stdin=None):
    """Runs argv to completion (bounded by timeout); returns (stdout text, rusage cpu seconds)."""
    p = start(argv, cpus=cpus, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=stdin, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(p)
        raise RuntimeError(f"timed out after {timeout}s: {' '.join(argv)}")
    if p in _started:
        _started.remove(p)
    if p.returncode != 0:
        raise RuntimeError(f"exit {p.returncode}: {' '.join(argv)}\n{err[-2000:]}")
    return out, err


def wait_port(addr, timeout=10.0):
    host, port = addr.rsplit(":", 1)
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {addr} after {timeout}s")


def wait_port_free(addr, timeout=10.0):
    host, port = addr.rsplit(":", 1)
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection((host, int(port)), timeout=0.2):
                pass
        except OSError:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{addr} still in use after {timeout}s (a proxy from another run?)")


def children(pid):
    """Direct children of pid (nginx's workers)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append(int(d))
            except (OSError, IndexError):
                pass
    return out


def cpu_ticks_split(pid):
    """(utime, stime) of the whole process (all threads), in clock ticks (/proc/PID/stat fields 14, 15)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]), int(fields[12])  # fields 14, 15 counted from 1 with pid and comm
    except OSError:
        return 0, 0


def cpu_ticks(pid):
    """utime+stime of the whole process (all threads), in clock ticks."""
    return sum(cpu_ticks_split(pid))


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def system_busy_ticks():
    """(busy, total) jiffies summed over all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    idle = vals[3] + vals[4]  # idle + iowait
    total = sum(vals[:8])     # guest time is already inside user
    return total - idle, total


class CpuMeter:
    """CPU used by a set of PIDs, and by everything else on the machine, between start() and stop()."""

    def __init__(self, pids_by_role):
        self.pids = pids_by_role  # {"proxy": [pid...], "upstream": [pid], ...}

    def start(self):
        self.t0 = time.monotonic()
        self.ticks0 = {r: self._split(ps) for r, ps in self.pids.items()}
        self.sys0 = system_busy_ticks()
        return self

    def stop(self, extra_seconds=None):
        """Returns {role: cpu seconds}, plus 'wall' and 'other_busy_pct': CPU used by processes outside
        the benchmark, in % of all cores (builds of other people on a shared machine show up here).
        extra_seconds: {role: cpu seconds} measured elsewhere (load generators' rusage)."""
        wall = time.monotonic() - self.t0
        split = {}
        for r, ps in self.pids.items():
            u1, s1 = self._split(ps)
            split[r] = ((u1 - self.ticks0[r][0]) / CLK_TCK, (s1 - self.ticks0[r][1]) / CLK_TCK)
        out = {r: u + s for r, (u, s) in split.items()}
        out.update(extra_seconds or {})
        busy1, total1 = system_busy_ticks()
        busy = (busy1 - self.sys0[0]) / CLK_TCK
        total = (total1 - self.sys0[1]) / CLK_TCK
        ours = sum(v for v in out.values())
        out["wall"] = wall
        out["other_busy_pct"] = max(0.0, 100.0 * (busy - ours) / total) if total > 0 else 0.0
        out["split"] = split  # {role: (user seconds, system seconds)}
        return out

    @staticmethod
    def _split(pids):
        ticks = [cpu_ticks_split(p) for p in pids]
        return sum(t[0] for t in ticks), sum(t[1] for t in ticks)
