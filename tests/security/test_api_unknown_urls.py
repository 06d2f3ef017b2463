"""Any method on an unknown /api/ URL answers a JSON 404 in the API's error shape: without
credentials, with a bearer token, and with a browser's session cookie (where a POST used
to get Django's HTML CSRF page)."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

pytestmark = pytest.mark.django_db

METHODS = ["get", "post", "put", "patch", "delete"]
UNKNOWN = [
    "/api/v1/nothing-here/",
    "/api/v1/nothing-here",
    "/api/v1/payments/1/refund/",
    "/api/v1/conversations/not-a-uuid/messages",
    "/api/v2/accounts/",
]


def _assert_json_404(response, label: str):
    assert response.status_code == 404, (label, response.status_code, response.content[:200])
    assert response["Content-Type"].startswith("application/json"), label
    assert response.json() == {
        "code": "not_found",
        "message": response.json()["message"],
        "fields": {},
    }, label
    assert response.json()["message"], label


def _each(client: Client, label: str, **headers):
    for path in UNKNOWN:
        for method in METHODS:
            response = client.generic(
                method.upper(), path, b'{"a": 1}', content_type="application/json", **headers
            )
            _assert_json_404(response, f"{label} {method.upper()} {path}")


def test_anonymous(client):
    _each(Client(enforce_csrf_checks=True), "anonymous")


def test_with_a_bearer_token(customer):
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {AccessToken.for_user(customer)}"}
    _each(Client(enforce_csrf_checks=True), "bearer", **bearer)


def test_with_a_session_cookie_and_no_csrf_token(customer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    _each(client, "session")


def test_with_a_staff_session_cookie(staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    _each(client, "staff session")
