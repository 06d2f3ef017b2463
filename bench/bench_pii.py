"""PII masking per chat message, and the scan commands' throughput.

    .venv/bin/python bench/bench_pii.py [--messages 1000] [--scan-lines 2000] [--no-scan]

Masks realistic banking messages (short questions, payment requests with names, card
numbers, IBANs, addresses, dates of birth; seeded, so every run sees the same ones) the way
the assistant does: `pii_mask` with the conversation's placeholder map and the customer's
known values. Prints p50/p95/max per message; target: p95 at most 25 ms. Then feeds
`manage.py pii_scan` and `manage.py guard_scan` the same kind of lines through a pipe, with
database and Redis addresses where nothing listens (neither command needs them).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from apps.compliance.guards import input_guard_check
from apps.compliance.pii import PlaceholderMap, luhn_valid, pii_mask, pii_warm_up

TARGET_P95_MS = 25.0

FIRST = ["John", "Maria", "Priya", "Tom", "Aisha", "David", "Chen", "Olivia", "Kwame", "Sofia"]
LAST = ["Smith", "Garcia", "Patel", "O'Brien", "Khan", "Jones", "Wei", "Brown", "Mensah", "Rossi"]
MERCHANTS = ["Tesco", "Amazon", "Netflix", "British Gas", "Uber", "Sainsbury's", "Spotify"]
STREETS = ["High Street", "Baker Street", "Station Road", "Church Lane", "Victoria Avenue"]
TOWNS = ["London NW1 6XE", "Leeds LS1 4AP", "Manchester M1 1AE", "Bristol BS1 4DJ"]

TEMPLATES = [
    "what's my balance?",
    "freeze my card please",
    "Why was my card declined at {merchant} yesterday?",
    "I forgot my password, how do I reset it?",
    "How much did I spend at {merchant} last month?",
    "Pay {name} {amount} from my current account",
    "transfer {amount} to {name} tomorrow, sort code {sort} account {account}",
    "Can you send {amount} to IBAN {iban}? It's for {name}'s rent.",
    "My card {card} was charged twice by {merchant} on {date}, please refund {amount}.",
    "I moved house. My new address is {number} {street}, {town}. Please update it.",
    "My name is {name}, date of birth {dob}, and I can't log in to the app.",
    "Hi, I'm {name}. My SSN is {ssn} and I'd like to open a savings account.",
    "please call me on {phone} or email {email} about the loan",
    "Ignore the last payment to {merchant}, I mean the one before, the {amount} one.",
    "I received {amount} from {name} on {date} but it's not in my account {account}.",
    "Hello, I have a question about my statement. On {date} there is a payment of {amount} "
    "to {merchant} that I don't recognise, and another one of {amount} the day after. "
    "I still have my card {card} with me, so I think the details were stolen online. "
    "Can you block it and send a new one to {number} {street}, {town}?",
]


def _card(rng: random.Random) -> str:
    while True:
        digits = "4" + "".join(rng.choice("0123456789") for _ in range(15))
        if luhn_valid(digits):
            return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


def _iban(rng: random.Random) -> str:
    from schwifty import IBAN

    account = f"{rng.randrange(10**8):08d}"
    return IBAN.generate("GB", bank_code="NWBK601613", account_code=account).formatted


def _message(rng: random.Random) -> str:
    values = {
        "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "merchant": rng.choice(MERCHANTS),
        "amount": f"£{rng.randrange(5, 2000)}.{rng.randrange(100):02d}",
        "sort": f"{rng.randrange(100):02d}-{rng.randrange(100):02d}-{rng.randrange(100):02d}",
        "account": f"{rng.randrange(10**7, 10**8)}",
        "iban": _iban(rng),
        "card": _card(rng),
        "date": f"{rng.randrange(1, 29):02d}/{rng.randrange(1, 13):02d}/2026",
        "dob": f"{rng.randrange(1, 29)} March {rng.randrange(1950, 2005)}",
        "number": str(rng.randrange(1, 300)),
        "street": rng.choice(STREETS),
        "town": rng.choice(TOWNS),
        "ssn": f"{rng.randrange(100, 600)}-{rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}",
        "phone": f"07{rng.randrange(100, 999)} {rng.randrange(100000, 999999)}",
        "email": f"{rng.choice(FIRST).lower()}.{rng.randrange(100)}@example.com",
    }
    return rng.choice(TEMPLATES).format(**values)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def bench_masking(messages: list[str]) -> dict:
    known = {"PERSON": ["Casey Customer", "Casey"], "ACCOUNT_NUMBER": ["40404012"]}
    latencies = []
    conversations = [PlaceholderMap() for _ in range(20)]  # messages spread over 20 chats
    for index, message in enumerate(messages):
        mapping = conversations[index % len(conversations)]
        started = time.perf_counter()
        pii_mask(message, mapping, known=known)
        latencies.append((time.perf_counter() - started) * 1000)
    return {
        "p50": statistics.median(latencies),
        "p95": _percentile(latencies, 0.95),
        "max": max(latencies),
        "mean_chars": statistics.mean(len(m) for m in messages),
    }


def bench_guard(messages: list[str]) -> dict:
    latencies = []
    for message in messages:
        started = time.perf_counter()
        input_guard_check(message)
        latencies.append((time.perf_counter() - started) * 1000)
    return {"p50": statistics.median(latencies), "p95": _percentile(latencies, 0.95)}


def bench_scan(command: str, messages: list[str]) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL="postgresql://nobody:nothing@127.0.0.1:9/no_database",
        REDIS_URL="redis://127.0.0.1:9/0",
    )
    stdin = "".join(json.dumps({"text": m}) + "\n" for m in messages)

    def run(payload: str) -> tuple[float, list[str]]:
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "manage.py", command],
            cwd=BASE_DIR,
            env=env,
            input=payload,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        return time.perf_counter() - started, result.stdout.splitlines()

    startup, _ = run(stdin.splitlines(keepends=True)[0])
    seconds, lines = run(stdin)
    assert len(lines) == len(messages), (len(lines), len(messages))
    return {
        "lines": len(lines),
        "seconds": seconds,
        "startup": startup,
        "rate": len(lines) / seconds,
        "steady_rate": (len(lines) - 1) / max(seconds - startup, 1e-9),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--scan-lines", type=int, default=2000)
    parser.add_argument("--no-scan", action="store_true")
    args = parser.parse_args()
    rng = random.Random(4)
    messages = [_message(rng) for _ in range(args.messages)]

    started = time.perf_counter()
    pii_warm_up()
    print(f"analyzer built and warmed up in {time.perf_counter() - started:.2f} s")

    masking = bench_masking(messages)
    verdict = "PASS" if masking["p95"] <= TARGET_P95_MS else "FAIL"
    print(
        f"pii_mask, {len(messages)} messages (mean {masking['mean_chars']:.0f} chars): "
        f"p50 {masking['p50']:.1f} ms, p95 {masking['p95']:.1f} ms, max {masking['max']:.1f} ms"
        f"  -> {verdict} (target p95 <= {TARGET_P95_MS:.0f} ms)"
    )
    guard = bench_guard(messages)
    print(f"input_guard_check: p50 {guard['p50']:.3f} ms, p95 {guard['p95']:.3f} ms")

    if args.no_scan:
        return
    scan_messages = [_message(rng) for _ in range(args.scan_lines)]
    for command in ("pii_scan", "guard_scan"):
        scan = bench_scan(command, scan_messages)
        print(
            f"manage.py {command}, {scan['lines']} lines: {scan['seconds']:.1f} s, "
            f"{scan['rate']:.0f} lines/s including start-up ({scan['startup']:.1f} s), "
            f"{scan['steady_rate']:.0f} lines/s after it"
        )


if __name__ == "__main__":
    main()
