"""Run by bench_transfers.py inside the benchmark stack's environment: the same race
through the payment service directly, without HTTP, to show what the ledger itself does.

Prints one JSON line: {"seconds", "created", "replayed", "errors", "start", "final"}.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django

django.setup()

from django.db import connection

from apps.accounts.models import Account, Customer
from apps.accounts.services.payments import payment_create


def main(transfers: int, retries: int, threads: int) -> None:
    customer = Customer.objects.select_related("user").get(user__username="bob")
    checking = customer.accounts.get(type=Account.Type.CHECKING)
    savings = customer.accounts.get(type=Account.Type.SAVINGS)
    start = checking.balance
    keys = [f"svc-{i}" for i in range(transfers)]
    rng = random.Random(11)
    work = keys + [rng.choice(keys) for _ in range(retries)]
    rng.shuffle(work)
    counts = {"created": 0, "replayed": 0, "errors": 0}
    lock = threading.Lock()

    def pay(key):
        try:
            _, created = payment_create(
                customer=customer,
                actor=customer.user,
                from_account_id=checking.pk,
                amount="1.00",
                currency=checking.currency,
                idempotency_key=key,
                to_account_id=savings.pk,
                reference="bench",
            )
            with lock:
                counts["created" if created else "replayed"] += 1
        except Exception:  # noqa: BLE001 - counted and printed
            with lock:
                counts["errors"] += 1
        finally:
            connection.close()

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(pay, work))
    seconds = time.perf_counter() - began
    checking.refresh_from_db()
    print(
        json.dumps(
            {"seconds": seconds, **counts, "start": str(start), "final": str(checking.balance)}
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
