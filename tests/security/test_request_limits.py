"""Bad input gets a clear error, never a 500: bodies over the API's limit (413), JSON nested
too deep, text that is not UTF-8, and fields longer than they may be (400 naming the field).

Each case goes to three representative endpoints: the sign-in (anonymous), payments and
chat messages (bearer token). Bodies without a Content-Length (sent in chunks) go through
the ASGI application as uvicorn calls it.
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from apps.chat.services import conversation_create
from banksight.asgi import application
from tests.factories import account_make, customer_make
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db

LIMIT = 1024 * 1024  # API_MAX_BODY_BYTES, by default
MAX_DEPTH = 32  # API_MAX_JSON_DEPTH, by default


@pytest.fixture
def endpoints(customer):
    """(path, extra request headers) for each representative endpoint."""
    profile = customer_make(customer)
    account_make(profile, balance="100.00")
    conversation = conversation_create(customer=profile)
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {AccessToken.for_user(customer)}"}
    return [
        ("/api/v1/auth/token/", {}),
        ("/api/v1/payments/", {**bearer, "HTTP_IDEMPOTENCY_KEY": "limits-1"}),
        (f"/api/v1/conversations/{conversation.pk}/messages", bearer),
    ]


def _post(client, path, body: bytes, headers):
    return client.post(path, body, content_type="application/json", **headers)


def _assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    assert body["message"]
    return body


@pytest.mark.parametrize("size", [LIMIT + 1, 3 * 1024 * 1024])
def test_a_body_over_the_limit_is_413(client, endpoints, size):
    # Valid JSON, so only its size is wrong.
    body = json.dumps({"text": "x" * size, "client_id": "c1"}).encode()
    assert len(body) > LIMIT
    for path, headers in endpoints:
        _assert_error(_post(client, path, body, headers), 413, "payload_too_large")


def test_a_body_just_under_the_limit_is_read(client, customer):
    body = json.dumps(
        {"username": customer.username, "password": PASSWORD, "padding": "x" * (LIMIT - 200)}
    ).encode()
    assert len(body) <= LIMIT
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 100_000])
def test_json_nested_too_deep_is_400(client, endpoints, depth):
    body = ("[" * depth + "]" * depth).encode()
    for path, headers in endpoints:
        _assert_error(_post(client, path, body, headers), 400, "json_too_deep")
    nested = b'{"a":' * depth + b"1" + b"}" * depth
    for path, headers in endpoints:
        _assert_error(_post(client, path, nested, headers), 400, "json_too_deep")


def test_json_nested_within_the_limit_is_read(client, customer):
    depth = MAX_DEPTH - 1  # the object around it is one more level
    body = json.dumps(
        {
            "username": customer.username,
            "password": PASSWORD,
            "extra": json.loads("[" * depth + "]" * depth),
        }
    ).encode()
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 200


def test_invalid_utf8_is_400(client, endpoints):
    body = b'{"username": "al\xffice", "password": "x", "text": "\xc3(", "client_id": "c1"}'
    for path, headers in endpoints:
        body_json = _assert_error(_post(client, path, body, headers), 400, "invalid_encoding")
        assert "UTF-8" in body_json["message"].upper()


@pytest.mark.parametrize(
    ("field", "value"),
    [("username", "a" * 300), ("password", "p" * 5_000), ("otp", "1" * 300)],
)
def test_sign_in_fields_over_their_length_are_400_naming_the_field(client, customer, field, value):
    data = {"username": customer.username, "password": PASSWORD, field: value}
    response = client.post("/api/v1/auth/token/", data, content_type="application/json")
    body = _assert_error(response, 400, "invalid")
    assert "no more than" in " ".join(body["fields"][field]), body


def test_fields_over_their_length_on_payments_and_messages_are_400(client, endpoints):
    _, (payments, payment_headers), (messages, message_headers) = endpoints
    payment = {
        "from_account": 1,
        "to_iban": "GB" + "1" * 300,
        "amount": "1.00",
        "currency": "GBP",
        "reference": "r" * 300,
    }
    body = _assert_error(
        _post(client, payments, json.dumps(payment).encode(), payment_headers), 400, "invalid"
    )
    assert {"to_iban", "reference"} <= set(body["fields"]), body
    message = {"text": "t" * 5_000, "client_id": "c" * 300}
    body = _assert_error(
        _post(client, messages, json.dumps(message).encode(), message_headers), 400, "invalid"
    )
    assert {"text", "client_id"} <= set(body["fields"]), body


def test_the_sign_in_page_names_an_over_long_password_beside_the_field(client, customer):
    response = client.post("/login/", {"username": customer.username, "password": "p" * 5_000})
    assert response.status_code == 200
    assert 'id="id_password_error"' in response.text
    assert "at most 4096 characters" in response.text
    assert "_auth_user_id" not in client.session


def test_a_form_page_body_over_djangos_limit_is_400_not_500(client):
    # Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) stays for form pages: a 400 page.
    client.raise_request_exception = False
    big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = client.post("/login/", {"username": "alice", "password": big})
    assert response.status_code == 400


# --- Through the ASGI application, as uvicorn calls it ----------------------------------


def _scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


@async_to_sync
async def _asgi_post(path: str, chunks: list[bytes], headers=()) -> tuple[int, bytes]:
    communicator = ApplicationCommunicator(application, _scope(path, list(headers)))
    for index, chunk in enumerate(chunks):
        more = index < len(chunks) - 1
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": more})
    start = await communicator.receive_output(30)
    body = b""
    while True:
        message = await communicator.receive_output(30)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    return start["status"], body


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_over_the_limit_is_413_through_asgi():
    chunk = b" " * (256 * 1024)
    chunks = [b'{"username": "a", "password": "b"}', *([chunk] * 5)]  # 1.25 MB, no length
    status, body = _asgi_post("/api/v1/auth/token/", chunks)
    assert status == 413
    assert json.loads(body)["code"] == "payload_too_large"


@pytest.mark.django_db(transaction=True)
def test_a_declared_length_over_the_limit_is_413_before_the_body_is_read():
    headers = [(b"content-length", str(50 * 1024 * 1024).encode())]
    status, body = _asgi_post("/api/v1/auth/token/", [b"{}"], headers)
    assert status == 413
    assert json.loads(body)["code"] == "payload_too_large"
