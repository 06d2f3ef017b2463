"""Staff reach the API only with a session that passed their authenticator.

A member of staff who typed the password but not the code (or never enrolled), or whose
session was never verified, gets 401 from `/api/v1/me` and every other API route; a
bearer token for a member of staff (they cannot obtain one) is refused too.
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from django.test import AsyncClient
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.roles import STAFF_ROLES, Role
from tests.helpers import PASSWORD, totp_code
from tests.security.test_customer_mfa_walk import customer_side


def _api_paths() -> list[str]:
    _pages, api, _public = customer_side({})
    # The walk must not walk nothing.
    assert "/api/v1/me" in api
    assert len(api) >= 25, api
    return api


def _refused_everywhere(client, code: str, *, token: str = "") -> None:
    """Every API route, the event stream included, answers 401 with `code`."""
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    answers = {}
    streams = [path for path in _api_paths() if path.endswith("/events")]
    for path in _api_paths():
        if path in streams:
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(path, content_type="application/json", **extra)
            body = response.json()
            error = body.get("code") if isinstance(body, dict) else None
            answers[f"{method.upper()} {path}"] = (response.status_code, error)

    async def scenario():
        events = AsyncClient()
        events.cookies = client.cookies
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for path in streams:
            response = await events.get(path, headers=headers)
            answers[f"GET {path}"] = (response.status_code, json.loads(response.content)["code"])

    channel_layers.backends.clear()
    async_to_sync(scenario)()
    assert len(streams) == 1
    allowed = {key: answer for key, answer in answers.items() if answer != (401, code)}
    assert allowed == {}


@pytest.mark.parametrize("role", sorted(STAFF_ROLES))
def test_staff_who_must_still_enrol_get_401_from_the_api(client, make_user, role):
    user = make_user(Role(role))
    response = client.post("/staff/login/", {"username": user.username, "password": PASSWORD})
    assert response["Location"].startswith("/staff/mfa/enrol/")
    _refused_everywhere(client, "not_authenticated")


def test_staff_with_a_device_but_no_code_yet_get_401_from_the_api(client, administrator):
    TOTPDevice.objects.create(user=administrator, name="phone", confirmed=True)
    response = client.post(
        "/staff/login/", {"username": administrator.username, "password": PASSWORD}
    )
    assert response["Location"].startswith("/staff/mfa/verify/")
    _refused_everywhere(client, "not_authenticated")


def test_a_signed_in_but_unverified_staff_session_gets_401_mfa_required(client, staff):
    """Defence in depth: even a session that is logged in (one from before this rule, or
    a future view that logs in too early) is refused until it is verified."""
    client.force_login(staff)
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json() == {
        "code": "mfa_required",
        "message": "Finish signing in with the code from your authenticator app.",
        "fields": {},
    }
    _refused_everywhere(client, "mfa_required")


def test_staff_who_passed_the_code_read_their_own_profile(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client.post("/staff/login/", {"username": staff.username, "password": PASSWORD})
    assert client.get("/api/v1/me").status_code == 401
    assert client.post("/staff/mfa/verify/", {"token": totp_code(device)}).status_code == 302
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["username"] == staff.username


def test_a_staff_bearer_token_is_refused_everywhere(client, staff):
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    token = AccessToken.for_user(staff)  # staff cannot get one from the API; made by hand
    _refused_everywhere(client, "staff_token", token=str(token))
