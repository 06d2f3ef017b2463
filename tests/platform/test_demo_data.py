"""seed_demo and demo_logins: what `make run` prints must let a person or script sign in."""

from __future__ import annotations

import base64
import json
from io import StringIO

import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command
from django.test import override_settings
from django_otp.oath import totp

from apps.accounts.models import User


def _logins() -> list[dict]:
    out = StringIO()
    call_command("demo_logins", stdout=out)
    return json.loads(out.getvalue())


def test_seed_demo_creates_every_role_and_is_idempotent(db):
    call_command("seed_demo", stdout=StringIO())
    users, entries = User.objects.count(), LogEntry.objects.count()
    call_command("seed_demo", stdout=StringIO())
    assert User.objects.count() == users == 9
    assert LogEntry.objects.count() == entries  # the second run changed nothing

    roles = {row["username"]: row["role"] for row in _logins()}
    assert roles == {
        "alice": "customer",
        "bob": "customer",
        "carol": "customer",
        "dave": "customer",
        "agent": "support_agent",
        "analyst": "fraud_analyst",
        "kyc": "kyc_officer",
        "compliance": "compliance_officer",
        "admin": "administrator",
    }


def test_seed_demo_is_refused_in_production(db):
    with override_settings(PRODUCTION=True), pytest.raises(CommandError, match="production"):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()


def _code(secret: str) -> str:
    return f"{totp(base64.b32decode(secret)):06d}"


def test_each_demo_staff_member_signs_in_with_the_printed_secret(client, db):
    call_command("seed_demo", stdout=StringIO())
    staff_rows = [r for r in _logins() if r["login_url"] == "/staff/login/"]
    assert {r["username"] for r in staff_rows} == {"agent", "analyst", "kyc", "compliance", "admin"}
    for row in staff_rows:
        assert row["password"] == "banksight-demo"
        response = client.post(
            row["login_url"], {"username": row["username"], "password": row["password"]}
        )
        assert response["Location"].startswith("/staff/mfa/verify/"), row["username"]
        client.post("/staff/mfa/verify/", {"token": _code(row["totp_secret"])})
        assert client.get("/staff/").status_code == 200, row["username"]
        client.post("/staff/logout/")


def test_demo_customers_sign_in_on_the_portal_and_the_api(client, db):
    call_command("seed_demo", stdout=StringIO())
    alice = next(r for r in _logins() if r["username"] == "alice")
    assert alice["totp_secret"] is None
    response = client.post("/login/", {"username": "alice", "password": alice["password"]})
    assert response["Location"] == "/"
    token = client.post(
        "/api/v1/auth/token/",
        {"username": "bob", "password": "banksight-demo"},
        content_type="application/json",
    )
    assert token.status_code == 200


@override_settings(DEMO_PASSWORD="another-secret-9")
def test_demo_password_follows_the_setting(client, db):
    call_command("seed_demo", stdout=StringIO())
    assert User.objects.get(username="alice").check_password("another-secret-9")
