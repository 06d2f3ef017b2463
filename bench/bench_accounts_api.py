"""GET /api/v1/accounts/ under 32 concurrent connections, beside a bare authenticated
DRF endpoint on the same server in the same run.

    .venv/bin/python bench/bench_accounts_api.py [--seconds 10] [--connections 32]

The load comes from wrk when it is installed (`apt-get install wrk`: a C client that
leaves the CPU to the server; uvicorn then gets one worker per core), otherwise from
httpx in this process (one core left to it).

Target: the accounts list keeps at least 50% of the bare endpoint's throughput, with a
p95 under 100 ms on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
from stack import running_stack, summary


async def _load(url: str, token: str, *, connections: int, seconds: float) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
        for _ in range(connections):  # warm the pool and the server
            await client.get(url)
        deadline = time.perf_counter() + seconds

        async def user():
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(url)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    result = summary(latencies, elapsed)
    result["errors"] = errors
    return result


def _load_wrk(wrk: str, url: str, token: str, *, connections: int, seconds: float) -> dict:
    output = subprocess.run(
        [
            wrk,
            "-t2",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "--timeout",
            "10s",
            "-s",
            str(Path(__file__).with_name("wrk_report.lua")),
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = re.search(r"RESULT rps=([\d.]+) p50=([\d.]+) p95=([\d.]+) errors=(\d+)", output)
    rps, p50, p95, errors = found.groups()
    return {"rps": float(rps), "p50_ms": float(p50), "p95_ms": float(p95), "errors": int(errors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    # wrk barely uses the CPU, so the server gets a worker per core; httpx needs a core.
    workers = (os.cpu_count() or 1) if wrk else None
    with running_stack(workers=workers) as stack:
        token = stack.token()
        results = {}
        for name, path in [("bare", "/api/v1/bench/bare"), ("accounts", "/api/v1/accounts/")]:
            url = stack.base_url + path
            if wrk:
                results[name] = _load_wrk(
                    wrk, url, token, connections=args.connections, seconds=args.seconds
                )
            else:
                results[name] = asyncio.run(
                    _load(url, token, connections=args.connections, seconds=args.seconds)
                )
    client = "wrk" if wrk else "httpx in this process"
    print(
        f"{args.connections} connections, {args.seconds:.0f} s each, "
        f"{stack.workers} uvicorn worker(s), load from {client}"
    )
    for name, r in results.items():
        print(
            f"  {name:<9} {r['rps']:8.1f} req/s   p50 {r['p50_ms']:6.1f} ms   "
            f"p95 {r['p95_ms']:6.1f} ms   errors {r['errors']}"
        )
    ratio = results["accounts"]["rps"] / results["bare"]["rps"]
    print(
        f"  accounts/bare throughput ratio: {ratio:.2f} (target >= 0.50); "
        f"accounts p95 {results['accounts']['p95_ms']:.1f} ms (target < 100)"
    )


if __name__ == "__main__":
    main()
