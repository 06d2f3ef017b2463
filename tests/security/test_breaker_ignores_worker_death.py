"""Item 14: the circuit breaker counts faults of the model server, not our own.

Real PostgreSQL, Redis, Celery worker and SmolLM2 llama.cpp server. A worker killed with
SIGKILL mid-answer must not hold the backend back (the redelivered task is answered by the
model and the breaker is closed), and a question queued behind another at a healthy server
that times out waiting for its first token is not counted as a fault of that server.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken

from apps.chat.inference import AllBackendsFailed, CircuitBreaker, chat_complete, chat_stream
from apps.chat.models import Conversation, Message
from apps.chat.services import conversation_create
from banksight.asgi import application
from tests.chat.sockets import casey_make
from tests.helpers import wait_for

LONG_QUESTION = "Tell me a long story about a river."


@pytest.fixture
def casey(transactional_db):
    return casey_make()


def _ask(user, conversation_id, client_id: str, text: str, *, until: str) -> list[dict]:
    """Send a question over the customer's websocket; return the events up to `until`."""

    async def scenario():
        token = str(AccessToken.for_user(user))
        socket = WebsocketCommunicator(
            application,
            f"/ws/chat/{conversation_id}/",
            headers=[(b"authorization", f"Bearer {token}".encode())],
        )
        connected, _ = await socket.connect()
        assert connected
        await socket.send_json_to({"type": "message", "client_id": client_id, "text": text})
        seen = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 90
        while True:
            event = await socket.receive_json_from(timeout=max(0.1, deadline - loop.time()))
            seen.append(event)
            if event["type"] == until:
                break
        await socket.disconnect()
        return seen

    channel_layers.backends.clear()  # a channel layer for this event loop
    return async_to_sync(scenario)()


def test_a_worker_killed_while_probing_leaves_the_breaker_closed_and_the_answer_comes(
    casey, celery_worker, model_backends
):
    """The backend failed a while ago and has recovered: its breaker is half-open, and the
    question that probes it is streaming when its worker is killed."""
    breaker = CircuitBreaker("smollm2")
    cache.set(breaker.open_until_key, time.time() - 1, timeout=None)
    assert breaker.state() == "half_open"
    conversation = conversation_create(customer=casey)

    _ask(casey.user, conversation.pk, "k1", LONG_QUESTION, until="token")
    os.kill(celery_worker.process.pid, signal.SIGKILL)  # mid-answer, no goodbye
    celery_worker.process.wait()
    celery_worker.process = None
    celery_worker.start(purge=False)

    answer = wait_for(
        lambda: (
            Message.objects.filter(conversation=conversation, role="assistant")
            .exclude(status__in=["pending", "streaming"])
            .first()
        ),
        seconds=120,
        interval=0.5,
    )
    # The redelivered task was answered by the model, not refused by a jammed breaker.
    assert answer.status == Message.Status.COMPLETE, answer.text
    assert answer.text
    assert conversation.messages.filter(role="assistant").count() == 1
    assert breaker.state() == "closed"
    assert not cache.get(breaker.failures_key)

    # A customer asking right after is answered by the model too (a greeting: its prompt
    # has no per-run data, so the answer is the same every run).
    events = _ask(casey.user, conversation.pk, "k2", "Hello", until="done")
    assert events[-1]["status"] == "complete", events
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.ACTIVE


def test_a_first_token_timeout_while_the_server_streams_to_others_is_not_a_fault(
    transactional_db, model_backends, settings
):
    """llama.cpp serves one request at a time and queues the rest: a question that waits
    longer than its first-token budget there found a busy server, not a broken one."""
    settings.ASSISTANT_BREAKER_FAILURES = 1  # one counted fault would open the breaker
    breaker = CircuitBreaker("smollm2")
    streaming = threading.Event()
    stop = threading.Event()
    finished = threading.Event()

    def long_answer():
        def on_token(_delta: str) -> bool:
            streaming.set()
            return not stop.is_set()

        try:
            chat_stream(
                messages=[{"role": "user", "content": LONG_QUESTION}],
                purpose="chat",
                on_token=on_token,
                max_tokens=400,
                first_token_deadline_s=30,
            )
        finally:
            finished.set()
            connection.close()

    other = threading.Thread(target=long_answer)
    other.start()
    try:
        assert streaming.wait(30), "the long answer did not start"
        with pytest.raises(AllBackendsFailed) as failed:
            chat_complete(
                messages=[{"role": "user", "content": "What is my balance?"}],
                purpose="chat",
                first_token_deadline_s=1.5,
            )
        assert not finished.is_set(), "the other answer ended: the server was not busy"
    finally:
        stop.set()
        other.join(60)
    assert failed.value.attempts == [("smollm2", "busy")]
    assert breaker.state() == "closed"
    assert not cache.get(breaker.failures_key)
    # And the server answers the next question once it is free.
    assert chat_complete(
        messages=[{"role": "user", "content": "Hello"}], purpose="chat", max_tokens=8
    ).text
