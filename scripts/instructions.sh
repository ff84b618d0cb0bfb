#!/usr/bin/env bash
# Instructions per request, under callgrind (deterministic where wall clock
# is not): each contender runs N1 and N2 requests of one shape, each in its
# own process, and the marginal cost is (I(N2) - I(N1)) / (N2 - N1) -- the
# instructions of the client process (every thread; the demo server is a
# separate process, not traced), start-up and warm-up cancelled out.
# The bare HMAC-SHA256 of a signed GET /bench's string to sign is measured
# the same way (`keel-bench --hmac N`; `--hmac-keyed` keys it every time,
# `--hmac-post` signs the POST shape's string), so signing costs can be read
# against it: under valgrind SHA-256 runs without the SHA-NI instructions.
#
#   scripts/instructions.sh                 every Rust contender, sequential GET
#   scripts/instructions.sh --shapes sequential,post
#   scripts/instructions.sh --only keel,hyper --n1 500 --n2 1500
#
# Writes <out>/instructions.md and .json (default bench-results/), the
# callgrind files, and per contender the functions whose instructions grow
# with the request count (<out>/callgrind/<contender>.<shape>.per-request.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

n1=1000
n2=3000
warmup=200
shapes=sequential
only="hyper,reqwest,reqwest-timeout,reqwest-blocking,reqwest-middleware,keel,keel-blocking,keel-signed,keel-signed-resilient"
out=bench-results
top=25

usage() {
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    echo
    echo "options: --n1 N (default $n1)  --n2 N (default $n2)  --warmup N (default $warmup)"
    echo "         --shapes s,.. (sequential, post; default $shapes)  --only a,b,..  --out DIR"
    echo "         --top N (functions listed per contender, default $top)"
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --n1) n1="$2"; shift 2 ;;
        --n2) n2="$2"; shift 2 ;;
        --warmup) warmup="$2"; shift 2 ;;
        --shapes) shapes="$2"; shift 2 ;;
        --only) only="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --top) top="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "instructions.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
if ! [[ "$n1" =~ ^[0-9]+$ && "$n2" =~ ^[0-9]+$ ]] || (( n1 < 1 || n2 <= n1 )); then
    echo "instructions.sh: need 1 <= --n1 < --n2 (got $n1, $n2)" >&2
    exit 2
fi
if [[ ",$shapes," == *,concurrent,* ]]; then
    echo "instructions.sh: the concurrent shape is not counted (thread scheduling under" >&2
    echo "valgrind makes it meaningless); use sequential and/or post" >&2
    exit 2
fi
for tool in valgrind callgrind_annotate python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "instructions.sh: $tool is missing (apt-get install valgrind python3)" >&2
        exit 1
    fi
done

cargo build --release -p keel-bench
bin="${CARGO_TARGET_DIR:-target}/release/keel-bench"
cg="$out/callgrind"
mkdir -p "$cg"

pin=()
cpus=$(grep -c '^processor' /proc/cpuinfo 2>/dev/null || echo 1)
if command -v taskset >/dev/null 2>&1 && [[ "$cpus" -ge 2 ]]; then
    pin=(taskset -c 1)   # the demo server keel-bench starts goes to CPU 0
fi

# callgrind's total instruction count in one output file.
total() {
    awk '/^(summary|totals):/ { print $2; exit }' "$1"
}

count() { # name n -- args...
    local name="$1" n="$2"
    shift 2
    local file="$cg/$name.$n.out"
    "${pin[@]}" valgrind --tool=callgrind --callgrind-out-file="$file" \
        "$bin" "$@" >"$cg/$name.$n.log" 2>&1 || {
        echo "instructions.sh: $name ($n) failed; see $cg/$name.$n.log" >&2
        tail -5 "$cg/$name.$n.log" >&2
        exit 1
    }
    total "$file"
}

echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
results=()
for mode in hmac hmac-keyed hmac-post; do
    a=$(count "$mode" "$n1" --"$mode" "$n1")
    b=$(count "$mode" "$n2" --"$mode" "$n2")
    echo "$mode: $a -> $b" >&2
    results+=("$mode hmac $a $b")
done
IFS=',' read -r -a shape_list <<<"$shapes"
IFS=',' read -r -a kinds <<<"$only"
for shape in "${shape_list[@]}"; do
    for k in "${kinds[@]}"; do
        for n in "$n1" "$n2"; do
            v=$(count "$k.$shape" "$n" --only "$k" --shapes "$shape" --requests "$n" \
                --rounds 1 --warmup "$warmup" --no-python --out "$cg/run")
            if [[ "$n" == "$n1" ]]; then a=$v; else b=$v; fi
        done
        echo "$k ($shape): $a -> $b" >&2
        results+=("$k $shape $a $b")
    done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

printf '%s\n' "${results[@]}" >"$cg/totals.txt"
python3 - "$n1" "$n2" "$cg" "$out" "$top" \
    "$(git describe --always --dirty 2>/dev/null || echo '?')" "$(valgrind --version)" <<'PY'
import json, re, subprocess, sys

n1, n2, cg, out, top, git, vg = sys.argv[1:8]
n1, n2, top = int(n1), int(n2), int(top)
with open(f"{cg}/totals.txt") as fh:
    rows = [line.split() for line in fh.read().splitlines() if line.strip()]
per = {}  # (name, shape) -> instructions per request
for name, shape, a, b in rows:
    per[(name, shape)] = (int(b) - int(a)) / (n2 - n1)

hmac = per.get(("hmac", "hmac"))
hmac_keyed = per.get(("hmac-keyed", "hmac"))
hmac_post = per.get(("hmac-post", "hmac"))
with open(f"{cg}/hmac-post.{n1}.log") as fh:
    m = re.search(r" of (\d+) bytes", fh.read())
post_len = m.group(1) if m else "?"

def fn_costs(path):
    """Self cost per function, from callgrind_annotate."""
    txt = subprocess.run(
        ["callgrind_annotate", "--inclusive=no", "--threshold=100", path],
        capture_output=True, text=True, check=True).stdout
    costs = {}
    for line in txt.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*)$", line)
        if not m or ":" not in m.group(2):
            continue
        fn = m.group(2).strip()
        fn = re.sub(r"\s+\[[^\]]*\]$", "", fn)  # the object file
        fn = fn.split(":", 1)[1]  # "file:function"; a file name has no colon
        costs[fn] = costs.get(fn, 0) + int(m.group(1).replace(",", ""))
    return costs

shapes = sorted({s for (_, s) in per if s != "hmac"}, key=["sequential", "post"].index)
md = []
md.append(f"Instructions per request (callgrind, client process, marginal between {n1} and "
          f"{n2} requests; {vg}; keel-bench at {git}). Under valgrind SHA-256 runs without "
          f"SHA-NI: one bare HMAC-SHA256 of a signed GET /bench's string to sign costs "
          f"{hmac:,.0f} instructions keyed once (clone of the keyed state), "
          f"{hmac_keyed:,.0f} keyed per signature; of the POST shape's string to sign "
          f"({post_len} bytes), {hmac_post:,.0f} keyed once.\n")
for shape in shapes:
    md.append(f"**{shape}**\n")
    md.append("| contender | instructions / request | × hyper | × reqwest | × keel |")
    md.append("|---|---:|---:|---:|---:|")
    base_h = per.get(("hyper", shape)); base_r = per.get(("reqwest", shape)); base_k = per.get(("keel", shape))
    for (name, s), v in per.items():
        if s != shape:
            continue
        f = lambda b: f"{v / b:.2f}" if b else "-"
        md.append(f"| {name} | {v:,.0f} | {f(base_h)} | {f(base_r)} | {f(base_k)} |")
    md.append("")
    targets = []
    k, h, r = per.get(("keel", shape)), per.get(("hyper", shape)), per.get(("keel-signed-resilient", shape))
    if k and h:
        targets.append(("keel ≤ 1.15 × hyper", k, 1.15 * h))
    bare = hmac_post if shape == "post" else hmac
    if k and r and bare:
        targets.append(("keel-signed-resilient ≤ keel + bare HMAC + 3 000", r, k + bare + 3000))
    if targets:
        md.append("| target | measured | limit | |")
        md.append("|---|---:|---:|---|")
        for what, v, limit in targets:
            md.append(f"| {what} | {v:,.0f} | {limit:,.0f} | {'met' if v <= limit else 'missed'} |")
        md.append("")

# Per-function marginal costs: what grows with the request count.
for (name, shape), v in per.items():
    if shape == "hmac":
        continue
    a = fn_costs(f"{cg}/{name}.{shape}.{n1}.out")
    b = fn_costs(f"{cg}/{name}.{shape}.{n2}.out")
    diff = sorted(((b.get(f, 0) - a.get(f, 0)) / (n2 - n1), f) for f in set(a) | set(b))
    diff.reverse()
    with open(f"{cg}/{name}.{shape}.per-request.txt", "w") as fh:
        fh.write(f"{name} ({shape}): {v:,.0f} instructions per request; "
                 f"self cost per request of the top {top} functions\n")
        for d, f in diff[:top]:
            fh.write(f"{d:>10,.0f}  {f}\n")

text = "\n".join(md)
print(text)
with open(f"{out}/instructions.md", "w") as fh:
    fh.write(text + "\n")
with open(f"{out}/instructions.json", "w") as fh:
    json.dump({"n1": n1, "n2": n2, "git": git, "valgrind": vg,
               "per_request": [{"contender": n, "shape": s, "instructions": v}
                               for (n, s), v in per.items()]}, fh, indent=2)
PY
echo "wrote $out/instructions.md, $out/instructions.json and $cg/*.per-request.txt" >&2
