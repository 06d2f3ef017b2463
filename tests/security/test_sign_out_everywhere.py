""" "Sign out everywhere" ends every browser session and every API token of the person."""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.test import Client

from apps.accounts.services.tokens import user_tokens_revoke_all
from apps.compliance.models import SecurityEvent
from tests.helpers import PASSWORD


def _browser(user) -> Client:
    browser = Client()
    response = browser.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return browser


def _tokens(user) -> dict:
    response = Client().post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def _me(access):
    return Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {access}")


def _refresh(refresh):
    return Client().post(
        "/api/v1/auth/token/refresh/", {"refresh": refresh}, content_type="application/json"
    )


def _sessions_of(user) -> int:
    return sum(
        1
        for session in Session.objects.all()
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk)
    )


def test_signing_out_everywhere_from_the_browser(customer, make_user):
    laptop, phone_browser = _browser(customer), _browser(customer)
    app = _tokens(customer)
    someone_else = make_user()
    their_browser, their_app = _browser(someone_else), _tokens(someone_else)
    assert _me(app["access"]).status_code == 200  # its signature is remembered from here on
    assert _sessions_of(customer) == 2

    assert laptop.get("/security/sign-out-everywhere/").status_code == 405  # POST only
    response = laptop.post("/security/sign-out-everywhere/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/login/")
    assert "signed out on all your devices" in response.text

    assert _sessions_of(customer) == 0
    assert phone_browser.get("/").status_code == 302
    assert _me(app["access"]).status_code == 401
    assert _refresh(app["refresh"]).status_code == 401
    event = SecurityEvent.objects.get(kind="signed_out_everywhere", username=customer.username)
    assert event.actor == customer

    # Nobody else is signed out, and the person can sign in again at once.
    assert their_browser.get("/").status_code == 200
    assert _me(their_app["access"]).status_code == 200
    assert _me(_tokens(customer)["access"]).status_code == 200
    assert _browser(customer).get("/").status_code == 200


def test_signing_out_everywhere_from_the_app(customer):
    browser = _browser(customer)
    app, other_app = _tokens(customer), _tokens(customer)

    response = Client().post(
        "/api/v1/auth/logout-all/", HTTP_AUTHORIZATION=f"Bearer {app['access']}"
    )
    assert response.status_code == 204

    assert browser.get("/").status_code == 302
    for tokens in (app, other_app):
        body = _me(tokens["access"]).json()
        assert body["code"] == "token_not_valid"
        assert _refresh(tokens["refresh"]).status_code == 401
    assert SecurityEvent.objects.filter(kind="signed_out_everywhere").count() == 1


def test_revoking_all_tokens_leaves_browser_sessions_alone(customer):
    # What a password change calls: its own session is kept by Django's session hash.
    browser = _browser(customer)
    app = _tokens(customer)
    user_tokens_revoke_all(user=customer)
    assert _me(app["access"]).status_code == 401
    assert _refresh(app["refresh"]).status_code == 401
    assert browser.get("/").status_code == 200


def test_a_session_whose_key_changed_since_sign_in_is_ended_too(customer):
    browser = _browser(customer)
    session = browser.session
    session.cycle_key()  # e.g. a second factor passed later rotates the key
    browser.cookies["sessionid"] = session.session_key
    assert browser.get("/").status_code == 200

    _browser(customer).post("/security/sign-out-everywhere/")
    assert browser.get("/").status_code == 302
