#!/usr/bin/env bash
# Generate a client crate for every document of the shared OpenAPI corpus and build them all
# in one throwaway workspace (dependencies compile once), then print a table:
#   spec | operations | schemas | warnings | generation time | build result
#
# usage: crates/keel-codegen/scripts/build-corpus.sh [WORK_DIR]
# env:   KEEL_OPENAPI_CORPUS or CORPUS_DIR (default: <repo>/../shared/openapi-corpus)
#        CARGO_TARGET_DIR (default: <repo>/target/keel-generated)
#        GEN_TARGET_DIR (where the generator is built; default: <repo>/target)
#        CORPUS_CHECK=1  run `cargo check` instead of `cargo build` (faster, no codegen)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
crate="$(cd "$here/.." && pwd)"
repo="$(cd "$crate/../.." && pwd)"
corpus="${KEEL_OPENAPI_CORPUS:-${CORPUS_DIR:-$repo/../shared/openapi-corpus}}"
work="${1:-$(mktemp -d -t keel-corpus.XXXXXX)}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/keel-generated}"
mkdir -p "$work"

if [ ! -d "$corpus" ]; then
  echo "corpus not found at $corpus (set KEEL_OPENAPI_CORPUS)" >&2
  exit 2
fi

# the generator itself, built in the repository's own target dir
gen_target="${GEN_TARGET_DIR:-$repo/target}"
(cd "$repo" && CARGO_TARGET_DIR="$gen_target" cargo build -q -p keel-http-codegen --example generate)
gen="$gen_target/debug/examples/generate"

declare -A stats
members=()
for spec in "$corpus"/*.yaml "$corpus"/*.yml "$corpus"/*.json; do
  [ -f "$spec" ] || continue
  name="$(basename "$spec")"; name="${name%.*}"
  if out="$("$gen" "$spec" "$work/$name" "$name-client" "$repo/crates/keel" 2>"$work/$name.warnings")"; then
    stats[$name]="$out"
    members+=("$name")
  else
    stats[$name]="GENERATION-FAILED"
    cat "$work/$name.warnings" >&2
  fi
done

{
  echo '[workspace]'
  echo 'resolver = "2"'
  printf 'members = ['
  sep=''
  for m in "${members[@]}"; do printf '%s"%s"' "$sep" "$m"; sep=', '; done
  echo ']'
} > "$work/Cargo.toml"
offline=()
if [ -f "$repo/Cargo.lock" ]; then
  cp "$repo/Cargo.lock" "$work/Cargo.lock"
  offline=(--offline)
fi

cmd=build
[ "${CORPUS_CHECK:-0}" = 1 ] && cmd=check
start=$(date +%s)
set +e
(cd "$work" && cargo "$cmd" "${offline[@]}" --workspace --keep-going --message-format short) >"$work/build.log" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ ${#offline[@]} -gt 0 ] && grep -q "offline" "$work/build.log"; then
  (cd "$work" && cargo "$cmd" --workspace --keep-going --message-format short) >"$work/build.log" 2>&1
  rc=$?
fi
set -e
total=$(( $(date +%s) - start ))

printf '%-24s %6s %8s %9s %10s  %s\n' spec ops schemas warnings gen_ms build
failed=0
for spec in "$corpus"/*.yaml "$corpus"/*.yml "$corpus"/*.json; do
  [ -f "$spec" ] || continue
  name="$(basename "$spec")"; name="${name%.*}"
  s="${stats[$name]}"
  if [ "$s" = GENERATION-FAILED ]; then
    printf '%-24s %6s %8s %9s %10s  %s\n' "$name" - - - - "generation failed"
    failed=1
    continue
  fi
  read -r ops schemas warns ms <<<"$s"
  errs=$(grep -c "^$name/.*error" "$work/build.log" || true)
  cwarn=$(grep -c "^$name/.*warning" "$work/build.log" || true)
  if grep -q "could not compile \`$name-client\`" "$work/build.log" || [ "$errs" -gt 0 ]; then
    result="FAILED ($errs errors)"; failed=1
  elif [ $rc -ne 0 ] && ! grep -q "Finished" "$work/build.log"; then
    result="not built"; failed=1
  else
    result="ok"
    [ "$cwarn" -gt 0 ] && { result="ok, $cwarn compiler warnings"; failed=1; }
  fi
  printf '%-24s %6s %8s %9s %10s  %s\n' "$name" "$ops" "$schemas" "$warns" "$ms" "$result"
done
echo "cargo $cmd of all generated crates (incl. keel's dependencies unless cached): ${total}s; log: $work/build.log"
exit $failed
