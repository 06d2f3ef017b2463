"""Chat websockets: a malformed frame gets an error frame and the socket stays open (each
bad frame is followed by a valid one that must be answered); customers' chat actions share
the REST API's rate limit.

Through banksight.asgi.application with the real channel layer (Redis) and database.
"""

from __future__ import annotations

import copy
import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client, override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.roles import Role
from apps.chat.models import Conversation
from apps.chat.services import conversation_create
from banksight.asgi import application
from tests.factories import customer_make
from tests.helpers import PASSWORD, totp_code

pytestmark = pytest.mark.django_db(transaction=True)

TOO_DEEP = "[" * 5_000 + "]" * 5_000
BAD_FRAMES = [
    # (text or bytes, the error code expected; None: any error)
    (b"\x00\x01binary", "binary_frame"),
    ("this is not json", "invalid_json"),
    ('{"type": "message", "text": "unterminated', "invalid_json"),
    ("[1, 2, 3]", "invalid_frame"),
    ("42", "invalid_frame"),
    ('"message"', "invalid_frame"),
    ("null", "invalid_frame"),
    ('{"text": "no type"}', "invalid_frame"),
    ('{"type": 5}', "invalid_frame"),
    ('{"type": ["message"]}', "invalid_frame"),
    ('{"type": {"a": 1}}', "invalid_frame"),
    (TOO_DEEP, "json_too_deep"),
    ('{"type": "message", "x": ' + "[" * 40 + "]" * 40 + "}", "json_too_deep"),
    ('{"type": "message", "text": "' + "x" * 40_000 + '", "client_id": "c"}', "frame_too_large"),
    ('{"type": "no-such-type"}', "unknown_type"),
]
CUSTOMER_BAD_FRAMES = [
    *BAD_FRAMES,
    ('{"type": "message", "text": 12, "client_id": "c1"}', None),
    ('{"type": "message", "text": "' + "x" * 4_001 + '", "client_id": "c2"}', None),
    ('{"type": "message", "text": "hi", "client_id": ["c3"]}', None),
    ('{"type": "feedback", "message_id": {"id": 1}, "rating": "up"}', None),
    ('{"type": "feedback", "message_id": [1], "rating": ["up"]}', None),
    ('{"type": "action.confirm", "id": {"x": 1}}', None),
]
STAFF_BAD_FRAMES = [
    *BAD_FRAMES,
    ('{"type": "resume", "after": "\u00b2"}', None),
    ('{"type": "note", "text": {"a": 1}}', None),
    ('{"type": "transfer", "to": ["someone"]}', None),
]


def _customer_socket(user, conversation_id) -> WebsocketCommunicator:
    token = str(AccessToken.for_user(user))
    return WebsocketCommunicator(
        application,
        f"/ws/chat/{conversation_id}/",
        headers=[(b"authorization", f"Bearer {token}".encode())],
    )


async def _send(socket, frame) -> None:
    if isinstance(frame, bytes):
        await socket.send_to(bytes_data=frame)
    else:
        await socket.send_to(text_data=frame)


async def _error_then_answered(socket, frame, code, valid: dict, answer: str) -> None:
    await _send(socket, frame)
    reply = await socket.receive_json_from(timeout=20)
    label = (frame[:60] if isinstance(frame, str) else frame, reply)
    assert reply["type"] == "error", label
    assert reply["message"], label
    if code is not None:
        assert reply["code"] == code, label
    await socket.send_json_to(valid)
    follow = await socket.receive_json_from(timeout=20)
    assert follow["type"] == answer, (label, follow)


@pytest.fixture
def casey(customer):
    return customer_make(customer)


def test_customer_socket_survives_every_bad_frame(casey):
    conversation = conversation_create(customer=casey)

    @async_to_sync
    async def run():
        socket = _customer_socket(casey.user, conversation.pk)
        connected, _ = await socket.connect(timeout=20)
        assert connected
        for frame, code in CUSTOMER_BAD_FRAMES:
            await _error_then_answered(socket, frame, code, {"type": "ping"}, "pong")
        await socket.disconnect()

    run()
    assert not conversation.messages.exists()  # none of them was taken for a message


def _staff_cookie(user) -> str:
    client = Client()
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    response = client.post("/staff/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.post("/staff/mfa/verify/", {"token": totp_code(device)}).status_code == 302
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def test_staff_socket_survives_every_bad_frame(casey, make_user):
    agent = make_user(Role.SUPPORT_AGENT)
    conversation = conversation_create(customer=casey, title="Help")
    Conversation.objects.filter(pk=conversation.pk).update(
        status=Conversation.Status.WITH_AGENT, assigned_agent=agent
    )
    cookie = _staff_cookie(agent)

    @async_to_sync
    async def run():
        socket = WebsocketCommunicator(
            application,
            f"/ws/staff/chat/{conversation.pk}/",
            headers=[(b"cookie", cookie.encode()), (b"origin", b"http://localhost")],
        )
        connected, _ = await socket.connect(timeout=20)
        assert connected
        assert (await socket.receive_json_from(timeout=20))["type"] == "snapshot"
        for frame, code in STAFF_BAD_FRAMES:
            await _error_then_answered(socket, frame, code, {"type": "resume"}, "snapshot")
        await socket.disconnect()

    run()


async def _reply(socket) -> dict:
    """The next frame that answers the client, past the conversation's broadcast events."""
    while True:
        frame = await socket.receive_json_from(timeout=20)
        if frame["type"] not in ("message", "token", "done", "conversation"):
            return frame


def _rates(user_rate: str) -> dict:
    rest = copy.deepcopy(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], "user": user_rate}
    return rest


def test_websocket_messages_share_the_rest_apis_rate_limit(casey):
    # A closed conversation refuses each message (409 / conversation_closed), so nothing is
    # saved or handed to a worker; every attempt still counts against the limit, as on REST.
    conversation = conversation_create(customer=casey)
    Conversation.objects.filter(pk=conversation.pk).update(status=Conversation.Status.CLOSED)
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {AccessToken.for_user(casey.user)}"}
    messages = f"/api/v1/conversations/{conversation.pk}/messages"
    rest = Client()

    def rest_send(client_id: str):
        body = json.dumps({"text": "Hello", "client_id": client_id})
        return rest.post(messages, body, content_type="application/json", **bearer)

    with override_settings(REST_FRAMEWORK=_rates("3/minute")):
        assert rest_send("rest-1").status_code == 409
        assert rest_send("rest-2").status_code == 409

        @async_to_sync
        async def run():
            socket = _customer_socket(casey.user, conversation.pk)
            connected, _ = await socket.connect(timeout=20)
            assert connected
            await socket.send_json_to({"type": "message", "text": "Hi", "client_id": "ws-1"})
            taken = await _reply(socket)
            assert (taken["type"], taken["code"]) == ("error", "conversation_closed")
            # The fourth in the window, over either transport, is refused.
            await socket.send_json_to({"type": "message", "text": "Hi", "client_id": "ws-2"})
            refused = await _reply(socket)
            assert refused["type"] == "error"
            assert refused["code"] == "throttled"
            assert 1 <= refused["retry_after"] <= 60
            assert refused["client_id"] == "ws-2"
            # Refused, not dropped: the socket still answers.
            await socket.send_json_to({"type": "ping"})
            assert (await _reply(socket))["type"] == "pong"
            await socket.disconnect()

        run()
        over = rest_send("rest-3")
        assert over.status_code == 429
        assert over.json()["code"] == "throttled"
    assert not conversation.messages.exists()
