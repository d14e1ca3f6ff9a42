#!/usr/bin/env bash
# Runs the demo: the demo upstream on 127.0.0.1:5000 (HTTP/1.1) and :5001 (h2c) and tether (config/demo.yaml) on 127.0.0.1:8080, both in the
# foreground. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build/release}

# A self-signed certificate for the demo's TLS listener (config/demo.yaml), made once.
if [ ! -f build/demo-tls/cert.pem ]; then
  mkdir -p build/demo-tls
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout build/demo-tls/key.pem -out build/demo-tls/cert.pem 2>/dev/null
fi

"$BUILD_DIR/tether-demo-upstream" --listen 127.0.0.1:5000 --h2c-listen 127.0.0.1:5001 &
upstream_pid=$!
"$BUILD_DIR/tether" --config config/demo.yaml &
tether_pid=$!

stop() {
  trap - INT TERM EXIT
  kill -TERM "$tether_pid" "$upstream_pid" 2>/dev/null || true
  wait "$tether_pid" "$upstream_pid" 2>/dev/null || true
}
trap stop INT TERM EXIT

cat >&2 <<MSG

tether demo running:  tether on http://127.0.0.1:8080 and https://127.0.0.1:8443  ->  demo upstream on 127.0.0.1:5000
                      (HTTP/1.1; paths under /h2c/ go to its h2c side on 127.0.0.1:5001)
  try:  curl -i localhost:8080/slowtest                             (about 10 s, the upstream finishes)
        curl --max-time 2 localhost:8080/slowtest                   (client gives up; watch both logs)
        curl --http2-prior-knowledge --max-time 2 localhost:8080/slowtest
        curl -k --http2 --max-time 2 https://localhost:8443/slowtest
        curl --max-time 2 localhost:8080/h2c/slowtest               (upstream over h2c: RST_STREAM(CANCEL))
        curl localhost:9901/metrics                                 (admin: metrics, /cancellations, /readyz)
Ctrl-C stops both.

MSG
# Whichever exits first ends the demo.
wait -n "$tether_pid" "$upstream_pid" || true
