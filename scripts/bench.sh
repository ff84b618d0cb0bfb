#!/usr/bin/env bash
# Side-by-side benchmark: Keel vs raw hyper, raw reqwest and Python httpx.
#
#   scripts/bench.sh            full run (a few minutes)
#   scripts/bench.sh --quick    short run while developing
#   scripts/bench.sh --help     every option of keel-bench
#
# Installs httpx from PyPI into .venv-bench/ (once), builds keel-bench in
# release mode, and runs it pinned to CPU 1 (the demo server it starts is
# pinned to CPU 0) when `taskset` exists and there are two CPUs or more.
# Results: bench-results/latest.json and bench-results/latest.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x .venv-bench/bin/python ]] || ! .venv-bench/bin/python -c 'import httpx' 2>/dev/null; then
    echo "bench.sh: installing httpx into .venv-bench/" >&2
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install --quiet httpx
fi

cargo build --release -p keel-bench
bin="${CARGO_TARGET_DIR:-target}/release/keel-bench"

cpus=$(grep -c '^processor' /proc/cpuinfo 2>/dev/null || echo 1)
if command -v taskset >/dev/null 2>&1 && [[ "$cpus" -ge 2 ]]; then
    exec taskset -c 1 "$bin" --python .venv-bench/bin/python "$@"
else
    echo "bench.sh: taskset or a second CPU is missing; running unpinned (noisier)" >&2
    exec "$bin" --python .venv-bench/bin/python "$@"
fi
