#!/usr/bin/env bash
# Runs the demo: the demo upstream on 127.0.0.1:5000 and tether (config/demo.yaml) on 127.0.0.1:8080, both in the
# foreground. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build/release}

"$BUILD_DIR/tether-demo-upstream" --listen 127.0.0.1:5000 &
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

tether demo running:  tether on http://127.0.0.1:8080  ->  demo upstream on 127.0.0.1:5000
  try:  curl -i localhost:8080/slowtest                 (about 10 s, the upstream finishes)
        curl --max-time 2 localhost:8080/slowtest       (client gives up; watch both logs)
Ctrl-C stops both.

MSG
# Whichever exits first ends the demo.
wait -n "$tether_pid" "$upstream_pid" || true
