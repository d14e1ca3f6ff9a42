#!/usr/bin/env bash
# Checks the deployment files under deploy/ as far as this machine can: it has no container engine and no
# Kubernetes cluster, so the image build and applying the manifests are NOT checked here.
#
#   bash deploy/check.sh          (TETHER_BIN=path/to/tether to use another build than build/release/tether)
#
# Checks, each PASS / FAIL / SKIP, then a summary; exits 1 if any check failed:
#   yamllint         yamllint --strict (rules: .yamllint.yaml) on every YAML file in config/ and deploy/
#   tether-config    `tether --check` on the configs shipped in deploy/ (SKIP without a built tether).
#   systemd-verify   `systemd-analyze verify` on a copy of deploy/systemd/tether.service whose /usr/local/bin/tether
#                    is replaced by the built binary (or a stub script when there is none): verify fails on an
#                    ExecStart= binary that does not exist. Any diagnostic it prints counts as a failure, since it
#                    exits 0 on unknown keys and bad values.
#   systemd-security `systemd-analyze security --offline=yes`: the sandbox's exposure score stays <= 2.0 ("OK").
#   promtool-*       `promtool check config` on deploy/prometheus/prometheus.yml (and its rule file), and on
#                    prometheus-kubernetes.yml with kubernetes_sd_configs swapped for an empty file_sd_configs
#                    (Debian's promtool is built without Kubernetes service discovery).
#   dashboard-*      the Grafana dashboard parses as JSON (python3 -m json.tool); every PromQL query in it parses
#                    (promtool check rules on a generated rule file, Grafana variables replaced) and names only
#                    tether metrics from issue 5.
#   consistency      cross-file facts: grace periods and stop timeouts cover drain_timeout, probe paths and ports
#                    match the admin listener, the Service targets tether's port, the generated ConfigMap is the
#                    one mounted, securityContext and resources on every container, Dockerfile EXPOSE /
#                    HEALTHCHECK / ENTRYPOINT / USER and its build context filter.
#
# Tools come from Debian packages and are installed when missing (idempotent, like deploy/setup.sh): yamllint,
# systemd (systemd-analyze), prometheus (promtool), python3, python3-yaml. Note: on a host whose init is systemd,
# installing the prometheus package also enables a Prometheus server; CI machines here run no init.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD

# ---- tools -------------------------------------------------------------------------------------------------------
need=()
command -v yamllint >/dev/null || need+=(yamllint)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v promtool >/dev/null || need+=(prometheus)
# Debian's python3, where python3-yaml lands (a python3 earlier on PATH, e.g. pyenv, may lack it).
PY=/usr/bin/python3
[ -x "$PY" ] || need+=(python3)
"$PY" -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
if [ ${#need[@]} -gt 0 ]; then
  echo "check: installing ${need[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || exit 1
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || exit 1
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

TETHER_BIN=${TETHER_BIN:-$ROOT/build/release/tether}
case $TETHER_BIN in /*) ;; *) TETHER_BIN=$ROOT/$TETHER_BIN ;; esac

passed=0
failed=0
skipped=0
summary=()

# check NAME COMMAND...: runs COMMAND with its output in a log; prints the log only on failure. COMMAND may print
# a line "NOTE: ..." that is appended to the PASS line.
check() {
  local name=$1
  shift
  local log="$TMP/$name.log"
  if "$@" >"$log" 2>&1; then
    local note
    note=$(sed -n 's/^NOTE: //p' "$log" | paste -sd'|' - | sed 's/|/; /g')
    passed=$((passed + 1))
    summary+=("PASS  $name${note:+  ($note)}")
  else
    failed=$((failed + 1))
    summary+=("FAIL  $name")
    echo "---- FAIL $name" >&2
    cat "$log" >&2
  fi
}

skip() {
  skipped=$((skipped + 1))
  summary+=("SKIP  $1  ($2)")
}

# ---- yamllint ----------------------------------------------------------------------------------------------------
check yamllint yamllint --strict -c .yamllint.yaml config deploy .yamllint.yaml

# ---- tether --check on the shipped configs ---------------------------------------------------------------------
tether_check() {
  local file=$1 out
  if out=$("$TETHER_BIN" --config "$file" --check 2>&1); then
    echo "$out"
    return 0
  fi
  echo "$out"
  return 1
}
tether_configs() {
  local rc=0
  for f in deploy/docker/tether.yaml deploy/kubernetes/tether.yaml; do
    tether_check "$f" || rc=1
  done
  return $rc
}
if [ -x "$TETHER_BIN" ]; then
  check tether-config tether_configs
else
  skip tether-config "no tether binary at $TETHER_BIN: make build"
fi

# ---- systemd -----------------------------------------------------------------------------------------------------
mkdir -p "$TMP/unit"
if [ -x "$TETHER_BIN" ]; then
  unit_bin=$TETHER_BIN
else
  unit_bin=$TMP/unit/tether-stub
  printf '#!/bin/sh\nexit 0\n' >"$unit_bin"
  chmod +x "$unit_bin"
fi
sed "s#/usr/local/bin/tether#$unit_bin#g" deploy/systemd/tether.service >"$TMP/unit/tether.service"
systemd_verify() {
  local out rc=0
  out=$(cd "$TMP/unit" && systemd-analyze verify ./tether.service 2>&1) || rc=$?
  echo "$out"
  [ $rc -eq 0 ] && [ -z "$out" ] || return 1
  echo "NOTE: ExecStart= pointed at $unit_bin"
}
check systemd-verify systemd_verify
systemd_security() {
  local out rc=0
  out=$(cd "$TMP/unit" && systemd-analyze security --offline=yes --threshold=20 ./tether.service 2>&1) || rc=$?
  echo "$out" | grep -v '^✓'
  echo "NOTE: $(echo "$out" | sed -n 's/^→ Overall exposure level for tether.service: /exposure /p')"
  return $rc
}
check systemd-security systemd_security

# ---- Prometheus --------------------------------------------------------------------------------------------------
check promtool-config promtool check config deploy/prometheus/prometheus.yml
check promtool-rules promtool check rules deploy/prometheus/tether-rules.yml
promtool_kubernetes() {
  "$PY" - "$TMP/prometheus" <<'PY' || return 1
import os, shutil, sys, yaml
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
with open("deploy/prometheus/prometheus-kubernetes.yml") as f:
    cfg = yaml.safe_load(f)
swapped = 0
for job in cfg["scrape_configs"]:
    if job.pop("kubernetes_sd_configs", None) is not None:
        job["file_sd_configs"] = [{"files": ["targets.json"]}]
        swapped += 1
assert swapped, "no kubernetes_sd_configs found"
with open(os.path.join(out, "prometheus.yml"), "w") as f:
    yaml.safe_dump(cfg, f)
for rule_file in cfg.get("rule_files", []):
    shutil.copy(os.path.join("deploy/prometheus", rule_file), out)
PY
  promtool check config "$TMP/prometheus/prometheus.yml" || return 1
  echo "NOTE: kubernetes_sd_configs swapped for file_sd_configs"
}
check promtool-kubernetes promtool_kubernetes

# ---- Grafana dashboard -------------------------------------------------------------------------------------------
check dashboard-json "$PY" -m json.tool deploy/grafana/tether-dashboard.json /dev/null
dashboard_queries() {
  "$PY" - "$TMP/dashboard-rules.yml" <<'PY' || return 1
import json, re, sys, yaml
METRICS = {  # issue 5
    "tether_requests_total", "tether_requests_cancelled_total", "tether_cancelled_upstream_seconds_total",
    "tether_request_duration_seconds", "tether_active_requests", "tether_downstream_connections",
    "tether_upstream_connections", "tether_upstream_connect_errors_total", "tether_log_lines_dropped_total",
    "tether_config_reloads_total",
}
with open("deploy/grafana/tether-dashboard.json") as f:
    dash = json.load(f)
exprs = []
def walk(panels):
    for p in panels:
        walk(p.get("panels", []))
        for t in p.get("targets", []):
            exprs.append((p["title"], t["expr"]))
walk(dash["panels"])
for v in dash["templating"]["list"]:
    if v.get("type") == "query":
        m = re.fullmatch(r"label_values\((.*), *\w+\)", v["definition"])
        assert m, f"variable {v['name']}: unexpected query {v['definition']}"
        exprs.append((f"variable {v['name']}", m.group(1)))
with open("deploy/prometheus/tether-rules.yml") as f:
    for g in yaml.safe_load(f)["groups"]:
        for r in g["rules"]:
            exprs.append((r.get("alert") or r.get("record"), r["expr"]))
bad = []
for title, e in exprs:
    for name in re.findall(r"\btether_[a-z_]+", e):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if base not in METRICS:
            bad.append(f"{title}: unknown metric {name}")
subst = {"$__rate_interval": "5m", "$__range": "1h", "$__interval": "1m", "$job": ".*", "$instance": ".*",
         "$route": ".*"}
rules = []
for i, (title, e) in enumerate(exprs):
    for k, v in subst.items():
        e = e.replace(k, v)
    if "$" in e.replace("{{", "").replace("$labels", ""):
        bad.append(f"{title}: unreplaced variable in {e}")
    rules.append({"record": f"dashboard:query_{i}", "expr": e})
with open(sys.argv[1], "w") as f:
    yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
print(f"NOTE: {len(exprs)} queries")
if bad:
    print("\n".join(bad))
    sys.exit(1)
PY
  promtool check rules "$TMP/dashboard-rules.yml"
}
check dashboard-queries dashboard_queries

# ---- cross-file consistency ----------------------------------------------------------------------------------------
consistency() {
  "$PY" - <<'PY'
import fnmatch, re, sys, yaml
errors = []
def expect(cond, msg):
    if not cond:
        errors.append(msg)
def seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)?", str(text).strip())
    assert m, f"not a duration: {text}"
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
def port(address):
    return int(str(address).rsplit(":", 1)[1])
def load(path):
    with open(path) as f:
        return yaml.safe_load(f)

MARGIN = 5  # seconds of slack wanted beyond the drain

# Kubernetes
k = "deploy/kubernetes/"
conf = load(k + "tether.yaml")
drain = seconds(conf.get("drain_timeout", "0s"))
expect(drain > 0, "kubernetes tether.yaml: no drain_timeout")
kust = load(k + "kustomization.yaml")
import os
for r in kust["resources"]:
    expect(os.path.exists(k + r), f"kustomization: missing resource {r}")
gen = {g["name"]: g for g in kust.get("configMapGenerator", [])}
docs = {}
for r in kust["resources"] + ["hpa.yaml", "podmonitor.yaml"]:
    d = load(k + r)
    docs[d["kind"]] = d
dep = docs["Deployment"]
spec = dep["spec"]["template"]["spec"]
labels = dep["spec"]["template"]["metadata"]["labels"]
expect(dep["spec"]["selector"]["matchLabels"].items() <= labels.items(), "Deployment selector vs pod labels")
containers = {c["name"]: c for c in spec["containers"]}
t = containers["tether"]
tports = {p["name"]: p["containerPort"] for p in t["ports"]}
expect(tports.get("http") == port(conf["listeners"][0]["address"]), "tether http port != listener port")
expect(tports.get("tether-admin") == port(conf["admin"]["address"]), "tether-admin port != admin.address port")
expect(conf["admin"]["address"].startswith("0.0.0.0:"), "admin must listen on the pod IP for probes")
expect(t["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "tether-admin"}, "liveness probe")
expect(t["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "tether-admin"}, "readiness probe")
cmd = t["lifecycle"]["preStop"]["exec"]["command"]
expect(cmd[0] == "sleep", "tether preStop is a sleep")
pre = int(cmd[1])
grace = spec["terminationGracePeriodSeconds"]
expect(grace >= pre + drain + MARGIN,
       f"terminationGracePeriodSeconds {grace} < preStop {pre} + drain_timeout {drain} + {MARGIN}")
app_sleep = containers["app"]["lifecycle"]["preStop"]["sleep"]["seconds"]
expect(pre + drain <= app_sleep < grace, f"app preStop {app_sleep}s must cover tether's preStop + drain, < grace")
cpu = t["resources"]["limits"]["cpu"]
cpu = float(cpu[:-1]) / 1000 if str(cpu).endswith("m") else float(cpu)
expect(conf["workers"] <= cpu, f"workers {conf['workers']} > tether CPU limit {cpu}")
for name, c in containers.items():
    sc = c.get("securityContext", {})
    expect(sc.get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation")
    expect(sc.get("readOnlyRootFilesystem") is True, f"{name}: readOnlyRootFilesystem")
    expect(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{name}: capabilities drop ALL")
    expect("requests" in c.get("resources", {}) and "limits" in c.get("resources", {}), f"{name}: resources")
expect(spec["securityContext"].get("runAsNonRoot") is True, "pod runAsNonRoot")
vols = {v["name"]: v for v in spec["volumes"]}
mounts = {m["name"]: m for m in t["volumeMounts"]}
expect(mounts["tether-config"]["mountPath"] == "/etc/tether", "config mount path")
cm = vols["tether-config"]["configMap"]["name"]
expect(cm in gen and gen[cm]["files"] == ["tether.yaml"], "mounted ConfigMap is the generated one, key tether.yaml")
svc = docs["Service"]
expect(svc["spec"]["selector"].items() <= labels.items(), "Service selector vs pod labels")
expect([p["targetPort"] for p in svc["spec"]["ports"]] == ["http"], "Service targets tether's http port only")
expect(docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items(), "PDB selector")
expect(docs["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"], "HPA target")
expect(docs["PodMonitor"]["spec"]["podMetricsEndpoints"][0]["port"] == "tether-admin", "PodMonitor port")
images = {i["name"] for i in kust.get("images", [])}
for name, c in containers.items():
    expect(c["image"].rsplit(":", 1)[0] in images, f"{name}: image not in kustomization images")

# systemd
unit = open("deploy/systemd/tether.service").read()
stop = re.search(r"^TimeoutStopSec=(\S+)$", unit, re.M)
expect(stop and seconds(stop.group(1)) >= drain + MARGIN, f"TimeoutStopSec must be >= drain_timeout + {MARGIN}s")
expect(re.search(r"^ExecReload=/bin/kill -HUP \$MAINPID$", unit, re.M), "ExecReload sends SIGHUP")
expect(re.search(r"^ExecStart=/usr/local/bin/tether --config /etc/tether/tether.yaml$", unit, re.M), "ExecStart")

# Docker
dconf = load("deploy/docker/tether.yaml")
df = open("deploy/docker/Dockerfile").read()
expose = set(re.search(r"^EXPOSE (.*)$", df, re.M).group(1).split())
expect(expose == {str(port(dconf["listeners"][0]["address"])), str(port(dconf["admin"]["address"]))},
       "EXPOSE vs docker tether.yaml ports")
expect(dconf["admin"]["address"].startswith("0.0.0.0:"), "docker admin must listen on 0.0.0.0")
expect(re.search(r"http://127\.0\.0\.1:%d/healthz" % port(dconf["admin"]["address"]), df), "HEALTHCHECK /healthz")
expect('ENTRYPOINT ["tether", "--config", "/etc/tether/tether.yaml"]' in df, "ENTRYPOINT")
user = re.findall(r"^USER (\S+)$", df, re.M)
expect(user and user[-1].split(":")[0] not in ("0", "root"), "USER is not root")
expect(len(re.findall(r"^FROM debian:bookworm-slim|^FROM \$\{DEBIAN_IMAGE\}", df, re.M)) >= 2
       and "ARG DEBIAN_IMAGE=debian:bookworm-slim" in df, "multi-stage on debian:bookworm-slim")
expect(seconds(dconf.get("drain_timeout", "0s")) == drain, "docker and kubernetes drain_timeout differ")
# The build context filter keeps every file the Dockerfile copies from the context.
ignore = [l.strip() for l in open("deploy/docker/Dockerfile.dockerignore") if l.strip() and not l.startswith("#")]
def kept(path):
    keep = True
    for pat in ignore:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        if fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/"):
            keep = neg
    return keep
for m in re.finditer(r"^COPY (?!--from)(.*)$", df, re.M):
    for src in m.group(1).split()[:-1]:
        expect(os.path.exists(src), f"COPY source {src} missing")
        expect(kept(src.rstrip("/") + ("/x.cc" if src.endswith("/") else "")), f"COPY source {src} excluded by dockerignore")

if errors:
    print("\n".join(errors))
    sys.exit(1)
print(f"NOTE: drain_timeout {drain:g}s, pod grace {grace}s, TimeoutStopSec {stop.group(1)}")
PY
}
check consistency consistency

# ---- summary -----------------------------------------------------------------------------------------------------
echo
echo "deploy/check.sh summary:"
printf '  %s\n' "${summary[@]}"
echo "  not checked here: the container image build (no container engine), the manifests against a Kubernetes API"
echo "deploy: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
