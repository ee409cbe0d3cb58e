#!/usr/bin/env bash
# The layer rule of ARCHITECTURE.md, checked over the module graph of src/:
#
# 1. Every `crate::` and `super::` path (in `use` lines, grouped `use a::{b, c::{d}}` included, and inline;
#    not in comments or strings) is resolved to the file of the module it names. A module may import only
#    modules of its own layer or a lower one (the first table below), and `serve` and `ui` never import each
#    other.
# 2. Inside `ml/` the same rule holds for ml's sub-layers (the second table): `core` is the leaf, the
#    artifact and the foreign readers sit above the learners, the commands' halves at the top.
# 3. No cycles: with each `.rs` file (a folder module: its `mod.rs`) a node and each path an edge, the graph
#    of all of src/ must have no cycle (`tsort` finds them); each cycle's members are printed. Test code
#    (`#[cfg(test)]` modules, `tests.rs` files) may import anything its layer allows: it is not in this graph.
# 4. Environment variables are read only in src/settings/.
#
# Prints each violation and exits 1 if any.
#
# usage: bash scripts/check-layers.sh [SRC_DIR]   (default: src; the tests point it at scripts/tests/*)
set -euo pipefail
cd "$(dirname "$0")/.."
root="${1:-src}"
root="${root%/}"

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

# Sub-layer of each module directly under ml/ (ml/mod.rs, the facade, is the top). Imports point one way:
# core <- data <- forms <- learners <- model <- foreign <- train/predict/eval.
ml_layer_of() {
  case "$1" in
    core) echo 0 ;;
    data) echo 1 ;;
    forms) echo 2 ;;
    learners|choice) echo 3 ;;
    model) echo 4 ;;
    foreign) echo 5 ;;
    eval|loaded|predict|pypredict|pyworker|pyenv|train|import) echo 6 ;;
    mod) echo 7 ;;
    *) echo "" ;;
  esac
}

files=$(cd "$root" && find . -name '*.rs' | sed 's|^\./||' | sort)

# One line per import: `from_file<TAB>from_module<TAB>to_file<TAB>to_module`, modules as `a::b::c`.
edges=$(cd "$root" && printf '%s\n' "$files" | awk '
  # The module path of a file: ml/foreign/mod.rs -> ml::foreign, ml/data/table.rs -> ml::data::table.
  function module_of(f) {
    sub(/\.rs$/, "", f); sub(/(^|\/)(mod|lib)$/, "", f); gsub(/\//, "::", f); return f
  }
  # The file that holds module path p (the longest prefix of it that is a file); sets resolved_module.
  function resolve(p,   segs, n, i, dir, file, probe) {
    n = split(p, segs, "::"); dir = ""; file = "lib.rs"; resolved_module = ""
    for (i = 1; i <= n; i++) {
      probe = (dir == "" ? "" : dir "/") segs[i]
      if (probe ".rs" in exists) file = probe ".rs"
      else if (probe "/mod.rs" in exists) file = probe "/mod.rs"
      else break
      dir = probe
      resolved_module = (resolved_module == "" ? "" : resolved_module "::") segs[i]
    }
    return file
  }
  # A path as written (crate::a::b, super::super::c, self::d) -> an edge from the current file.
  function emit(path, bare_ok,   segs, n, i, base, depth, rest) {
    sub(/::(\*|self)$/, "", path); sub(/::$/, "", path)
    n = split(path, segs, "::")
    if (segs[1] == "crate") { base = ""; i = 2 }
    else if (segs[1] == "super") {
      base = current_module(); i = 1
      while (i <= n && segs[i] == "super") {
        if (base == "") return                                   # super of the root: not ours to judge
        if (base ~ /::/) sub(/::[^:]+$/, "", base); else base = ""
        i++
      }
    } else return                                                # self::, a child or an external crate
    if (i > n && !bare_ok) return                                # `pub(super)` and the like
    rest = ""
    for (; i <= n; i++) rest = rest (rest == "" ? "" : "::") segs[i]
    path = base (base != "" && rest != "" ? "::" : "") rest
    to = resolve(path)
    if (to != FILENAME) print FILENAME "\t" module_of(FILENAME) "\t" to "\t" resolved_module "\t" (in_test() ? "test" : "")
  }
  # Test code: a `#[cfg(test)]` inline module, or a sibling `tests.rs`.
  function in_test(   i) {
    if (FILENAME ~ /(^|\/)tests\.rs$/) return 1
    for (i = 1; i <= depth; i++) if (inline_test[i]) return 1
    return 0
  }
  function current_module(   m, i) {
    m = module_of(FILENAME)
    for (i = 1; i <= depth; i++) m = (m == "" ? "" : m "::") inline_name[i]
    return m
  }
  # Expands a use tree from S at pos (no spaces): a::{b, c::{d, e}} -> a::b, a::c::d, a::c::e.
  function use_tree(prefix,   c, p) {
    p = prefix
    while (pos <= length(S)) {
      c = substr(S, pos, 1)
      if (c == "{") { pos++; use_list(p); return }
      if (c == "," || c == "}") { if (p != prefix) emit(p, 1); return }
      p = p c; pos++
    }
    emit(p, 1)
  }
  function use_list(prefix,   c) {
    while (pos <= length(S)) {
      use_tree(prefix)
      c = substr(S, pos, 1)
      if (c == ",") { pos++; continue }
      if (c == "}") { pos++ }
      return
    }
  }
  # Inline paths on a line outside `use`: crate::a::b(...), super::f(...).
  function inline_paths(line,   m, before) {
    while (match(line, /(crate|super)(::[A-Za-z_][A-Za-z0-9_]*)+/)) {
      m = substr(line, RSTART, RLENGTH)
      before = RSTART > 1 ? substr(line, RSTART - 1, 1) : ""
      if (before !~ /[A-Za-z0-9_$]/) emit(m, 0)
      line = substr(line, RSTART + RLENGTH)
    }
  }
  NR == FNR { exists[$0] = 1; next }
  FNR == 1 { depth = 0; in_use = 0 }
  {
    line = $0; previous = last_line; last_line = $0
    # Inline modules (`mod tests {` ... the `}` at its indentation, as cargo fmt lays them out).
    if (depth > 0 && line == inline_indent[depth] "}") { depth--; next }
    if (match(line, /^[ \t]*(pub(\([^)]*\))?[ \t]+)?mod[ \t]+[A-Za-z0-9_]+[ \t]*\{[ \t]*$/)) {
      depth++; inline_test[depth] = (previous ~ /^[ \t]*#\[cfg\(test\)\][ \t]*$/)
      match(line, /^[ \t]*/); inline_indent[depth] = substr(line, 1, RLENGTH)
      name = line; sub(/^.*mod[ \t]+/, "", name); sub(/[ \t]*\{.*$/, "", name); inline_name[depth] = name
      next
    }
    if (line ~ /^[ \t]*\/\//) next                               # comments, doc comments
    gsub(/'"'"'([^'"'"'\\]|\\.)'"'"'/, "", line)                   # char literals
    gsub(/"([^"\\]|\\.)*"/, "\"\"", line)                        # string literals
    sub(/\/\/.*$/, "", line)                                     # trailing comments
    gsub(/pub\(in [^)]*\)/, "pub", line)                         # visibility is not an import
    if (!in_use && line ~ /^[ \t]*(pub(\([^)]*\))?[ \t]+)?use[ \t]/) {
      in_use = 1; S = ""; sub(/^[ \t]*(pub(\([^)]*\))?[ \t]+)?use[ \t]+/, "", line)
    }
    if (in_use) {
      S = S line
      if (S ~ /;/) {
        in_use = 0
        sub(/;.*$/, "", S); gsub(/[ \t]+as[ \t]+[A-Za-z0-9_]+/, "", S); gsub(/[ \t]/, "", S)
        pos = 1; use_tree("")
      }
      next
    }
    inline_paths(line)
  }
' - $files | sort -u)

status=0
report() { echo "$1"; status=1; }

# The top-level module of a module path: settings::env is its own; the crate root is `lib`.
top_of() {
  case "$1" in
    settings::env|settings::env::*) echo "settings::env" ;;
    "") echo "lib" ;;
    *) echo "${1%%::*}" ;;
  esac
}
# The module directly under ml/ (ml itself: `mod`, its facade).
ml_sub_of() {
  local rest="${1#ml}"
  rest="${rest#::}"
  if [ -z "$rest" ]; then echo mod; else echo "${rest%%::*}"; fi
}

# Every file needs a layer (and every file in ml/ a sub-layer), importing or not.
while IFS= read -r file; do
  [ -z "$file" ] && continue
  module=$(echo "$file" | sed -E 's/\.rs$//; s#(^|/)(mod|lib)$##; s#/#::#g')
  case "$file" in main.rs|lib.rs) continue ;; esac
  top=$(top_of "$module")
  [ -z "$(layer_of "$top")" ] &&
    report "$root/$file: module '$top' has no layer in scripts/check-layers.sh (add it, and to ARCHITECTURE.md)"
  if [ "$top" = ml ]; then
    sub=$(ml_sub_of "$module")
    [ -z "$(ml_layer_of "$sub")" ] &&
      report "$root/$file: module 'ml::$sub' has no sub-layer in scripts/check-layers.sh (add it, and to ARCHITECTURE.md)"
  fi
done <<< "$files"

while IFS=$'\t' read -r from_file from_module to_file to_module _; do
  [ -z "$from_file" ] && continue
  [ "$from_file" = main.rs ] && continue                       # the binary: `crate::` is not the library
  from=$(top_of "$from_module")
  to=$(top_of "$to_module")
  from_layer=$(layer_of "$from")
  to_layer=$(layer_of "$to")
  [ -z "$from_layer" ] && continue                             # reported above
  if [ "$from" != "$to" ]; then
    if [ -z "$to_layer" ]; then
      report "$root/$from_file: imports '$to', which has no layer in scripts/check-layers.sh"
    elif [ "$to_layer" -gt "$from_layer" ]; then
      report "$root/$from_file: $from (layer $from_layer) imports $to (layer $to_layer), a layer above it"
    elif { [ "$from" = serve ] && [ "$to" = ui ]; } || { [ "$from" = ui ] && [ "$to" = serve ]; }; then
      report "$root/$from_file: $from imports $to; the two servers share only web/ and ops/"
    fi
  elif [ "$from" = ml ]; then
    from_sub=$(ml_sub_of "$from_module")
    to_sub=$(ml_sub_of "$to_module")
    from_sub_layer=$(ml_layer_of "$from_sub")
    to_sub_layer=$(ml_layer_of "$to_sub")
    [ "$from_sub" = "$to_sub" ] || [ -z "$from_sub_layer" ] && continue
    if [ -z "$to_sub_layer" ]; then
      report "$root/$from_file: imports 'ml::$to_sub', which has no sub-layer in scripts/check-layers.sh"
    elif [ "$to_sub_layer" -gt "$from_sub_layer" ]; then
      report "$root/$from_file: ml::$from_sub (ml layer $from_sub_layer) imports ml::$to_sub (ml layer $to_sub_layer), a layer above it"
    fi
  fi
done < <(printf '%s\n' "$edges" | cut -f1-4 | sort -u)

# Cycles between files: tsort prints each loop's members as `tsort: FILE` lines.
if ! loops=$(printf '%s\n' "$edges" | awk -F'\t' '$1 != "" && $1 != "main.rs" && $5 != "test" { print $1, $3 }' | tsort 2>&1 >/dev/null); then
  echo "$loops" | awk -v root="$root" '
    /input contains a loop/ { if (n) print line; line = "cycle:"; n = 0; next }
    { sub(/^tsort: /, ""); line = line " " root "/" $0; n++ }
    END { if (n) print line }'
  report "the module graph has cycles (each line above: files that import each other in a circle); move what they share down a layer"
fi

# Settings are read in one place.
if grep -Rn 'std::env::var' "$root/" | grep -v "^$root/settings/"; then
  report "environment variables are read outside $root/settings/ (use settings::env)"
fi
[ "$status" -eq 0 ] && echo "check-layers: no layer violations, no cycles"
exit "$status"
