"""httpx contender for keel-bench: the same two shapes as the Rust contenders.

Usage: bench_httpx.py --url URL --mode sync|async --shape sequential|concurrent|post
                      --requests N --concurrency C --warmup W [--body JSON]

The post shape sends --body (pre-serialized, Content-Type: application/json)
with POST, one request after another.

Prints one JSON object on stdout:
  {"requests": N, "seconds": s, "cpu_seconds": c, "p50_us": x, "p99_us": y,
   "httpx": version}
Every request reads the full body and checks the status; any failure exits 1.
"""

import argparse
import asyncio
import json
import math
import sys
import threading
import time

import httpx


JSON = {"content-type": "application/json"}


def percentile(sorted_ns, p):
    """Nearest-rank percentile, the same definition the Rust side uses."""
    if not sorted_ns:
        return 0.0
    rank = max(1, math.ceil(p * len(sorted_ns)))
    return sorted_ns[rank - 1] / 1000.0


def check(resp, expected_len):
    if resp.status_code != 200:
        raise RuntimeError(f"status {resp.status_code}")
    if expected_len is not None and len(resp.content) != expected_len:
        raise RuntimeError(f"body of {len(resp.content)} bytes, expected {expected_len}")


def run_sync(client, url, n, concurrency, expected_len, body=None):
    lat = []
    if concurrency == 1:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            s = time.perf_counter_ns()
            if body is None:
                resp = client.get(url)
            else:
                resp = client.post(url, content=body, headers=JSON)
            check(resp, expected_len)
            lat.append(time.perf_counter_ns() - s)
        return (time.perf_counter_ns() - t0) / 1e9, lat

    lock = threading.Lock()
    counter = [0]
    errors = []
    start = threading.Barrier(concurrency + 1)

    def worker():
        mine = []
        start.wait()
        try:
            while True:
                with lock:
                    if counter[0] >= n:
                        break
                    counter[0] += 1
                s = time.perf_counter_ns()
                check(client.get(url), expected_len)
                mine.append(time.perf_counter_ns() - s)
        except Exception as e:  # reported after the join
            errors.append(e)
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter_ns()
    for t in threads:
        t.join()
    seconds = (time.perf_counter_ns() - t0) / 1e9
    if errors:
        raise errors[0]
    return seconds, lat


async def run_async(client, url, n, concurrency, expected_len, body=None):
    lat = []
    if concurrency == 1:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            s = time.perf_counter_ns()
            if body is None:
                resp = await client.get(url)
            else:
                resp = await client.post(url, content=body, headers=JSON)
            check(resp, expected_len)
            lat.append(time.perf_counter_ns() - s)
        return (time.perf_counter_ns() - t0) / 1e9, lat

    counter = [0]

    async def worker():
        while counter[0] < n:
            counter[0] += 1
            s = time.perf_counter_ns()
            check(await client.get(url), expected_len)
            lat.append(time.perf_counter_ns() - s)

    t0 = time.perf_counter_ns()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.perf_counter_ns() - t0) / 1e9, lat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--mode", choices=["sync", "async"], required=True)
    ap.add_argument("--shape", choices=["sequential", "concurrent", "post"], required=True)
    ap.add_argument("--requests", type=int, required=True)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--expected-len", type=int, default=None)
    ap.add_argument("--body", default="")
    a = ap.parse_args()

    c = max(1, a.concurrency) if a.shape == "concurrent" else 1
    body = a.body.encode() if a.shape == "post" else None
    # Keep every connection alive: httpx's default keeps only 20 idle ones,
    # which would make 64-in-flight reconnect constantly.
    limits = httpx.Limits(max_connections=max(c, 1), max_keepalive_connections=max(c, 1))
    timeout = httpx.Timeout(30.0)

    if a.mode == "sync":
        with httpx.Client(limits=limits, timeout=timeout) as client:
            run_sync(client, a.url, max(a.warmup, c), c, a.expected_len, body)
            cpu0 = time.process_time()
            seconds, lat = run_sync(client, a.url, a.requests, c, a.expected_len, body)
            cpu = time.process_time() - cpu0
    else:
        async def go():
            async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
                await run_async(client, a.url, max(a.warmup, c), c, a.expected_len, body)
                cpu0 = time.process_time()
                r = await run_async(client, a.url, a.requests, c, a.expected_len, body)
                return r, time.process_time() - cpu0

        (seconds, lat), cpu = asyncio.run(go())

    lat.sort()
    json.dump(
        {
            "requests": len(lat),
            "seconds": seconds,
            "cpu_seconds": cpu,
            "p50_us": percentile(lat, 0.50),
            "p99_us": percentile(lat, 0.99),
            "httpx": httpx.__version__,
            "python": sys.version.split()[0],
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        print(f"httpx contender failed: {e!r}", file=sys.stderr)
        sys.exit(1)
