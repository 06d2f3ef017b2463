"""Print first-token and generation-speed figures: vLLM (URL given) beside llama.cpp.

Both serve SmolLM2-135M-Instruct: vLLM the bfloat16 safetensors converted by convert.py,
llama.cpp the Q4_1 GGUF (started here on a free port, one thread, as `make run` does).
Each server gets the same prompts one at a time, greedy, 64 tokens at most; the first
answer of each is a warm-up and is not counted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

PROMPTS = [
    "What is the balance of my current account?",
    "How much interest does the savings account pay?",
    "Do I pay a fee for card payments abroad?",
    "When are the branches open?",
    "I froze my card by mistake. Can I unfreeze it?",
    "Summarise my accounts in one sentence.",
]
SYSTEM = (
    "You are BankSight's assistant. Answer in one or two short sentences, using only these "
    "facts. Facts: the current account has a balance of 1,240.50 GBP. The savings account "
    "pays 3.1% interest a year. Card payments abroad cost no fee. Branches open 9:00-17:00 "
    "Monday to Friday. A frozen card can be unfrozen at any time in the app."
)


def one(client: httpx.Client, url: str, model: str, prompt: str) -> tuple[float, int, float]:
    body = {
        "model": model,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
        "max_tokens": 64,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.monotonic()
    first = None
    deltas = 0
    usage = None
    with client.stream("POST", f"{url}/chat/completions", json=body, timeout=120) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                if (choice.get("delta") or {}).get("content"):
                    first = first or time.monotonic()
                    deltas += 1
    ended = time.monotonic()
    tokens = (usage or {}).get("completion_tokens") or deltas
    first = first or ended
    return (first - started) * 1000, tokens, ended - first


def measure(name: str, url: str, model: str) -> dict:
    with httpx.Client() as client:
        one(client, url, model, "Hello")  # warm-up
        runs = [one(client, url, model, prompt) for prompt in PROMPTS]
    ttfts = sorted(r[0] for r in runs)
    decode_tokens = sum(max(r[1] - 1, 0) for r in runs)
    decode_s = sum(r[2] for r in runs)
    return {
        "server": name,
        "prompts": len(runs),
        "ttft_p50_ms": round(statistics.median(ttfts), 1),
        "ttft_max_ms": round(ttfts[-1], 1),
        "completion_tokens": sum(r[1] for r in runs),
        "tokens_per_s": round(decode_tokens / decode_s, 1) if decode_s else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vllm-url", required=True)
    parser.add_argument("--model", default="smollm2")
    args = parser.parse_args()
    rows = [measure("vLLM (CPU, bf16)", args.vllm_url, args.model)]
    from banksight import modelserver

    server = modelserver.start("smollm2")
    try:
        rows.append(measure("llama.cpp (CPU, Q4_1, 1 thread)", server.url, server.model))
    finally:
        server.stop()
    for row in rows:
        print("[vllm-lane]", json.dumps(row))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
