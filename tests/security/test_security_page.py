"""The customer's Security page: the authenticator's QR code only while enrolling, removing
the authenticator only with a current code, and the recent sign-ins, failures included."""

from __future__ import annotations

import base64

from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.roles import Role
from apps.compliance.models import SecurityEvent
from tests.helpers import PASSWORD, totp_code

QR_CODE = 'src="data:image/svg+xml;base64,'


def _sign_in_with_code(client, user, device):
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response["Location"].startswith("/login/verify/")
    response = client.post("/login/verify/", {"token": totp_code(device)})
    assert response.status_code == 302
    assert client.get("/security/").status_code == 200


def test_the_qr_code_is_shown_while_enrolling_and_never_once_confirmed(client, customer):
    client.post("/login/", {"username": customer.username, "password": PASSWORD})
    security = client.get("/security/")
    assert security.status_code == 200
    assert "Set up an authenticator app" in security.text
    assert 'href="/security/password/"' in security.text
    assert 'action="/security/sign-out-everywhere/"' in security.text

    enrol = client.get("/security/mfa/")
    assert enrol.status_code == 200
    assert QR_CODE in enrol.text
    device = TOTPDevice.objects.get(user=customer, confirmed=False)
    secret = base64.b32encode(device.bin_key).decode()
    assert secret in enrol.text
    client.post("/security/mfa/", {"token": totp_code(device)})
    device.refresh_from_db()
    assert device.confirmed

    again = client.get("/security/mfa/", follow=True)
    assert again.redirect_chain == [("/security/", 302)]
    assert QR_CODE not in again.text
    assert secret not in again.text
    assert "Your authenticator app is already set up." in again.text
    assert "Remove authenticator" in again.text
    # No second, unconfirmed device was started behind the scenes either.
    assert list(TOTPDevice.objects.filter(user=customer)) == [device]


def test_staff_never_see_their_qr_code_again_either(verified_client, staff):
    client = verified_client(staff)
    device = TOTPDevice.objects.get(user=staff)
    response = client.get("/staff/mfa/enrol/")
    assert response.status_code == 302
    assert response["Location"] == "/staff/"
    page = client.get("/staff/")
    assert base64.b32encode(device.bin_key).decode() not in page.text
    assert not TOTPDevice.objects.filter(user=staff, confirmed=False).exists()


def test_a_wrong_code_removes_nothing_and_is_recorded(client, customer):
    device = TOTPDevice.objects.create(user=customer, name="phone", confirmed=True)
    _sign_in_with_code(client, customer, device)

    response = client.post("/security/authenticator/remove/", {"token": "000000"})
    assert response.status_code == 200
    assert 'id="id_token_error"' in response.text  # the message sits beside the field
    assert "That code is not valid" in response.text
    assert TOTPDevice.objects.filter(pk=device.pk, confirmed=True).exists()
    assert SecurityEvent.objects.filter(kind="mfa_failed", username=customer.username).exists()
    assert not SecurityEvent.objects.filter(kind="mfa_removed").exists()

    empty = client.post("/security/authenticator/remove/", {"token": ""})
    assert empty.status_code == 200
    assert 'id="id_token_error"' in empty.text
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_a_current_code_removes_the_authenticator(client, customer):
    device = TOTPDevice.objects.create(user=customer, name="phone", confirmed=True)
    _sign_in_with_code(client, customer, device)

    response = client.post(
        "/security/authenticator/remove/", {"token": totp_code(device, offset=1)}, follow=True
    )
    assert response.redirect_chain == [("/security/", 302)]
    assert "Your authenticator app is removed." in response.text
    assert "Set up an authenticator app" in response.text
    assert not TOTPDevice.objects.filter(user=customer).exists()
    assert SecurityEvent.objects.filter(kind="mfa_removed", username=customer.username).exists()

    client.post("/logout/")
    signed_in = client.post("/login/", {"username": customer.username, "password": PASSWORD})
    assert signed_in["Location"] == "/"  # a password alone is enough again


def test_recent_sign_ins_list_successes_and_failures(client, customer, make_user):
    other = make_user(Role.CUSTOMER)
    client.post(
        "/login/",
        {"username": other.username, "password": "wrong"},
        HTTP_USER_AGENT="Someone-Elses-Browser/1.0",
        REMOTE_ADDR="198.51.100.77",
    )
    failed = client.post(
        "/login/",
        {"username": customer.username, "password": "not my password"},
        HTTP_USER_AGENT="Guesser/9.9",
        REMOTE_ADDR="203.0.113.9",
    )
    assert failed.status_code == 200
    signed_in = client.post(
        "/login/",
        {"username": customer.username, "password": PASSWORD},
        HTTP_USER_AGENT="Firefox/140.0",
        REMOTE_ADDR="192.0.2.10",
    )
    assert signed_in.status_code == 302

    page = client.get("/security/")
    assert page.status_code == 200
    sign_ins = page.context["sign_ins"]
    assert [(s.succeeded, s.outcome, s.ip_address, s.user_agent) for s in sign_ins] == [
        (True, "Signed in", "192.0.2.10", "Firefox/140.0"),
        (False, "Wrong password", "203.0.113.9", "Guesser/9.9"),
    ]
    for text in ("Wrong password", "203.0.113.9", "Guesser/9.9", "Signed in", "Firefox/140.0"):
        assert text in page.text
    assert "198.51.100.77" not in page.text  # someone else's attempts are not listed
