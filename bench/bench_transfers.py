"""200 concurrent transfers out of one account through POST /api/v1/payments/, plus 20
retries that reuse earlier Idempotency-Keys, all at once.

    .venv/bin/python bench/bench_transfers.py [--transfers 200] [--retries 20] [--connections 32]

Checks: no double debit (one payment and one debit per key), the final balance exact,
`manage.py reconcile` clean. Prints transfers per second. Target: at least 100/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
from stack import running_stack, summary


async def _fire(base_url, token, requests, connections):
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    queue: asyncio.Queue = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=60
    ) as client:

        async def worker():
            while not queue.empty():
                key, body = queue.get_nowait()
                started = time.perf_counter()
                response = await client.post(
                    "/api/v1/payments/", json=body, headers={"Idempotency-Key": key}
                )
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return statuses, latencies, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transfers", type=int, default=200)
    parser.add_argument("--retries", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    rng = random.Random(7)
    with running_stack() as stack:
        token = stack.token()
        client = httpx.Client(
            base_url=stack.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        accounts = client.get("/api/v1/accounts/").json()
        accounts = accounts.get("results", accounts) if isinstance(accounts, dict) else accounts
        checking = next(a for a in accounts if a["type"] == "checking")
        savings = next(a for a in accounts if a["type"] == "savings")
        start_balance = Decimal(checking["balance"])
        body = {
            "from_account": checking["id"],
            "to_account": savings["id"],
            "amount": "1.00",
            "currency": checking["currency"],
            "reference": "bench",
        }
        requests = [(f"bench-{i}", body) for i in range(args.transfers)]
        retries = [requests[rng.randrange(args.transfers)] for _ in range(args.retries)]
        mixed = requests + retries
        rng.shuffle(mixed)
        statuses, latencies, elapsed = asyncio.run(
            _fire(stack.base_url, token, mixed, args.connections)
        )
        final = Decimal(client.get(f"/api/v1/accounts/{checking['id']}/").json()["balance"])
        service = json.loads(
            subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).with_name("service_transfers.py")),
                    str(args.transfers),
                    str(args.retries),
                    "8",
                ],
                env=stack.env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        reconcile = stack.manage("reconcile").strip()
    expected = start_balance - Decimal(args.transfers)
    stats = summary(latencies, elapsed)
    print(
        f"{args.transfers} transfers + {args.retries} key retries over "
        f"{args.connections} connections in {elapsed:.2f} s"
    )
    print(f"  responses by status: {dict(sorted(statuses.items()))}")
    print(
        f"  transfers/s: {args.transfers / elapsed:.1f} (target >= 100); "
        f"request p50 {stats['p50_ms']:.1f} ms, p95 {stats['p95_ms']:.1f} ms"
    )
    print(
        f"  balance {start_balance} -> {final}, expected {expected}: "
        f"{'exact' if final == expected else 'WRONG'}"
    )
    print(f"  double debits: {0 if final == expected else 'YES'}; reconcile: {reconcile}")
    service_expected = Decimal(service["start"]) - Decimal(args.transfers)
    print(
        f"Same race through the payment service, 8 threads, no HTTP: "
        f"{args.transfers / service['seconds']:.1f} transfers/s; created {service['created']}, "
        f"replayed {service['replayed']}, errors {service['errors']}; balance "
        f"{service['start']} -> {service['final']} "
        f"({'exact' if Decimal(service['final']) == service_expected else 'WRONG'})"
    )


if __name__ == "__main__":
    main()
