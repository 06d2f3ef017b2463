"""200 concurrent transfers out of one account through POST /api/v1/payments/, plus 20
retries that reuse earlier Idempotency-Keys, all at once.

    .venv/bin/python bench/bench_transfers.py [--transfers 200] [--retries 20] [--connections 32]

Checks: no double debit (one payment and one debit per key), the final balance exact,
`manage.py reconcile` clean. Prints transfers per second. Target: at least 100/s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from stack import running_stack, summary


def _fire(base_url, token, requests, connections):
    """Each of `connections` threads keeps one keep-alive connection and takes the next
    request from the shared queue. Plain http.client: a few hundred microseconds of CPU a
    request, so the client takes little from the server on this machine."""
    host, port = urlsplit(base_url).hostname, urlsplit(base_url).port
    work: queue.SimpleQueue = queue.SimpleQueue()
    for item in requests:
        work.put(item)
    statuses: Counter = Counter()
    latencies: list[float] = []
    start = threading.Barrier(connections + 1)

    def connection_loop():
        connection = http.client.HTTPConnection(host, port, timeout=60)
        start.wait()
        while True:
            try:
                key, body = work.get_nowait()
            except queue.Empty:
                break
            began = time.perf_counter()
            connection.request(
                "POST",
                "/api/v1/payments/",
                body=json.dumps(body),
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": key,
                },
            )
            response = connection.getresponse()
            response.read()
            latencies.append(time.perf_counter() - began)
            statuses[response.status] += 1  # Counter updates are atomic enough under the GIL
        connection.close()

    threads = [threading.Thread(target=connection_loop) for _ in range(connections)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return dict(statuses), latencies, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transfers", type=int, default=200)
    parser.add_argument("--retries", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=32, help="untimed transfers first")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="uvicorn processes"
    )
    args = parser.parse_args()
    rng = random.Random(7)
    with running_stack(workers=args.workers) as stack:
        token = stack.token()
        client = httpx.Client(
            base_url=stack.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        accounts = client.get("/api/v1/accounts/").json()
        accounts = accounts.get("results", accounts) if isinstance(accounts, dict) else accounts
        checking = next(a for a in accounts if a["type"] == "checking")
        savings = next(a for a in accounts if a["type"] == "savings")
        body = {
            "from_account": checking["id"],
            "to_account": savings["id"],
            "amount": "1.00",
            "currency": checking["currency"],
            "reference": "bench",
        }
        # Warm-up, not timed: every server thread opens its database connection and runs
        # the payment path once. The race starts from the balance after it.
        warmup = [(f"warmup-{i}", {**body, "reference": "warm-up"}) for i in range(args.warmup)]
        _fire(stack.base_url, token, warmup, args.connections)
        start_balance = Decimal(client.get(f"/api/v1/accounts/{checking['id']}/").json()["balance"])
        requests = [(f"bench-{i}", body) for i in range(args.transfers)]
        retries = [requests[rng.randrange(args.transfers)] for _ in range(args.retries)]
        mixed = requests + retries
        rng.shuffle(mixed)
        statuses, latencies, elapsed = _fire(stack.base_url, token, mixed, args.connections)
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
        f"{args.connections} connections in {elapsed:.2f} s; {stack.workers} uvicorn worker(s)"
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
