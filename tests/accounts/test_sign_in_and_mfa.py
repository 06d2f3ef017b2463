"""Signing in on both sides, enrolling an authenticator and using it."""

from __future__ import annotations

import time

from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.compliance.models import SecurityEvent
from tests.helpers import PASSWORD, totp_code


def test_new_staff_must_enrol_an_authenticator_before_anything_else(client, staff):
    response = client.post("/staff/login/", {"username": staff.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/mfa/enrol/")

    page = client.get(response["Location"])
    assert page.status_code == 200
    assert 'src="data:image/svg+xml;base64,' in page.text  # the QR code, served inline
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    secret = page.context["secret"]
    assert secret in page.text

    wrong = client.post(response["Location"], {"token": "000000"})
    assert wrong.status_code == 200
    assert "That code is not valid" in wrong.text
    assert 'id="id_token_error"' in wrong.text  # the message sits beside the field
    assert client.get("/staff/").status_code == 302

    time.sleep(1.1)  # django-otp slows down guessing after a wrong code
    done = client.post(response["Location"], {"token": totp_code(device)})
    assert done.status_code == 302
    assert client.get("/staff/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    assert SecurityEvent.objects.filter(kind="mfa_enrolled", username=staff.username).exists()


def test_enrolled_staff_sign_in_with_password_then_code(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    response = client.post(
        "/staff/login/?next=/staff/security/lockouts/",
        {"username": staff.username, "password": PASSWORD, "next": "/staff/"},
    )
    assert response["Location"].startswith("/staff/mfa/verify/")
    assert client.get("/staff/").status_code == 302

    response = client.post(response["Location"], {"token": totp_code(device)})
    assert response.status_code == 302
    assert response["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200


def test_a_password_alone_cannot_replace_an_enrolled_authenticator(client, staff):
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client.post("/staff/login/", {"username": staff.username, "password": PASSWORD})
    response = client.get("/staff/mfa/enrol/")
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/mfa/verify/")
    assert not TOTPDevice.objects.filter(user=staff, confirmed=False).exists()


def test_wrong_code_is_refused_and_recorded(client, staff):
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client.post("/staff/login/", {"username": staff.username, "password": PASSWORD})
    response = client.post("/staff/mfa/verify/", {"token": "123456"})
    assert response.status_code == 200
    assert "That code is not valid" in response.text
    assert client.get("/staff/").status_code == 302
    assert SecurityEvent.objects.filter(kind="mfa_failed", username=staff.username).exists()


def test_customers_sign_in_with_a_password_and_may_add_a_code(client, customer):
    response = client.post("/login/", {"username": customer.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "Good to see you, Casey" in home.text

    page = client.get("/security/mfa/")
    device = TOTPDevice.objects.get(user=customer, confirmed=False)
    assert page.status_code == 200
    client.post("/security/mfa/", {"token": totp_code(device)})
    device.refresh_from_db()
    assert device.confirmed

    client.post("/logout/")
    response = client.post("/login/", {"username": customer.username, "password": PASSWORD})
    assert response["Location"].startswith("/login/verify/")
    assert client.get("/").status_code == 302  # the portal waits for the code
    response = client.post("/login/verify/", {"token": totp_code(device, offset=1)})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_wrong_password_shows_the_error_beside_the_password_field(client, customer):
    response = client.post("/login/", {"username": customer.username, "password": "nope"})
    assert response.status_code == 200
    assert 'id="id_password_error"' in response.text
    assert "The username or password is not correct." in response.text
    assert 'class="form-control is-invalid"' in response.text


def test_empty_form_shows_required_errors(client, db):
    response = client.post("/login/", {})
    assert response.status_code == 200
    assert response.text.count("This field is required.") == 2
