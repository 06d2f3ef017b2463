"""Sign-in lockout counts failures per username at an address and per address.

One address trying many usernames is locked (429 + Retry-After on the API, a message on
the form); an attacker elsewhere cannot lock a real person out; an administrator can unlock
an address, and that is audited.
"""

from __future__ import annotations

from axes.models import AccessAttempt
from django.conf import settings

from apps.accounts.roles import Role
from apps.compliance.models import SecurityEvent
from tests.helpers import PASSWORD

ATTACKER = "203.0.113.9"
OFFICE = "198.51.100.20"


def _spray(client, count, path="/login/", address=ATTACKER):
    for number in range(count):
        client.post(
            path,
            {"username": f"someone{number}", "password": "Winter2026!"},
            REMOTE_ADDR=address,
        )


def test_many_usernames_from_one_address_lock_that_address_on_the_form(client, customer):
    # A few failures from one address (an office behind one NAT address) lock nothing...
    _spray(client, settings.AXES_FAILURE_LIMIT)
    response = client.post("/login/", {"username": "x", "password": "y"}, REMOTE_ADDR=ATTACKER)
    assert response.status_code == 200
    # ...many usernames from it do.
    _spray(client, settings.AXES_ADDRESS_FAILURE_LIMIT)

    # Even the right password of a real customer is refused from that address now.
    response = client.post(
        "/login/", {"username": customer.username, "password": PASSWORD}, REMOTE_ADDR=ATTACKER
    )
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.text
    assert "_auth_user_id" not in client.session

    # The customer at their own address is not affected.
    client.cookies.clear()
    response = client.post(
        "/login/", {"username": customer.username, "password": PASSWORD}, REMOTE_ADDR=OFFICE
    )
    assert response.status_code == 302


def test_spraying_the_api_gets_429_with_retry_after_in_the_error_shape(client, customer):
    for number in range(settings.AXES_ADDRESS_FAILURE_LIMIT):
        client.post(
            "/api/v1/auth/token/",
            {"username": f"someone{number}", "password": "Winter2026!"},
            content_type="application/json",
            REMOTE_ADDR=ATTACKER,
        )
    response = client.post(
        "/api/v1/auth/token/",
        {"username": customer.username, "password": PASSWORD},
        content_type="application/json",
        REMOTE_ADDR=ATTACKER,
    )
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "locked_out"
    assert set(body) == {"code", "message", "fields"}
    assert int(response["Retry-After"]) > 0


def test_a_success_does_not_reset_the_address_count_for_other_usernames(client, make_user):
    accomplice = make_user(Role.CUSTOMER)
    _spray(client, settings.AXES_ADDRESS_FAILURE_LIMIT - 1)
    # The attacker signs in with an account of their own, then sprays on.
    response = client.post(
        "/login/", {"username": accomplice.username, "password": PASSWORD}, REMOTE_ADDR=ATTACKER
    )
    assert response.status_code == 302
    client.post("/logout/")
    client.post("/login/", {"username": "another", "password": "x"}, REMOTE_ADDR=ATTACKER)
    response = client.post(
        "/login/", {"username": "yet-another", "password": "x"}, REMOTE_ADDR=ATTACKER
    )
    assert response.status_code == 429


def test_an_attacker_on_the_public_page_cannot_lock_staff_out(client, staff, verified_client):
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        client.post(
            "/login/", {"username": staff.username, "password": "guess"}, REMOTE_ADDR=ATTACKER
        )
    client.cookies.clear()
    # The member of staff signs in to the back office from their own address.
    signed_in = verified_client(staff)
    assert signed_in.get("/staff/").status_code == 200


def test_staff_see_a_locked_address_and_unlock_it(client, administrator, customer, verified_client):
    _spray(client, settings.AXES_ADDRESS_FAILURE_LIMIT)
    assert AccessAttempt.objects.filter(ip_address=ATTACKER).exists()
    client.cookies.clear()

    staff_client = verified_client(administrator)
    page = staff_client.get("/staff/security/lockouts/")
    assert f"Unlock {ATTACKER}" in page.text

    response = staff_client.post(
        "/staff/security/lockouts/unlock/", {"ip_address": ATTACKER}, follow=True
    )
    assert f"{ATTACKER} can sign in again." in response.text
    event = SecurityEvent.objects.get(kind="login_unlocked", ip_address=ATTACKER)
    assert event.actor == administrator

    staff_client.post("/staff/logout/")
    response = client.post(
        "/login/", {"username": customer.username, "password": PASSWORD}, REMOTE_ADDR=ATTACKER
    )
    assert response.status_code == 302


def test_unlocking_a_malformed_address_says_so(verified_client, administrator):
    staff_client = verified_client(administrator)
    response = staff_client.post(
        "/staff/security/lockouts/unlock/", {"ip_address": "not an address"}, follow=True
    )
    assert response.status_code == 200
    assert "There is no lockout for that address." in response.text
