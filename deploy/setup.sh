#!/usr/bin/env bash
# Installs every build/test dependency of tether from Debian 12 packages.
# Idempotent: installs only what is missing; safe to run on every build.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libevent-dev libssl-dev libnghttp2-dev libyaml-cpp-dev node-llhttp
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  curl nghttp2-client python3 python3-yaml openssl
  yamllint systemd  # deploy/check.sh: lint the YAML, `systemd-analyze verify` the unit
  prometheus  # promtool: the metrics tests validate /metrics with `promtool check metrics`
  clang-14 libclang-rt-14-dev  # libFuzzer targets (tests/fuzz, make fuzz / fuzz-smoke)
  clang-format-14 clang-tidy-14  # make format-check (CI), make lint
  # tests/interop: real HTTP/2 upstreams. nghttpd, and a Go net/http server built offline against Debian's x/net
  nghttp2-server golang-go golang-golang-x-net-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# tests/interop: examples/node (node:http, Express 5 through npm ci) needs node >= 18 and npm. Debian's nodejs and
# npm only where there is no node yet: a node of another origin (NodeSource's nodejs bundles npm) is kept, as
# Debian's npm would conflict with it.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
