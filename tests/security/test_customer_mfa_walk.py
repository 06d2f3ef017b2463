"""A customer's password alone opens nothing once they have an authenticator.

Signs in with the password only (a "half-signed-in" session: the code step not done) and
walks every customer URL in the URL conf, every /api/v1/ route (the chat's Server-Sent
Events stream included) and the chat websocket: pages must send the session to the code
step, the API and the stream must answer 401, the socket must close with 4401. The same
walk after the code proves the walker reaches what it guards.
"""

from __future__ import annotations

import re

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import AsyncClient
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RoutePattern
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.chat.models import Conversation
from banksight.asgi import application
from banksight.routing import websocket_urlpatterns
from tests.factories import account_make, customer_make
from tests.helpers import PASSWORD, totp_code

NOT_CUSTOMER_SIDE = ("/staff/", "/admin/", "/ws/staff/")
# API routes anyone may call: they are how a person signs in.
PUBLIC_API = {"/api/v1/auth/token/", "/api/v1/auth/token/refresh/"}
CODE_STEP = "/login/verify/"
# Marks the customer's own data in any page or answer.
SECRET_NAME = "Zebedee"


def _routes(patterns, prefix=""):
    """Every route of the URL conf, as text ("api/v1/accounts/<int:id>/")."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and isinstance(entry.pattern, RoutePattern):
            yield prefix + str(entry.pattern)
        # Regex patterns on the customer side are only the API's catch-all 404.


def _concrete(route: str, ids: dict) -> str:
    def value(match):
        converter, name = match.group(1) or "str", match.group(2)
        if name in ids:
            return str(ids[name])
        return {"int": "1", "uuid": "00000000-0000-4000-8000-000000000001"}.get(converter, "x")

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", value, route)


def customer_side(ids: dict) -> tuple[list[str], list[str], list[str]]:
    """(pages, API paths, public pages): everything a customer's session could open."""
    paths = {_concrete(r, ids) for r in _routes(get_resolver().url_patterns)}
    paths = sorted(p for p in paths if not p.startswith(NOT_CUSTOMER_SIDE))
    api = [p for p in paths if p.startswith("/api/v1/") and p not in PUBLIC_API]
    pages, public = [], []
    for path in paths:
        if path.startswith("/api/"):
            continue
        view = resolve(path).func
        # Views that opt out of Django's LoginRequiredMiddleware are public (sign-in,
        # health checks, the API schema...): walked too, for the customer's data.
        (public if getattr(view, "login_required", True) is False else pages).append(path)
    return pages, api, public


def _websocket_paths(ids: dict) -> list[str]:
    routes = [str(p.pattern) for p in websocket_urlpatterns]
    paths = [_concrete(r, ids) for r in routes]
    return [p for p in paths if not p.startswith(NOT_CUSTOMER_SIDE)]


@pytest.fixture
def zebedee(db):
    """A customer with money, a conversation and a confirmed authenticator."""
    customer = customer_make(username="zebedee", first_name=SECRET_NAME, last_name="Quill")
    account_make(customer, balance="250.00")
    conversation = Conversation.objects.create(customer=customer, title="Card question")
    device = TOTPDevice.objects.create(user=customer.user, name="phone", confirmed=True)
    return customer, conversation, device


def _half_signed_in(client, user):
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith(CODE_STEP), response["Location"]
    return client


def _run(scenario):
    channel_layers.backends.clear()  # the Redis layer's locks belong to their event loop
    return async_to_sync(scenario)()


def _sse_statuses(client, paths: list[str]) -> dict[str, int]:
    """The event stream is async and never ends: ask it through the async client and
    look at the status only (an open stream is not read)."""

    async def scenario():
        events = AsyncClient()
        events.cookies = client.cookies
        return {path: (await events.get(path)).status_code for path in paths}

    return _run(scenario)


def test_a_half_signed_in_session_opens_nothing_until_the_code(client, zebedee):
    customer, conversation, device = zebedee
    pages, api, public = customer_side({"conversation_id": conversation.pk})
    # If these fail, the walker no longer finds the URLs it is meant to guard.
    assert len(pages) >= 20, pages
    assert len(api) >= 25, api
    assert {"/", "/transfers/confirm/", "/security/mfa/"} <= set(pages)
    assert {"/api/v1/me", "/api/v1/payments/"} <= set(api)
    stream = f"/api/v1/conversations/{conversation.pk}/events"
    assert stream in api

    _half_signed_in(client, customer.user)
    bypasses = []
    for path in pages:
        for method in (client.get, client.post):
            response = method(path)
            location = response.get("Location", "")
            if response.status_code != 302 or not location.startswith(CODE_STEP):
                bypasses.append(f"{method.__name__.upper()} {path}: {response.status_code}")
    streams = [path for path in api if path.endswith("/events")]
    for path in api:
        if path in streams:
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(path, content_type="application/json")
            if response.status_code != 401:
                bypasses.append(f"{method.upper()} {path}: {response.status_code}")
    for path, status in _sse_statuses(client, streams).items():
        if status != 401:
            bypasses.append(f"GET {path} (event stream): {status}")
    for path in public:
        response = client.get(path)
        if SECRET_NAME.encode() in response.content or response.status_code == 500:
            bypasses.append(f"GET {path} (public): {response.status_code}")
    assert bypasses == []

    # The code completes the sign-in, and the walker sees the same session get in.
    response = client.post(f"{CODE_STEP}?next=/payments/", {"token": totp_code(device)})
    assert response.status_code == 302
    assert response["Location"] == "/payments/"
    home = client.get("/")
    assert home.status_code == 200
    assert SECRET_NAME in home.text
    assert client.get("/api/v1/me").json()["username"] == "zebedee"
    assert _sse_statuses(client, [stream]) == {stream: 200}


def test_a_half_signed_in_session_is_refused_by_the_chat_socket(transactional_db, client):
    customer = customer_make(username="zebedee", first_name=SECRET_NAME, last_name="Quill")
    conversation = Conversation.objects.create(customer=customer, title="Card question")
    device = TOTPDevice.objects.create(user=customer.user, name="phone", confirmed=True)
    _half_signed_in(client, customer.user)
    # The walker finds the customer's socket, and only that one.
    (path,) = _websocket_paths({"conversation_id": conversation.pk})
    assert path == f"/ws/chat/{conversation.pk}/"

    def connect():
        cookie = (
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )

        async def scenario():
            socket = WebsocketCommunicator(
                application,
                path,
                headers=[(b"cookie", cookie.encode()), (b"origin", b"http://localhost")],
            )
            connected, code = await socket.connect()
            await socket.disconnect()
            return connected, code

        return _run(scenario)

    assert connect() == (False, 4401)

    # After the code, the same session's socket is let in.
    assert client.post(CODE_STEP, {"token": totp_code(device)}).status_code == 302
    assert connect()[0] is True
