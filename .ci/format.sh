#!/usr/bin/env bash
# Checks (or with --fix, applies) .clang-format on every tracked C/C++ file. Fails listing the files that differ.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h' '*.c' '*.cpp' | grep -v '^examples/.*/\(bin\|obj\)/')
if [ "${1:-}" = "--fix" ]; then
  clang-format-14 -i "${files[@]}"
  exit 0
fi
# One clang-format run over all files; its warnings name the files that differ.
if ! out=$(clang-format-14 --dry-run --Werror "${files[@]}" 2>&1); then
  echo "format-check: files differ from .clang-format (run: make format):" >&2
  grep -o '^[^:]*:' <<<"$out" | sort -u | sed 's/:$//; s/^/  /' >&2
  exit 1
fi
echo "format-check: ${#files[@]} files formatted"
