"""An access token stops working at logout; refresh tokens are rotated and work once."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator

from tests.helpers import PASSWORD


def _tokens(client, user):
    response = client.post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def _bearer(access):
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def _assert_401(response):
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == "token_not_valid"


def test_the_access_token_stops_working_at_logout(client, customer):
    tokens = _tokens(client, customer)
    other_app = _tokens(client, customer)
    # Used once before: its checked signature is remembered by the server.
    assert client.get("/api/v1/me", **_bearer(tokens["access"])).status_code == 200

    response = client.post(
        "/api/v1/auth/logout/",
        {"refresh": tokens["refresh"]},
        content_type="application/json",
        **_bearer(tokens["access"]),
    )
    assert response.status_code == 204

    _assert_401(client.get("/api/v1/me", **_bearer(tokens["access"])))
    _assert_401(client.get("/api/v1/accounts/", **_bearer(tokens["access"])))
    # Another app of the same person stays signed in.
    assert client.get("/api/v1/me", **_bearer(other_app["access"])).status_code == 200


def test_the_refresh_token_is_rotated_and_a_reused_one_is_refused(client, customer):
    tokens = _tokens(client, customer)
    response = client.post(
        "/api/v1/auth/token/refresh/",
        {"refresh": tokens["refresh"]},
        content_type="application/json",
    )
    assert response.status_code == 200
    rotated = response.json()
    assert rotated["refresh"] != tokens["refresh"]
    assert client.get("/api/v1/me", **_bearer(rotated["access"])).status_code == 200

    # The refresh token used once is blacklisted: a copy of it gets nothing.
    reused = client.post(
        "/api/v1/auth/token/refresh/",
        {"refresh": tokens["refresh"]},
        content_type="application/json",
    )
    _assert_401(reused)

    # The new one works (once).
    again = client.post(
        "/api/v1/auth/token/refresh/",
        {"refresh": rotated["refresh"]},
        content_type="application/json",
    )
    assert again.status_code == 200


def test_a_revoked_access_token_cannot_open_the_chat_socket(transactional_db, client):
    from apps.chat.services import conversation_create
    from banksight.asgi import application
    from tests.factories import customer_make

    profile = customer_make(username="socket-user")
    conversation = conversation_create(customer=profile)
    tokens = _tokens(client, profile.user)

    async def connects(access) -> bool:
        socket = WebsocketCommunicator(
            application,
            f"/ws/chat/{conversation.pk}/",
            headers=[(b"authorization", f"Bearer {access}".encode())],
        )
        connected, _ = await socket.connect()
        await socket.disconnect()
        return connected

    channel_layers.backends.clear()
    assert async_to_sync(connects)(tokens["access"])

    client.post(
        "/api/v1/auth/logout/",
        {"refresh": tokens["refresh"]},
        content_type="application/json",
        **_bearer(tokens["access"]),
    )
    channel_layers.backends.clear()
    assert not async_to_sync(connects)(tokens["access"])
