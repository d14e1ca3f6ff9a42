#!/usr/bin/env bash
# Installs what the macro benchmark needs (idempotent). Debian 12, run as root.
# After installing nginx/haproxy/nghttpx the distro services must not keep running: they would hold
# ports and CPU during the measurements, so a policy-rc.d forbids starting them at install time
# and any instance that was already started by a previous install is stopped here.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(wrk nginx-light haproxy nghttp2-proxy python3-matplotlib nghttp2-client libevent-dev libnghttp2-dev
          cmake ninja-build g++ pkg-config procps iproute2 util-linux strace
          valgrind curl  # bench/instructions: callgrind counts instructions per request
          openssl libssl-dev)  # the TLS rows: the per-run certificate, s_client, tls_connect/fixed_rate --tls
OPTIONAL=(linux-perf)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || { echo "setup.sh: need root to install: ${missing[*]}" >&2; exit 1; }
  policy=/usr/sbin/policy-rc.d
  had_policy=0; [[ -e $policy ]] && had_policy=1
  if ((!had_policy)); then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"
    trap 'rm -f '"$policy" EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  for p in "${OPTIONAL[@]}"; do apt-get install -y -qq --no-install-recommends "$p" || true; done
fi

# Stop distro services if they run anyway (only these named services, via their init scripts).
for svc in nginx haproxy nghttpx; do
  if command -v service >/dev/null && service "$svc" status >/dev/null 2>&1; then
    service "$svc" stop >/dev/null 2>&1 || true
  fi
done
exit 0
