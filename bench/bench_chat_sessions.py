"""100 concurrent chat sessions over websockets, 3 messages each: every message answered
or its conversation escalated to a person, none lost.

    .venv/bin/python bench/bench_chat_sessions.py [--sessions 100] [--messages 3]
        [--max-tokens 24] [--worker-concurrency 2]

A private stack (bench/stack.py): uvicorn, a Celery worker, one smollm2 llama.cpp server.
Each session is a new conversation of one of the demo customers (alice, bob, carol, dave
in turn) on its own websocket; all connect first, then all start at once. A session
sends its next message after the previous answer's `done`, or right after an
escalation (`conversation` event): a person has the conversation then, the assistant
stays silent, and a message sent to it only gets its `ack`.

Counted per message: ack, time to first token and to `done` (both from sending, so they
include the wait in the Celery queue), the `done` status, tokens received. "Lost" is a
message with neither an answer nor an escalation within --timeout, or on a socket that
closed. Afterwards the database is checked too: every customer message has an answer
row, or its conversation is escalated.

One llama.cpp server computes one request at a time (llama_cpp.server has no parallel
slots: no --n_parallel; that is llama.cpp's own C++ server, not installed here), at
~60-80 tokens/s on these CPUs after 0.2-6 s of prompt (the facts make prompts of 700 to
2,800 characters), so answers are capped at ASSISTANT_MAX_TOKENS=24 here (the first
token does not depend on it): 300 answers take ~15 minutes. The
first-token deadline (ASSISTANT_FIRST_TOKEN_DEADLINE_S, 10 s) counts from the worker's
request, so an answer waiting in the model server behind others can run out of it and
escalate the conversation, as designed; worker concurrency decides how many wait there
(see ChatOptions in bench/stack.py). Answered and escalated counts are printed as they
are.

This benchmark found that llama_cpp.server, by default, ended a streaming answer with
[DONE] as soon as another request waited (answers of 0-1 tokens saved as complete);
banksight.modelserver now starts it with `--interrupt_requests false` and empty answers
are saved as failed. "complete with no token", "empty complete answers" and "failed
without escalation" watch for it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import time
from collections import Counter
from dataclasses import dataclass

import httpx
import websockets
from stack import QUESTIONS, ChatOptions, percentile, running_stack

CUSTOMERS = ["alice", "bob", "carol", "dave"]
FINAL = {"complete", "stopped", "refused", "failed"}
NO_DONE_GRACE_S = 5.0  # a final answer with no `done` after it (none is expected)

DB_CHECK = """
import json
from collections import Counter
from apps.chat.models import Conversation, InferenceCall, Message
ids = json.loads(__IDS__)
out = {"conversations": Counter(), "customer_messages": 0, "answers": Counter(),
        "escalated_without_answer": 0, "lost": 0, "empty_complete_answers": 0,
        "failed_not_escalated": 0,
        "escalation_reasons": Counter()}
for conversation in Conversation.objects.filter(pk__in=ids):
    out["conversations"][conversation.status] += 1
    escalated = conversation.status in ("escalated", "with_agent")
    if escalated:
        out["escalation_reasons"][conversation.escalation_reason] += 1
    for question in conversation.messages.filter(role="customer"):
        out["customer_messages"] += 1
        answer = Message.objects.filter(reply_to=question).first()
        if answer is not None:
            out["answers"][answer.status] += 1
            if answer.status == "complete" and not answer.masked_text.strip():
                out["empty_complete_answers"] += 1
            if answer.status == "failed" and not escalated:
                out["failed_not_escalated"] += 1  # e.g. an empty answer from the model
        elif escalated:
            out["escalated_without_answer"] += 1
        else:
            out["lost"] += 1
calls = InferenceCall.objects.all()
out["inference_calls"] = Counter(
    f"{purpose}:{'ok' if ok else code}"
    for purpose, ok, code in calls.values_list("purpose", "ok", "error_code")
)
out["ok_calls_without_a_token"] = calls.filter(ok=True, ttft_ms__isnull=True).count()
tokens = list(
    Message.objects.filter(conversation_id__in=ids, role="assistant", status="complete")
    .values_list("completion_tokens", flat=True)
)
out["complete_answer_tokens"] = Counter(
    "0" if not n else "1-3" if n <= 3 else "4+" for n in tokens
)
model = InferenceCall.objects.filter(purpose="chat", ok=True, ttft_ms__isnull=False)
out["model_ttft_ms"] = sorted(model.values_list("ttft_ms", flat=True))
out["model_latency_ms"] = sorted(model.values_list("latency_ms", flat=True))
print(json.dumps(out))
"""


@dataclass
class Sent:
    session: int
    index: int
    client_id: str
    sent: float = 0.0
    ack: float | None = None
    answer_id: int | None = None
    first_token: float | None = None
    end: float | None = None
    outcome: str = "lost"  # answered, escalated, error:..., lost (timeout), lost (closed)
    status: str = ""  # of `done`, or of the answer message when no done came
    tokens: int = 0
    final_at: float | None = None


async def _session(
    number: int,
    url: str,
    token: str,
    questions: list[str],
    results: list[Sent],
    start: asyncio.Event,
    ready: list,
    timeout: float,
) -> None:
    answers: dict[int, Sent] = {}
    current: Sent | None = None
    escalated = False
    try:
        async with websockets.connect(
            url,
            additional_headers={"Authorization": f"Bearer {token}"},
            open_timeout=120,
            max_queue=None,
        ) as socket:
            ready.append(number)
            await start.wait()
            for index, text in enumerate(questions):
                current = Sent(number, index, f"s{number}-m{index}")
                results.append(current)
                current.sent = time.perf_counter()
                await socket.send(
                    json.dumps({"type": "message", "client_id": current.client_id, "text": text})
                )
                deadline = current.sent + timeout
                while current.end is None:
                    now = time.perf_counter()
                    wait = deadline - now
                    if current.final_at is not None:
                        wait = min(wait, current.final_at + NO_DONE_GRACE_S - now)
                    try:
                        raw = await asyncio.wait_for(socket.recv(), timeout=max(0.01, wait))
                    except TimeoutError:
                        if current.final_at is not None and time.perf_counter() < deadline:
                            current.end, current.outcome = current.final_at, "answered (no done)"
                            break
                        current.outcome = "lost (timeout)"
                        return
                    now = time.perf_counter()
                    event = json.loads(raw)
                    kind = event.get("type")
                    if kind == "ack" and event.get("client_id") == current.client_id:
                        current.ack = now
                        if escalated:  # a person has the conversation: nothing more comes
                            current.end, current.outcome = now, "escalated"
                    elif kind == "message":
                        message = event["message"]
                        if message["role"] != "assistant":
                            continue
                        owner = answers.get(message["id"])
                        if owner is None and current.ack and current.answer_id is None:
                            current.answer_id = message["id"]
                            owner = answers[message["id"]] = current
                        if owner is current and message["status"] in FINAL:
                            current.status = message["status"]
                            current.final_at = current.final_at or now
                    elif kind == "token":
                        owner = answers.get(event["message_id"])
                        if owner is not None:
                            owner.tokens += 1
                            owner.first_token = owner.first_token or now
                    elif kind == "done":
                        owner = answers.get(event["message_id"])
                        if owner is not None:
                            owner.status = event["status"]
                            if owner is current:
                                current.end, current.outcome = now, "answered"
                    elif kind == "conversation" and event.get("status") in (
                        "escalated",
                        "with_agent",
                    ):
                        escalated = True
                        if current.end is None:
                            current.end, current.outcome = now, "escalated"
                    elif kind == "error":
                        current.end, current.outcome = now, f"error:{event.get('code')}"
    except websockets.ConnectionClosed:
        if current is not None and current.end is None:
            current.outcome = "lost (closed)"
    except OSError as error:  # the handshake failed
        print(f"  session {number}: {type(error).__name__}: {error}")


async def _run(stack, tokens, conversations, args) -> tuple[list[Sent], float, int]:
    results: list[Sent] = []
    start = asyncio.Event()
    ready: list[int] = []
    tasks = []
    for number, (customer, conversation_id) in enumerate(conversations):
        questions = [QUESTIONS[(number + k * 5) % len(QUESTIONS)] for k in range(args.messages)]
        tasks.append(
            asyncio.create_task(
                _session(
                    number,
                    f"{stack.ws_url}/ws/chat/{conversation_id}/",
                    tokens[customer],
                    questions,
                    results,
                    start,
                    ready,
                    args.timeout,
                )
            )
        )
    connect_by = time.perf_counter() + 120
    while len(ready) < len(tasks) and time.perf_counter() < connect_by:
        if all(task.done() for task in tasks):
            break
        await asyncio.sleep(0.05)
    started = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    return results, started, len(ready)


def _no_backend_attempts(log_path) -> Counter:
    """From the worker's JSON log: how each "no model backend answered" came about."""
    found: Counter = Counter()
    for line in log_path.read_text(errors="replace").splitlines() if log_path else []:
        if '"no model backend answered"' not in line:
            continue
        try:
            attempts = json.loads(line).get("attempts") or []
        except ValueError:
            continue
        found[",".join(code for _, code in attempts) or "none"] += 1
    return found


def _p(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"p50 {statistics.median(values) * 1000:.0f} ms, "
        f"p95 {percentile(values, 0.95) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--messages", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per message")
    args = parser.parse_args()
    options = ChatOptions(
        worker_concurrency=args.worker_concurrency,
        env={"ASSISTANT_MAX_TOKENS": str(args.max_tokens)},
    )
    load_before = os.getloadavg()
    with running_stack(chat=options) as stack:
        tokens = {name: stack.token(name) for name in CUSTOMERS}
        conversations = []
        for number in range(args.sessions):
            customer = CUSTOMERS[number % len(CUSTOMERS)]
            response = httpx.post(
                f"{stack.base_url}/api/v1/conversations/",
                json={"title": f"bench session {number}"},
                headers={"Authorization": f"Bearer {tokens[customer]}"},
                timeout=30,
            )
            response.raise_for_status()
            conversations.append((customer, response.json()["id"]))
        results, started, connected = asyncio.run(_run(stack, tokens, conversations, args))
        ended = max((r.end for r in results if r.end), default=time.perf_counter())
        load_after = os.getloadavg()
        code = DB_CHECK.replace("__IDS__", repr(json.dumps([c for _, c in conversations])))
        try:
            db = json.loads(stack.manage("shell", "-c", code).strip().splitlines()[-1])
        except (subprocess.CalledProcessError, ValueError, IndexError) as error:
            print(f"  the database check failed: {error}: {getattr(error, 'stderr', '')}")
            db = None
        unanswered = _no_backend_attempts(stack.worker_log)

    wall = ended - started
    expected = args.sessions * args.messages
    outcomes = Counter(r.outcome for r in results)
    answered = [r for r in results if r.outcome.startswith("answered")]
    statuses = Counter(r.status for r in answered)
    no_tokens = sum(1 for r in answered if r.status == "complete" and r.tokens == 0)
    lost = expected - sum(n for o, n in outcomes.items() if o.startswith(("answered", "esc")))
    print(
        f"Chat sessions: {args.sessions} concurrent websocket sessions x {args.messages} "
        f"messages ({expected}), customers {', '.join(CUSTOMERS)}; "
        f"ASSISTANT_MAX_TOKENS={args.max_tokens}, worker --concurrency "
        f"{args.worker_concurrency}, one smollm2 llama.cpp server"
    )
    print(
        f"  load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min); "
        f"{connected}/{args.sessions} sockets connected"
    )
    print(
        f"  wall time {wall:.1f} s; {(len(answered) + outcomes['escalated']) / wall:.2f} "
        f"messages/s answered or escalated"
    )
    print(
        f"  sent {len(results)}, acknowledged {sum(1 for r in results if r.ack)}; "
        f"outcomes {dict(sorted(outcomes.items()))}"
    )
    print(
        f"  answers by status {dict(sorted(statuses.items()))}; complete with no token: {no_tokens}"
    )
    print(f"  lost (neither answered nor escalated, or never sent): {lost}")
    print(
        f"  time to first token: {_p([r.first_token - r.sent for r in answered if r.first_token])}"
    )
    print(f"  total time per answer: {_p([r.end - r.sent for r in answered])}")
    if db is not None:
        print(
            f"  database: {db['customer_messages']} customer messages; answers "
            f"{dict(db['answers'])}; escalated without an answer "
            f"{db['escalated_without_answer']}; lost {db['lost']}; empty complete answers "
            f"{db['empty_complete_answers']}; failed without escalation "
            f"{db['failed_not_escalated']}"
        )
        print(
            f"  database: conversations {dict(db['conversations'])}, escalation reasons "
            f"{dict(db['escalation_reasons'])}; model calls {dict(db['inference_calls'])}, "
            f"ok without a token {db['ok_calls_without_a_token']}; complete answers by tokens "
            f"{dict(db['complete_answer_tokens'])}"
        )
        print(
            f"  model server, chat calls as the worker timed them (request -> first token / end): "
            f"{_p([v / 1000 for v in db['model_ttft_ms']])} / "
            f"{_p([v / 1000 for v in db['model_latency_ms']])}"
        )
    print(
        f"  worker log: answers no backend gave a first token, by attempt "
        f"{dict(unanswered)} (circuit_open: skipped, the breaker was open)"
    )
    verdict = "PASS" if lost == 0 and db is not None and db["lost"] == 0 else "FAIL"
    print(f"  none lost: {verdict}")


if __name__ == "__main__":
    main()
