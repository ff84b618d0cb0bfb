#!/usr/bin/env bash
# `cargo check` time of a generated crate with all its features and with one feature.
#
# Generates DOC (default: the corpus's binance-spot.yaml, its largest document by operations
# and by generated lines), checks it once with the defaults (which checks keel-http and the
# other dependencies, so they are cached), then for each feature set: `cargo clean -p` of the
# generated crate only, and a timed `cargo check` of it (dependencies fresh, the crate cold).
# RUNS runs each; prints the median wall time and the user+system CPU time of that run.
#
# usage: crates/keel-codegen/scripts/feature-check-times.sh [DOC] [FEATURE...]
#   FEATURE...: the single features to time (default: the tag with the most operations and
#               the one with the fewest, read from the generated Cargo.toml)
# env:   KEEL_OPENAPI_CORPUS (default: <repo>/../shared/openapi-corpus)
#        CARGO_TARGET_DIR (default: <repo>/target/keel-feature-times)
#        RUNS (default 3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
corpus="${KEEL_OPENAPI_CORPUS:-$repo/../shared/openapi-corpus}"
doc="${1:-$corpus/binance-spot.yaml}"
shift || true
runs="${RUNS:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/keel-feature-times}"
[ -f "$doc" ] || { echo "no document at $doc (set KEEL_OPENAPI_CORPUS or pass DOC)" >&2; exit 2; }

name="$(basename "$doc")"; name="${name%.*}"
crate="$name-client"
work="$(mktemp -d -t keel-feature-times.XXXXXX)"
trap 'rm -rf "$work"' EXIT

(cd "$repo" && CARGO_TARGET_DIR="$repo/target" cargo build -q -p keel-http-codegen --example generate)
read -r ops _ _ _ < <("$repo/target/debug/examples/generate" "$doc" "$work/$name" "$crate" "$repo/crates/keel" 2>/dev/null)
printf '[workspace]\nresolver = "2"\nmembers = ["%s"]\n' "$name" > "$work/Cargo.toml"
offline=()
if [ -f "$repo/Cargo.lock" ]; then
  cp "$repo/Cargo.lock" "$work/Cargo.lock"
  offline=(--offline)
fi
lines=$(cat "$work/$name"/src/*.rs | wc -l)
# "# N operations tagged "Tag"" above each `feature = []`
mapfile -t table < <(awk '/^# [0-9]+ operations? tagged/ {n=$2; getline; sub(/ = \[\]$/, ""); print n, $0}' "$work/$name/Cargo.toml")
if [ ${#table[@]} -eq 0 ]; then
  echo "$doc: the generated crate has no features (fewer than two tags)" >&2
  exit 1
fi
if [ $# -eq 0 ]; then
  largest="$(printf '%s\n' "${table[@]}" | sort -k1,1nr -s | head -n1)"
  smallest="$(printf '%s\n' "${table[@]}" | sort -k1,1n -s | head -n1)"
  set -- "${largest#* }" "${smallest#* }"
fi
ops_of() { printf '%s\n' "${table[@]}" | awk -v f="$1" '$2 == f {print $1}'; }

cd "$work"
echo "warming up: cargo check of $crate and its dependencies (target: $CARGO_TARGET_DIR)"
cargo check -q "${offline[@]}" -p "$crate" >/dev/null 2>&1 || cargo check "${offline[@]}" -p "$crate"

# one cold check of the crate alone; prints "wall cpu"
timed() {
  cargo clean -q "${offline[@]}" -p "$crate" >/dev/null 2>&1
  /usr/bin/time -f '%e %U %S' -o "$work/time" cargo check -q "${offline[@]}" -p "$crate" "$@" >/dev/null 2>"$work/check.log" \
    || { cat "$work/check.log" >&2; echo "cargo check $* failed" >&2; exit 1; }
  awk '{printf "%.1f %.1f\n", $1, $2 + $3}' "$work/time"
}
median() {
  # each line "wall cpu": the line with the median wall time
  sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'
}

echo
echo "$name: $ops operations, ${#table[@]} features, $lines generated lines; cargo check of $crate, dependencies checked, $runs runs each, median; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %6s %10s %14s\n' "features" "ops" "wall (s)" "CPU user+sys"
row() {
  local label="$1" n="$2"; shift 2
  local r
  r="$(for _ in $(seq "$runs"); do timed "$@"; done | median)"
  printf '%-34s %6s %10s %14s\n' "$label" "$n" "${r% *}" "${r#* }"
}
row "all (default)" "$ops"
for f in "$@"; do
  row "only $f" "$(ops_of "$f")" --no-default-features --features "$f"
done
row "none (--no-default-features)" 0 --no-default-features
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
