#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz preset) and runs each for SECONDS, one after the other, niced.
#   tests/fuzz/run.sh SECONDS [--smoke] [target...]
# Each target starts from its committed seeds (tests/fuzz/corpus/<target>), copied first so they stay as committed:
# a full run keeps what it learns in build/fuzz/corpus/<target> for the next run; --smoke (CI) uses a fresh temp
# dir and also bounds the number of runs. A crash leaves its input in build/fuzz/artifacts/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:?usage: tests/fuzz/run.sh SECONDS [--smoke] [target...]}
shift
smoke=0
if [ "${1:-}" = "--smoke" ]; then
  smoke=1
  shift
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(http1_request http1_response http2_server config grpc_timeout trace_context)

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

artifacts=build/fuzz/artifacts
mkdir -p "$artifacts"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for target in "${targets[@]}"; do
  if [ $smoke -eq 1 ]; then
    work="$tmp/$target"
  else
    work="build/fuzz/corpus/$target"
  fi
  mkdir -p "$work"
  cp -n tests/fuzz/corpus/"$target"/* "$work"/ || true  # -n: a full run keeps its grown corpus
  # The shipped configs seed the config fuzzer as they are today, not as a copy that goes stale.
  [ "$target" != config ] || cp config/*.yaml "$work"/
  limits=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1)
  [ $smoke -eq 0 ] || limits+=(-runs=5000000)
  echo "fuzz: $target for ${seconds}s (corpus $work)" >&2
  if ! nice -n 10 "build/fuzz/fuzz_$target" "${limits[@]}" -artifact_prefix="$artifacts/$target-" "$work" \
      >"$tmp/$target.log" 2>&1; then
    tail -n 60 "$tmp/$target.log" >&2
    echo "fuzz: $target FAILED; the input is in $artifacts/ (reproduce: build/fuzz/fuzz_$target <file>)" >&2
    status=1
  else
    grep -E "^stat::(number_of_executed_units|peak_rss_mb)|cov:" "$tmp/$target.log" | tail -n 3 >&2
  fi
done
exit $status
