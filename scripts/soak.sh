#!/usr/bin/env bash
# Soak: REQUESTS (default 100 000) requests through one Keel client family
# (async tasks, blocking threads and derived clients sharing one pool and one
# resilience state) against `keel serve`'s normal and fault routes on
# loopback, sampling the client's RSS, open descriptors and threads from
# /proc/self (and the server's RSS from /proc/PID). Release builds.
#
#   scripts/soak.sh [REQUESTS] [ASYNC_TASKS] [BLOCKING_THREADS]
#
# Exits non-zero if a request fails without the route explaining it, or if
# memory or descriptors keep growing over the second half of the run.
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-100000}"
tasks="${2:-32}"
threads="${3:-2}"

cargo build --release -q -p keel-http-cli --bin keel
cargo build --release -q -p keel-http --example soak
target="${CARGO_TARGET_DIR:-target}"

log="$(mktemp -t keel-soak-serve.XXXXXX)"
"$target/release/keel" serve --port 0 >"$log" 2>&1 &
server=$!
trap 'kill -INT "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"' EXIT

url=""
for _ in $(seq 1 100); do          # up to 10 s for the server to listen
  url="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -1 || true)"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "keel serve did not start:"; cat "$log"; exit 1; }
server_rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$server/status" 2>/dev/null || echo 0; }
before="$(server_rss_kib)"

echo "soak: $requests requests against $url ($tasks async tasks, $threads blocking threads)"
status=0
timeout 900 "$target/release/examples/soak" "$url" "$requests" "$tasks" "$threads" || status=$?
echo "server (keel serve) RSS: $((before / 1024)) MiB before, $(( $(server_rss_kib) / 1024 )) MiB after"
exit "$status"
