#!/usr/bin/env bash
# Runs every property test with 100x its usual case count (KEEL_PROPTEST_SCALE;
# pass another factor as the first argument). The default counts keep
# `cargo test` fast; this is the long run, for before a release or after
# changing URL, header, signing, Retry-After or OpenAPI-reader code.
set -euo pipefail
cd "$(dirname "$0")/.."
export KEEL_PROPTEST_SCALE="${1:-100}"
cargo test --release -p keel-http --features aws-sigv4 --test prop_request --test prop_signing
cargo test --release -p keel-http-codegen --test prop_reader
