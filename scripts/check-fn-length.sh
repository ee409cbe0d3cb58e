#!/usr/bin/env bash
# No function longer than MAX lines (default 120) in src/ (ARCHITECTURE.md, "Files and functions stay short"):
# prints each one as `file:line: fn NAME is N lines` and exits 1 if any. A function runs from its `fn`
# line to the `}` at the same indentation (the layout `cargo fmt` gives); declarations without a body
# are skipped.
#
# usage: bash scripts/check-fn-length.sh [DIR...]   (default: src)
set -euo pipefail
cd "$(dirname "$0")/.."
max="${MAX_FN_LINES:-120}"
dirs=("$@")
[ ${#dirs[@]} -eq 0 ] && dirs=(src)
found=$(find "${dirs[@]}" -name '*.rs' | sort | xargs awk -v max="$max" '
  FNR == 1 { name = "" }
  name == "" && match($0, /^[ \t]*(pub(\([a-z:]+\))? )?(const )?(async )?fn [A-Za-z0-9_]+/) {
    sig = substr($0, RSTART, RLENGTH); sub(/.*fn /, "", sig)
    match($0, /^[ \t]*/); indent = substr($0, 1, RLENGTH)
    name = sig; start = FNR; in_sig = 1
  }
  name != "" {
    if (in_sig) {
      line = $0
      opens = gsub(/\{/, "{", line); closes = gsub(/\}/, "}", line)
      if (opens > 0 && opens == closes && FNR == start) { name = ""; next }  # body on one line
      if ($0 ~ /\{[ \t]*$/) { in_sig = 0; next }
      if ($0 ~ /;[ \t]*$/) { name = ""; next }                                # no body
      next
    }
    if ($0 == indent "}") {
      len = FNR - start + 1
      if (len > max) printf "%s:%d: fn %s is %d lines (at most %d)\n", FILENAME, start, name, len, max
      name = ""
    }
  }
')
if [ -n "$found" ]; then
  echo "$found"
  echo "split these functions (at most $max lines each)"
  exit 1
fi
echo "check-fn-length: no function over $max lines in ${dirs[*]}"
