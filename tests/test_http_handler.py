"""HTTP through banksight.asgi.application, as uvicorn calls it (banksight/http_handler.py).

Sync views run in the handler's thread pool; the chat's SSE stream (an async view) keeps
Django's async path. Real PostgreSQL and Redis; the pool's threads use their own database
connections, so these tests commit their data.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from channels.layers import channel_layers
from rest_framework_simplejwt.tokens import AccessToken

from apps.chat.services import conversation_create
from banksight.asgi import application
from tests.factories import account_make, customer_make
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def _scope(method: str, path: str, headers: dict[str, str]) -> dict:
    path, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def _request(method, path, *, headers=None, body=b""):
    communicator = ApplicationCommunicator(application, _scope(method, path, headers or {}))
    await communicator.send_input({"type": "http.request", "body": body})
    start = await communicator.receive_output(20)
    chunks = []
    while True:
        message = await communicator.receive_output(20)
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    await communicator.wait(5)
    header_list = [(k.decode().lower(), v.decode()) for k, v in start["headers"]]
    return start["status"], header_list, b"".join(chunks)


def request(method, path, **kwargs):
    return async_to_sync(_request)(method, path, **kwargs)


def header(headers, name):
    return next(value for key, value in headers if key == name)


@pytest.fixture
def customer():
    customer = customer_make(username="handler_t")
    account_make(customer, balance="12.34")
    return customer


def test_a_sync_api_view_answers_through_the_pool(customer):
    token = AccessToken.for_user(customer.user)
    status, headers, body = request(
        "GET", "/api/v1/accounts/", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200, body
    accounts = json.loads(body)
    accounts = accounts.get("results", accounts) if isinstance(accounts, dict) else accounts
    assert [a["balance"] for a in accounts] == ["12.34"]
    assert header(headers, "content-type") == "application/json"


def test_a_request_body_reaches_the_view(customer):
    body = json.dumps({"username": "handler_t", "password": PASSWORD}).encode()
    status, _, answer = request(
        "POST",
        "/api/v1/auth/token/",
        headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
        body=body,
    )
    assert status == 200, answer
    assert json.loads(answer)["access"]


def test_cookies_and_security_headers_are_sent(db):
    status, headers, _ = request("GET", "/login/")
    assert status == 200
    cookies = [value for key, value in headers if key == "set-cookie"]
    assert any(cookie.startswith("csrftoken=") for cookie in cookies)
    assert "content-security-policy" in dict(headers)
    assert header(headers, "x-frame-options") == "DENY"


def test_each_request_keeps_its_own_request_id(db):
    async def three():
        return await asyncio.gather(
            _request("GET", "/healthz", headers={"X-Request-ID": "first-request-id"}),
            _request("GET", "/healthz", headers={"X-Request-ID": "second-request-id"}),
            _request("GET", "/healthz"),
        )

    ids = [header(headers, "x-request-id") for _, headers, _ in async_to_sync(three)()]
    assert ids[:2] == ["first-request-id", "second-request-id"]
    assert ids[2] not in ids[:2]
    assert len(ids[2]) == 32


def test_many_concurrent_requests_do_not_exhaust_the_database_pool(customer):
    # More requests at once than threads, and more in all than the pool's connections:
    # every thread hands its connection back when its request ends.
    token = AccessToken.for_user(customer.user)

    async def many():
        return await asyncio.gather(
            *(
                _request("GET", "/api/v1/accounts/", headers={"Authorization": f"Bearer {token}"})
                for _ in range(60)
            )
        )

    assert [status for status, _, _ in async_to_sync(many)()] == [200] * 60


def test_an_unknown_path_gets_the_json_404(db):
    status, _, body = request("GET", "/api/v1/no-such-thing")
    assert status == 404
    assert json.loads(body)["code"] == "not_found"


def test_the_sse_stream_is_served_by_the_async_path(customer):
    channel_layers.backends.clear()  # a channel layer bound to this test's event loop
    conversation = conversation_create(customer=customer)
    token = AccessToken.for_user(customer.user)
    scope = _scope(
        "GET",
        f"/api/v1/conversations/{conversation.pk}/events",
        {"Authorization": f"Bearer {token}"},
    )

    async def open_stream():
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(20)
        first = await communicator.receive_output(20)
        await communicator.send_input({"type": "http.disconnect"})
        await communicator.wait(10)
        return start, first

    start, first = async_to_sync(open_stream)()
    assert start["status"] == 200
    assert dict(start["headers"])[b"Content-Type"] == b"text/event-stream"
    assert first["body"] == b": connected\n\n"
    assert first["more_body"] is True


def test_audited_changes_made_at_once_each_record_their_own_actor(db):
    # Requests served side by side in the pool's threads: every audit entry names the
    # customer whose request wrote it, with that request's address and id.
    from auditlog.models import LogEntry

    from apps.accounts.models import Payee

    customers = [customer_make(username=f"handler_a{i}") for i in range(8)]

    def payee_request(customer):
        body = json.dumps(
            {"name": f"Payee of {customer.user.username}", "iban": "DE89370400440532013000"}
        ).encode()
        return _request(
            "POST",
            "/api/v1/payees/",
            headers={
                "Authorization": f"Bearer {AccessToken.for_user(customer.user)}",
                "Content-Type": "application/json",
                "Content-Length": str(len(body)),
                "X-Request-ID": f"payee-request-{customer.user.pk}",
            },
            body=body,
        )

    async def create_payees():
        return await asyncio.gather(*(payee_request(c) for c in customers))

    answers = async_to_sync(create_payees)()
    assert [status for status, _, _ in answers] == [201] * 8, answers[0][2]
    for customer in customers:
        payee = Payee.objects.get(customer=customer)
        entry = LogEntry.objects.get_for_object(payee).get(action=LogEntry.Action.CREATE)
        assert entry.actor == customer.user
        assert entry.remote_addr == "127.0.0.1"
        assert entry.cid == f"payee-request-{customer.user.pk}"
