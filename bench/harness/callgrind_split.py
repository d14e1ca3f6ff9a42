#!/usr/bin/python3
"""Where a proxy's instructions go, from bench/instructions --keep files: self cost (Ir) by shared object
(libssl, libcrypto, libevent, the proxy itself, libc, ...) and the top functions.

usage: callgrind_split.py LARGE.callgrind [BASE.callgrind COUNT] [--top=N] [--inclusive=NAME,NAME...]
With BASE and COUNT (the difference in requests or connections between the two runs, as bench/instructions
prints), every figure is (LARGE - BASE) / COUNT: per request without start-up and shutdown. Without, shares of
LARGE as is. --inclusive: also the inclusive cost (self + callees) of every function whose name contains one of
the NAMEs (e.g. SSL_read,SSL_write,be_openssl), per request like the rest (a recursive function counts twice).
"""
import os
import re
import sys
from collections import defaultdict

# Shared objects grouped under a short name; anything else keeps its file name.
GROUPS = (("libssl", "libssl"), ("libcrypto", "libcrypto"), ("libevent_openssl", "libevent_openssl"),
          ("libevent", "libevent"), ("libc.so", "libc"), ("libc-", "libc"), ("ld-linux", "ld.so"),
          ("libstdc++", "libstdc++"), ("libnghttp2", "libnghttp2"), ("libyaml-cpp", "yaml-cpp"),
          ("vgpreload", "valgrind preload"))


def group_of(obj):
    base = os.path.basename(obj)
    for needle, name in GROUPS:
        if needle in base:
            return name
    return base


def self_costs(path, calls_out=None):
    """{(object, function): self Ir} from one callgrind.out file (name compression and call lines handled).
    calls_out, if given, receives {(object, function): Ir spent in its callees}."""
    names = {}
    costs = defaultdict(int)
    ob = fn = None
    skip_next_cost = False  # the line after calls= is the call's inclusive cost, not the caller's self cost

    def name(kind, rest):
        m = re.match(r"\((\d+)\)(?: (.*))?", rest)
        if not m:
            return rest
        key = (kind, m.group(1))
        if m.group(2) is not None:
            names[key] = m.group(2)
        return names.get(key, rest)

    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                if skip_next_cost:
                    skip_next_cost = False
                    parts = line.split()
                    if calls_out is not None and len(parts) >= 2 and fn is not None:
                        calls_out[(ob, fn)] += int(parts[1])
                    continue
                parts = line.split()
                if len(parts) >= 2 and fn is not None:
                    costs[(ob, fn)] += int(parts[1])
                continue
            key, _, rest = line.partition("=")
            if key == "ob":
                ob = name("ob", rest)
            elif key == "fn":
                fn = name("fn", rest)
            elif key in ("cob", "cfi", "cfl", "cfn", "fl", "fi", "fe"):
                name(key if key in ("cob", "cfn") else "fl", rest)
                if key == "cob":  # cob shares ob's name table
                    name("ob", rest)
                if key == "cfn":
                    name("fn", rest)
            elif key == "calls":
                skip_next_cost = True
    return costs


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    top, wanted = 15, []
    for a in sys.argv[1:]:
        if a.startswith("--top="):
            top = int(a.split("=", 1)[1])
        if a.startswith("--inclusive="):
            wanted = a.split("=", 1)[1].split(",")
    large_calls, base_calls = defaultdict(int), defaultdict(int)
    large = self_costs(args[0], large_calls)
    count = 1
    if len(args) >= 3:
        base = self_costs(args[1], base_calls)
        count = int(args[2])
        for k, v in base.items():
            large[k] -= v
        for k, v in base_calls.items():
            large_calls[k] -= v
    total = sum(large.values())
    by_obj = defaultdict(int)
    for (ob, _), v in large.items():
        by_obj[group_of(ob or "?")] += v
    unit = "per request" if count > 1 else "total"
    print(f"instructions {unit}: {total / count:,.0f}")
    print("by shared object:")
    for obj, v in sorted(by_obj.items(), key=lambda kv: -kv[1]):
        if v / total >= 0.001:
            print(f"  {obj:24s} {v / count:>12,.0f}  {100.0 * v / total:5.1f}%")
    print(f"top {top} functions (self):")
    for (ob, fn), v in sorted(large.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {v / count:>12,.0f}  {100.0 * v / total:5.1f}%  {group_of(ob or '?')}: {fn}")
    if wanted:
        print("inclusive (self + callees):")
        incl = {k: large[k] + large_calls.get(k, 0) for k in large if any(w in k[1] for w in wanted)}
        for (ob, fn), v in sorted(incl.items(), key=lambda kv: -kv[1]):
            if v > 0:
                print(f"  {v / count:>12,.0f}  {100.0 * v / total:5.1f}%  {group_of(ob or '?')}: {fn}")


if __name__ == "__main__":
    main()
