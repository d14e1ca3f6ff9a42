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
  # tests/interop: headless Chromium driven by playwright-core, and examples/node (node:http, Express 5); both npm ci
  # from their package-lock.json into the build dir (node >= 18: Debian 12's own nodejs does; playwright-core is pinned
  # to 1.61, the last release that supports node 18)
  chromium nodejs
)
# Debian's nodejs comes without npm; NodeSource's nodejs (which conflicts with Debian's npm) brings its own.
if ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

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
