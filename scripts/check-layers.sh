#!/usr/bin/env bash
# The layer rule of ARCHITECTURE.md, checked: every `crate::` path in src/ (in `use` lines and inline, not in
# comments) must point at a module of the same or a lower layer, and `serve` and `ui` never import each
# other. Prints each violation as `file: module (layer N) imports target (layer M)` and exits 1 if any.
#
# usage: bash scripts/check-layers.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Layer of each top-level module (settings::env, the one place that reads the environment, sits at the
# bottom; the rest of settings opens stores, so it sits above them).
layer_of() {
  case "$1" in
    redact|timefmt|settings::env|context) echo 0 ;;
    store) echo 1 ;;
    search|ml|project|runner|sync|output) echo 2 ;;
    settings) echo 3 ;;
    ops) echo 4 ;;
    web) echo 5 ;;
    serve|ui) echo 6 ;;
    cli) echo 7 ;;
    *) echo "" ;;
  esac
}

# The module a file belongs to: src/store/rest/http.rs -> store, src/settings/env.rs -> settings::env.
module_of() {
  local rel="${1#src/}"
  rel="${rel%.rs}"
  case "$rel" in
    settings/env) echo "settings::env" ;;
    */*) echo "${rel%%/*}" ;;
    *) echo "$rel" ;;
  esac
}

status=0
while IFS= read -r file; do
  from=$(module_of "$file")
  case "$from" in lib|main) continue ;; esac
  from_layer=$(layer_of "$from")
  if [ -z "$from_layer" ]; then
    echo "$file: module '$from' has no layer in scripts/check-layers.sh (add it, and to ARCHITECTURE.md)"
    status=1
    continue
  fi
  # Paths outside comments; `crate::settings::env` is its own module.
  targets=$(grep -v '^[[:space:]]*//' "$file" | grep -oE 'crate::[a-z_]+(::env\b)?' | sed -E 's/^crate:://' | sort -u || true)
  for to in $targets; do
    [ "$to" = "$from" ] && continue
    to_layer=$(layer_of "$to")
    if [ -z "$to_layer" ]; then
      echo "$file: imports '$to', which has no layer in scripts/check-layers.sh"
      status=1
    elif [ "$to_layer" -gt "$from_layer" ]; then
      echo "$file: $from (layer $from_layer) imports $to (layer $to_layer), a layer above it"
      status=1
    elif { [ "$from" = serve ] && [ "$to" = ui ]; } || { [ "$from" = ui ] && [ "$to" = serve ]; }; then
      echo "$file: $from imports $to; the two servers share only web/ and ops/"
      status=1
    fi
  done
done < <(find src -name '*.rs' | sort)
# Settings are read in one place.
if grep -Rn 'std::env::var' src/ | grep -v '^src/settings/'; then
  echo "environment variables are read outside src/settings/ (use settings::env)"
  status=1
fi
[ "$status" -eq 0 ] && echo "check-layers: no layer violations"
exit "$status"
