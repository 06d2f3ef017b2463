"""Changing a password while signed in: the old one re-entered, the validators apply, this
session stays signed in, every other session and every API token stop working."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from apps.compliance.models import SecurityEvent
from tests.helpers import PASSWORD

NEW_PASSWORD = "a much longer passphrase 42"


def _sign_in(client, user):
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.text
    assert client.get("/").status_code == 200


def _api_tokens(client, user) -> dict:
    response = client.post(
        "/api/v1/auth/token/",
        json.dumps({"username": user.username, "password": PASSWORD}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.text
    return response.json()


def _change(client, old=PASSWORD, new=NEW_PASSWORD, url="/security/password/"):
    return client.post(url, {"old_password": old, "new_password1": new, "new_password2": new})


def test_changing_the_password_keeps_this_session_and_ends_the_others(client, customer):
    _sign_in(client, customer)
    other_browser = Client()
    _sign_in(other_browser, customer)
    tokens = _api_tokens(Client(), customer)
    me = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert me.status_code == 200

    page = client.get("/security/")
    assert 'href="/security/password/"' in page.text
    form = client.get("/security/password/")
    assert form.status_code == 200
    assert 'name="old_password"' in form.text

    response = _change(client)
    assert response.status_code == 302
    assert response["Location"] == "/security/"
    assert "Your password has been changed." in client.get("/security/").text
    assert client.get("/").status_code == 200  # still signed in here
    assert other_browser.get("/").status_code == 302  # signed out there

    api = Client()
    assert api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}").status_code == 401
    refreshed = api.post(
        "/api/v1/auth/token/refresh/",
        json.dumps({"refresh": tokens["refresh"]}),
        content_type="application/json",
    )
    assert refreshed.status_code == 401

    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)
    assert SecurityEvent.objects.filter(
        kind="password_changed", username=customer.username, actor=customer
    ).exists()


def test_a_wrong_old_password_changes_nothing(client, customer):
    _sign_in(client, customer)
    response = _change(client, old="not the password")
    assert response.status_code == 200
    assert 'id="id_old_password_error"' in response.text
    customer.refresh_from_db()
    assert customer.check_password(PASSWORD)
    assert not SecurityEvent.objects.filter(kind="password_changed").exists()


@pytest.mark.parametrize(
    ("new", "message"),
    [("password", "This password is too common."), ("12345678901", "entirely numeric")],
)
def test_the_password_validators_apply(client, customer, new, message):
    _sign_in(client, customer)
    response = _change(client, new=new)
    assert response.status_code == 200
    assert 'id="id_new_password2_error"' in response.text
    assert message in response.text
    customer.refresh_from_db()
    assert customer.check_password(PASSWORD)


def test_staff_change_their_password_in_the_back_office(verified_client, staff):
    signed_in = verified_client(staff)
    page = signed_in.get("/staff/")
    assert 'href="/staff/password/"' in page.text
    response = _change(signed_in, url="/staff/password/")
    assert response.status_code == 302
    assert response["Location"] == "/staff/"
    assert signed_in.get("/staff/").status_code == 200  # still signed in, still verified
    staff.refresh_from_db()
    assert staff.check_password(NEW_PASSWORD)
    assert SecurityEvent.objects.filter(kind="password_changed", username=staff.username).exists()


def test_the_staff_page_needs_a_verified_staff_sign_in(client, staff, customer):
    response = client.get("/staff/password/")
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")
    _sign_in(client, customer)
    assert client.get("/staff/password/").status_code == 403
