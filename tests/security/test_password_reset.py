"""A forgotten password: a one-time link by email (Django's views and tokens), the same
answer for an unknown address, a limit on how many links may be asked for, and after the
reset: lockout lifted, API tokens revoked, nobody signed in (staff still need their code)."""

from __future__ import annotations

import json
import re

from django.conf import settings
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.roles import Role
from apps.compliance.models import SecurityEvent
from tests.helpers import PASSWORD

NEW_PASSWORD = "a much longer passphrase 42"
LINK = re.compile(r"http://testserver((?:/staff)?/password-reset/[^/\s]+/[^/\s]+/)")


def _link_in(mail) -> str:
    match = LINK.search(mail.body)
    assert match, mail.body
    return match.group(1)


def _set_password(client, link: str, password: str = NEW_PASSWORD):
    form = client.get(link)
    assert form.status_code == 302  # Django moves the token out of the URL into the session
    assert form["Location"].endswith("/set-password/")
    page = client.get(form["Location"])
    assert 'name="new_password1"' in page.text
    return client.post(form["Location"], {"new_password1": password, "new_password2": password})


def test_a_customer_resets_a_forgotten_password_once(client, make_user, mailoutbox):
    customer = make_user(Role.CUSTOMER, email="casey@example.com")
    assert 'href="/password-reset/"' in client.get("/login/").text

    response = client.post("/password-reset/", {"email": "Casey@Example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/password-reset/sent/"
    assert "Check your email" in client.get(response["Location"]).text
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["casey@example.com"]
    link = _link_in(mail)
    assert link.startswith("/password-reset/")

    done = _set_password(client, link)
    assert done.status_code == 302
    assert done["Location"] == "/password-reset/done/"
    assert "Your password is changed" in client.get(done["Location"]).text

    again = client.get(link, follow=True)
    assert "This link does not work" in again.text  # one time only
    assert 'name="new_password1"' not in again.text

    assert client.get("/").status_code == 302  # the reset signed nobody in
    old = client.post("/login/", {"username": customer.username, "password": PASSWORD})
    assert old.status_code == 200
    new = client.post("/login/", {"username": customer.username, "password": NEW_PASSWORD})
    assert new.status_code == 302
    assert new["Location"] == "/"
    kinds = set(
        SecurityEvent.objects.filter(username=customer.username).values_list("kind", flat=True)
    )
    assert {"password_reset_requested", "password_reset"} <= kinds


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, db, mailoutbox):
    response = client.post("/password-reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/password-reset/sent/"
    assert mailoutbox == []
    assert not SecurityEvent.objects.filter(kind="password_reset_requested").exists()


def test_a_bad_address_is_refused_beside_the_field(client, db, mailoutbox):
    response = client.post("/password-reset/", {"email": "not an address"})
    assert response.status_code == 200
    assert 'id="id_email_error"' in response.text
    assert mailoutbox == []


def test_reset_emails_are_rate_limited_per_address(client, make_user, mailoutbox):
    make_user(Role.CUSTOMER, email="casey@example.com")
    limit = int(settings.PASSWORD_RESET_RATE_PER_EMAIL.split("/")[0])
    for _ in range(limit):
        assert client.post("/password-reset/", {"email": "casey@example.com"}).status_code == 302
    refused = client.post("/password-reset/", {"email": "casey@example.com"})
    assert refused.status_code == 429
    assert 'id="id_email_error"' in refused.text
    assert "Too many reset links have been asked for" in refused.text
    assert len(mailoutbox) == limit

    # Unknown addresses count alike: the limit tells nothing about who has an account.
    for _ in range(limit):
        client.post("/password-reset/", {"email": "nobody@example.com"})
    assert client.post("/password-reset/", {"email": "nobody@example.com"}).status_code == 429


def test_a_reset_lifts_a_lockout_and_revokes_api_tokens(client, make_user, mailoutbox):
    customer = make_user(Role.CUSTOMER, email="casey@example.com")
    tokens = (
        Client()
        .post(
            "/api/v1/auth/token/",
            json.dumps({"username": customer.username, "password": PASSWORD}),
            content_type="application/json",
        )
        .json()
    )
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": customer.username, "password": "guess"})
    locked = client.post("/login/", {"username": customer.username, "password": PASSWORD})
    assert locked.status_code == 429

    client.post("/password-reset/", {"email": "casey@example.com"})
    assert _set_password(client, _link_in(mailoutbox[0])).status_code == 302

    signed_in = client.post("/login/", {"username": customer.username, "password": NEW_PASSWORD})
    assert signed_in.status_code == 302
    api = Client()
    assert api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}").status_code == 401
    refreshed = api.post(
        "/api/v1/auth/token/refresh/",
        json.dumps({"refresh": tokens["refresh"]}),
        content_type="application/json",
    )
    assert refreshed.status_code == 401


def test_staff_reset_on_their_side_and_still_need_their_code(client, make_user, mailoutbox):
    staff = make_user(Role.SUPPORT_AGENT, email="sam@bank.example")
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    assert 'href="/staff/password-reset/"' in client.get("/staff/login/").text

    response = client.post("/staff/password-reset/", {"email": "sam@bank.example"})
    assert response.status_code == 302
    assert response["Location"] == "/staff/password-reset/sent/"
    assert client.get(response["Location"]).status_code == 200
    link = _link_in(mailoutbox[0])
    assert link.startswith("/staff/password-reset/")

    done = _set_password(client, link)
    assert done["Location"] == "/staff/password-reset/done/"
    assert client.get(done["Location"]).status_code == 200
    assert client.get("/staff/").status_code == 302  # not signed in by the reset

    signed_in = client.post("/staff/login/", {"username": staff.username, "password": NEW_PASSWORD})
    assert signed_in["Location"].startswith("/staff/mfa/verify/")
    assert client.get("/staff/").status_code == 302  # the code is still needed
