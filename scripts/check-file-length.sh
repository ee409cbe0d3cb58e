#!/usr/bin/env bash
# No `.rs` file longer than MAX lines (default 800) in src/ (ARCHITECTURE.md, "Layers": small files with
# one job each): prints each one as `file: N lines` and exits 1 if any.
#
# usage: bash scripts/check-file-length.sh [DIR...]   (default: src; MAX_FILE_LINES overrides 800)
set -euo pipefail
cd "$(dirname "$0")/.."
max="${MAX_FILE_LINES:-800}"
dirs=("$@")
[ ${#dirs[@]} -eq 0 ] && dirs=(src)
found=$(find "${dirs[@]}" -name '*.rs' -print0 | sort -z | xargs -0 wc -l |
  awk -v max="$max" '$2 != "total" && $1 > max { printf "%s: %d lines (at most %d)\n", $2, $1, max }')
if [ -n "$found" ]; then
  echo "$found"
  echo "split these files by job (at most $max lines each)"
  exit 1
fi
echo "check-file-length: no file over $max lines in ${dirs[*]}"
