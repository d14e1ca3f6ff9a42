#!/usr/bin/env python3
"""Fails on an #include in proxy/ that runs against the folder graph in docs/architecture.md (the ```layers block),
and on a tether_library(...) in CMakeLists.txt that does not link exactly the folders its folder includes.

Usage: .ci/check-layers.py [repository root]   (python3, standard library only)
"""
import pathlib
import re
import sys

# Edges allowed for now although the graph forbids them. Each names who removes it.
TEMPORARY_EXCEPTIONS = {
}

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
LIBRARY = re.compile(r"^tether_library\((\w+)([^)]*)\)", re.MULTILINE)


def read_graph(doc):
    """The ```layers block: `folder: deps...` lines, bottom to top. Returns {folder: set(deps)}."""
    match = re.search(r"^```layers\n(.*?)^```", doc.read_text(), re.MULTILINE | re.DOTALL)
    if not match:
        sys.exit(f"check-layers: no ```layers block in {doc}")
    graph, errors = {}, []
    for line in match.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        folder, sep, deps = line.partition(":")
        folder = folder.strip()
        if not sep or not folder or folder in graph:
            errors.append(f"{doc}: bad or repeated layers line: {line!r}")
            continue
        graph[folder] = set(deps.split())
        # Each dependency must sit lower, i.e. be listed earlier: the graph cannot have a cycle.
        for dep in sorted(graph[folder] - graph.keys()):
            errors.append(f"{doc}: {folder} -> {dep}: {dep} must be listed above {folder} (bottom to top)")
    if errors:
        sys.exit("\n".join(errors))
    return graph


def scan_includes(proxy):
    """Yields (path, line number, including folder, included folder) for each #include "folder/..." in proxy/."""
    for path in sorted(proxy.rglob("*")):
        if not path.is_file() or path.suffix not in (".h", ".cc", ".c", ".hpp", ".cpp"):
            continue
        folder = path.relative_to(proxy).parts[0]
        for number, text in enumerate(path.read_text(errors="replace").splitlines(), 1):
            match = INCLUDE.match(text)
            if match and "/" in match.group(1):
                yield path, number, folder, match.group(1).split("/", 1)[0]


def check_cmake(cmake, includes, root):
    """Each tether_library(<folder> PUBLIC ... PRIVATE ...) links the folders its headers include (PUBLIC) and those
    only its .cc files include (PRIVATE), no more and no less."""
    errors = []
    for folder, args in LIBRARY.findall(cmake.read_text()):
        linked, section = {"PUBLIC": set(), "PRIVATE": set()}, "PUBLIC"
        for word in args.split():
            if word in linked:
                section = word
            elif word.startswith("tether_"):
                linked[section].add(word[len("tether_"):])
        wanted = {"PUBLIC": {}, "PRIVATE": {}}
        for path, number, source, target in includes:
            if source != folder or target == folder or (source, target) in TEMPORARY_EXCEPTIONS:
                continue
            scope = "PUBLIC" if path.suffix in (".h", ".hpp") else "PRIVATE"
            wanted[scope].setdefault(target, f"{path.relative_to(root)}:{number}")
        for dep in wanted["PRIVATE"].keys() & wanted["PUBLIC"].keys():
            del wanted["PRIVATE"][dep]  # a header includes it too: PUBLIC covers both
        for scope in ("PUBLIC", "PRIVATE"):
            for dep in sorted(wanted[scope].keys() - linked[scope]):
                errors.append(f"{cmake.name}: tether_{folder} must link tether_{dep} {scope} "
                              f"({wanted[scope][dep]} includes {dep}/)")
            for dep in sorted(linked[scope] - wanted[scope].keys()):
                errors.append(f"{cmake.name}: tether_{folder} links tether_{dep} {scope}, but no "
                              f"{'header' if scope == 'PUBLIC' else '.cc file only'} of proxy/{folder}/ includes {dep}/")
    return errors


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
    graph = read_graph(root / "docs/architecture.md")
    proxy = root / "proxy"
    errors = []
    for folder in sorted(p.name for p in proxy.iterdir() if p.is_dir()):
        if folder not in graph:
            errors.append(f"proxy/{folder}/ is not in the layers graph of docs/architecture.md")
    includes = list(scan_includes(proxy))
    used_exceptions = set()
    for path, number, source, target in includes:
        if target == source or target in graph.get(source, ()):
            continue
        if (source, target) in TEMPORARY_EXCEPTIONS:
            used_exceptions.add((source, target))
            continue
        allowed = " ".join(sorted(graph.get(source, ()))) or "nothing"
        errors.append(f"{path.relative_to(root)}:{number}: forbidden include {source} -> {target} "
                      f"({source}/ may include: {allowed})")
    for edge in sorted(TEMPORARY_EXCEPTIONS.keys() - used_exceptions):
        errors.append(f"{edge[0]} -> {edge[1]} is no longer included: delete it from TEMPORARY_EXCEPTIONS")
    errors += check_cmake(root / "CMakeLists.txt", includes, root)
    if errors:
        print("\n".join(["check-layers: FAILED"] + errors), file=sys.stderr)
        return 1
    exceptions = "".join(f"; temporarily allowed: {a} -> {b}" for a, b in sorted(used_exceptions))
    print(f"check-layers: {len(includes)} includes in proxy/ follow docs/architecture.md, "
          f"CMake links match{exceptions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
