"""Item 13: a chat answer in progress survives a Redis restart, and is answered once.

Real PostgreSQL, Celery worker and SmolLM2 llama.cpp server, and the real test Redis
(cache, channel layer and broker): it is stopped while the worker streams an answer and
started again on the same port with the same password. The test Redis keeps nothing on
disk (`--save ''`), so the broker's copy of the task is gone after the restart: only the
worker that holds the task can still finish it.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from apps.chat.models import Message
from apps.chat.services import conversation_create
from tests.chat.sockets import casey_make, chat_socket, events_until, is_answer_final, run
from tests.helpers import wait_for
from tests.security.outages import redis_start, redis_stop, services

pytestmark = pytest.mark.usefixtures("celery_worker", "model_backends")

if services is None:  # REDIS_URL / DATABASE_URL given: not our servers to stop
    pytest.skip("needs the private test Redis of banksight.localservices", allow_module_level=True)


@pytest.fixture
def casey(transactional_db):
    return casey_make()


def test_an_answer_in_progress_survives_a_redis_restart_and_is_answered_once(casey, celery_worker):
    conversation = conversation_create(customer=casey)

    async def ask_and_wait_for_the_first_token():
        socket = chat_socket(casey.user, conversation.pk)
        await socket.connect()
        await socket.send_json_to(
            {"type": "message", "client_id": "r1", "text": "Tell me a long story about a river."}
        )
        events = await events_until(socket, lambda e: e["type"] == "token")
        await socket.disconnect()
        return next(e["id"] for e in events if e["type"] == "ack")

    question_id = run(ask_and_wait_for_the_first_token)
    log_offset = celery_worker.log_path.stat().st_size
    try:
        redis_stop()  # mid-answer: the worker's next token cannot be published
        time.sleep(3)  # down for a while, not a blip
        assert Message.objects.get(reply_to_id=question_id).status == "streaming"
    finally:
        redis_start()

    answer = wait_for(
        lambda: Message.objects.filter(reply_to_id=question_id, status="complete").first(),
        seconds=120,
        interval=0.5,
    )
    assert answer.text.strip()
    assert conversation.messages.filter(role="assistant").count() == 1

    async def resume():
        socket = chat_socket(casey.user, conversation.pk, query=f"?after={question_id}")
        connected, _ = await socket.connect()
        assert connected
        events = await events_until(socket, is_answer_final)
        await asyncio.sleep(1)  # anything else (a second answer) would arrive meanwhile
        while not await socket.receive_nothing(timeout=0.2):
            events.append(await socket.receive_json_from())
        await socket.disconnect()
        return events

    resumed = run(resume)
    shown = [e["message"] for e in resumed if e["type"] == "message"]
    assert [m["id"] for m in shown if m["role"] == "assistant"] == [answer.pk]
    assert shown[-1]["status"] == "complete"
    assert shown[-1]["text"].strip() == answer.text.strip()
    # The worker really was cut off mid-answer, waited, and answered again.
    log = celery_worker.log_path.read_bytes()[log_offset:].decode("utf-8", "replace")
    assert "interrupted by a service outage" in log

    # Nothing needed a restart: the worker takes the next question through the new broker.
    async def ask_again():
        socket = chat_socket(casey.user, conversation.pk)
        await socket.connect()
        await socket.send_json_to({"type": "message", "client_id": "r2", "text": "Hello"})
        events = await events_until(socket, lambda e: e["type"] == "done")
        await socket.disconnect()
        return events

    assert run(ask_again)[-1]["status"] == "complete"
    assert conversation.messages.filter(role="assistant").count() == 2
