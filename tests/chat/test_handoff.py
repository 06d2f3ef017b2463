"""Human handoff over the real Redis channel layer: a customer's socket and agents' sockets
in one test, with the real Celery worker and model server behind them."""

from __future__ import annotations

import asyncio

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.roles import Role
from apps.chat import handoff
from apps.chat.models import AgentPresence, Conversation, HandoffEvent, InternalNote, Message
from apps.chat.services import conversation_create, conversation_escalate
from banksight.asgi import application
from tests.chat.sockets import chat_socket, events_until, run
from tests.helpers import PASSWORD, totp_code, wait_for

pytestmark = pytest.mark.usefixtures("celery_worker", "model_backends")


def _signed_in_cookie(client, user) -> str:
    """A staff session that passed MFA, as a browser would hold it."""
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    assert (
        client.post("/staff/login/", {"username": user.username, "password": PASSWORD}).status_code
        == 302
    )
    assert client.post("/staff/mfa/verify/", {"token": totp_code(device)}).status_code == 302
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.fixture
def agents(make_user, client):
    from django.test import Client

    made = {}
    for name in ("sam", "kim"):
        user = make_user(Role.SUPPORT_AGENT, username=name, first_name=name.title())
        made[name] = (user, _signed_in_cookie(Client(), user))
    return made


def _staff_socket(cookie: str, conversation_id) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application,
        f"/ws/staff/chat/{conversation_id}/",
        headers=[(b"cookie", cookie.encode()), (b"origin", b"http://localhost")],
    )


def _escalate(conversation):
    conversation_escalate(conversation=conversation, reason="customer_request")
    conversation.refresh_from_db()


def test_escalate_claim_talk_both_ways_hand_back_and_the_assistant_resumes(
    casey, conversation, agents
):
    _sam, sam_cookie = agents["sam"]

    async def scenario():
        customer = chat_socket(casey.user, conversation.pk)
        assert (await customer.connect())[0]
        await customer.send_json_to({"type": "escalate"})
        await events_until(
            customer, lambda e: e["type"] == "conversation" and e["status"] == "escalated"
        )
        agent = _staff_socket(sam_cookie, conversation.pk)
        assert (await agent.connect())[0]
        snapshot = await agent.receive_json_from(timeout=10)
        assert snapshot["type"] == "snapshot"
        assert snapshot["conversation"]["status"] == "escalated"
        await agent.send_json_to({"type": "claim"})
        joined = await events_until(
            customer, lambda e: e["type"] == "conversation" and e["status"] == "with_agent"
        )
        # The customer is told in plain words, with the agent's name.
        notice = [
            e["message"]["text"]
            for e in joined
            if e["type"] == "message" and e["message"]["role"] == "system"
        ]
        assert any("Sam from BankSight has joined" in text for text in notice)
        assert joined[-1]["agent"] == "Sam"
        # Agent → customer, customer → agent, in order.
        await agent.send_json_to(
            {"type": "message", "client_id": "a1", "text": "Hello Casey, how can I help?"}
        )
        got = await events_until(
            customer, lambda e: e["type"] == "message" and e["message"]["role"] == "agent"
        )
        assert got[-1]["message"]["text"] == "Hello Casey, how can I help?"
        assert got[-1]["message"]["author"] == "Sam"
        for index, text in enumerate(["First question", "Second question"]):
            await customer.send_json_to({"type": "message", "client_id": f"c{index}", "text": text})
        seen = []
        while len(seen) < 2:
            event = await agent.receive_json_from(timeout=20)
            message = event.get("message") or {}
            fresh = message.get("text") and message.get("id") not in [s["id"] for s in seen]
            if event["type"] == "message" and message["role"] == "customer" and fresh:
                seen.append(message)
        assert [m["text"] for m in seen] == ["First question", "Second question"]
        await asyncio.sleep(2)  # the worker has had time to answer, if it were going to
        assert not await _has_assistant_answer_after(conversation, seen[-1]["id"])
        # Hand back: the assistant answers the next message again.
        await agent.send_json_to({"type": "hand_back"})
        await events_until(
            customer, lambda e: e["type"] == "conversation" and e["status"] == "active"
        )
        await customer.send_json_to(
            {"type": "message", "client_id": "c3", "text": "What is my balance?"}
        )
        await events_until(customer, lambda e: e["type"] == "done")
        await customer.disconnect()
        await agent.disconnect()

    run(scenario)
    answers = conversation.messages.filter(role="assistant")
    assert answers.count() == 1
    assert answers.get().reply_to.client_id == "c3"
    kinds = list(conversation.handoff_events.values_list("kind", flat=True))
    assert kinds == ["escalated", "assigned", "first_response", "handed_back"]


async def _has_assistant_answer_after(conversation, message_id) -> bool:
    from channels.db import database_sync_to_async

    return await database_sync_to_async(
        lambda: conversation.messages.filter(role="assistant", id__gt=message_id).exists()
    )()


def test_another_agent_cannot_read_an_assigned_conversation_until_transferred(
    casey, conversation, agents
):
    sam, sam_cookie = agents["sam"]
    _kim, kim_cookie = agents["kim"]
    _escalate(conversation)
    handoff.conversation_claim(conversation_id=conversation.pk, agent=sam)

    async def kim_tries():
        socket = _staff_socket(kim_cookie, conversation.pk)
        connected, _ = await socket.connect()
        await socket.disconnect()
        return connected

    assert run(kim_tries) is False
    handoff.conversation_transfer(
        conversation=conversation, agent=sam, to_username="kim", note="Card dispute, needs Kim"
    )

    async def both():
        kim_socket = _staff_socket(kim_cookie, conversation.pk)
        kim_connected, _ = await kim_socket.connect()
        snapshot = await kim_socket.receive_json_from(timeout=10)
        await kim_socket.disconnect()
        sam_socket = _staff_socket(sam_cookie, conversation.pk)
        sam_connected, _ = await sam_socket.connect()
        await sam_socket.disconnect()
        return kim_connected, snapshot, sam_connected

    kim_connected, snapshot, sam_connected = run(both)
    assert kim_connected
    assert snapshot["conversation"]["assigned_agent"] == "kim"
    assert any("Card dispute" in note["text"] for note in snapshot["notes"])
    assert sam_connected is False  # transferred away


def test_the_customer_never_sees_internal_notes(casey, conversation, agents):
    sam, sam_cookie = agents["sam"]
    _escalate(conversation)
    handoff.conversation_claim(conversation_id=conversation.pk, agent=sam)

    async def scenario():
        customer = chat_socket(casey.user, conversation.pk, query="?after=0")
        await customer.connect()
        agent = _staff_socket(sam_cookie, conversation.pk)
        await agent.connect()
        await agent.receive_json_from(timeout=10)  # snapshot
        await agent.send_json_to({"type": "note", "text": "Customer sounded stressed; check fraud"})
        note = await events_until(agent, lambda e: e["type"] == "note")
        await agent.send_json_to(
            {"type": "message", "client_id": "x", "text": "Thanks for waiting"}
        )
        customer_events = await events_until(
            customer, lambda e: e["type"] == "message" and e["message"]["role"] == "agent"
        )
        await customer.disconnect()
        await agent.disconnect()
        return note, customer_events

    note, customer_events = run(scenario)
    assert note[-1]["note"]["text"].startswith("Customer sounded stressed")
    assert "stressed" not in str(customer_events)
    assert InternalNote.objects.filter(conversation=conversation).count() == 1


def test_auto_assignment_respects_capacity_and_serves_the_oldest_first(
    casey, agents, django_capture_on_commit_callbacks
):
    sam, _ = agents["sam"]
    kim, _ = agents["kim"]
    conversations = []
    for _index in range(4):
        conversation = conversation_create(customer=casey)
        Message.objects.create(conversation=conversation, role="customer", status="received")
        _escalate(conversation)
        conversations.append(conversation)
    handoff.agent_presence_set(user=sam, status="available", max_chats=2)
    handoff.agent_presence_set(user=kim, status="available", max_chats=1)
    wait_for(lambda: Conversation.objects.filter(status="with_agent").count() == 3, seconds=20)
    waiting = Conversation.objects.get(status="escalated")
    assert waiting.pk == conversations[-1].pk  # the newest waits
    assert Conversation.objects.filter(assigned_agent=sam, status="with_agent").count() == 2
    assert Conversation.objects.filter(assigned_agent=kim, status="with_agent").count() == 1
    # Closing one frees capacity: the waiting conversation is assigned to that agent.
    handoff.conversation_close(
        conversation=Conversation.objects.get(assigned_agent=kim, status="with_agent"),
        agent=kim,
        resolution="answered",
    )
    wait_for(lambda: Conversation.objects.get(pk=waiting.pk).status == "with_agent", seconds=20)
    assert Conversation.objects.get(pk=waiting.pk).assigned_agent == kim
    assert not AgentPresence.objects.filter(max_chats__lt=1).exists()


def test_suspected_fraud_goes_to_the_front_of_the_queue(casey, agents):
    calm = conversation_create(customer=casey)
    _escalate(calm)
    worried = conversation_create(customer=casey)
    question = Message(conversation=worried, role="customer", status="received")
    question.text = "There is a payment I didn't make, I think it's fraud"
    question.save()
    _escalate(worried)
    queue = handoff.queue_list()
    assert [c.pk for c in queue][:2] == [worried.pk, calm.pk]
    assert queue[0].priority == Conversation.Priority.URGENT
    assert queue[0].target_seconds == 120


def test_close_then_the_customer_answers_the_survey(casey, conversation, agents):
    sam, _ = agents["sam"]
    _escalate(conversation)
    handoff.conversation_claim(conversation_id=conversation.pk, agent=sam)
    handoff.conversation_close(conversation=conversation, agent=sam, resolution="answered")

    async def scenario():
        customer = chat_socket(casey.user, conversation.pk)
        await customer.connect()
        await customer.send_json_to({"type": "survey", "rating": 9})
        bad = await customer.receive_json_from(timeout=10)
        await customer.send_json_to({"type": "survey", "rating": 4, "comment": "Quick and kind"})
        good = await customer.receive_json_from(timeout=10)
        await customer.disconnect()
        return bad, good

    bad, good = run(scenario)
    assert bad["type"] == "error"
    assert "rating" in bad["fields"]
    assert good == {"type": "survey.saved"}
    conversation.refresh_from_db()
    assert conversation.survey.rating == 4
    assert conversation.resolution_code == "answered"
    assert HandoffEvent.objects.filter(conversation=conversation, kind="closed").exists()
