"""Repeated failed sign-ins lock the username; staff see it, unlock it, and both are audited."""

from __future__ import annotations

from auditlog.models import LogEntry
from django.conf import settings

from apps.compliance.models import SecurityEvent
from tests.helpers import PASSWORD


def _fail(client, username, times, path="/login/"):
    for _ in range(times):
        client.post(path, {"username": username, "password": "wrong password"})


def test_the_fifth_failure_locks_the_username(client, customer):
    _fail(client, customer.username, settings.AXES_FAILURE_LIMIT)
    response = client.post("/login/", {"username": customer.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.text
    assert "_auth_user_id" not in client.session

    event = SecurityEvent.objects.get(kind="login_locked_out", username=customer.username)
    assert LogEntry.objects.get_for_object(event).filter(action=LogEntry.Action.CREATE).exists()


def test_the_api_answers_a_lockout_in_the_error_shape(client, customer):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            "/api/v1/auth/token/",
            {"username": customer.username, "password": "wrong"},
            content_type="application/json",
        )
    response = client.post(
        "/api/v1/auth/token/",
        {"username": customer.username, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    assert int(response["Retry-After"]) > 0


def test_staff_see_the_lockout_and_an_administrator_unlocks_it(
    client, customer, administrator, verified_client, django_user_model
):
    _fail(client, customer.username, settings.AXES_FAILURE_LIMIT)
    client.logout()

    staff_client = verified_client(administrator)
    page = staff_client.get("/staff/security/lockouts/")
    assert page.status_code == 200
    assert f"Unlock {customer.username}" in page.text

    response = staff_client.post(
        "/staff/security/lockouts/unlock/", {"username": customer.username}, follow=True
    )
    assert f"{customer.username} can sign in again." in response.text
    unlock = SecurityEvent.objects.get(kind="login_unlocked", username=customer.username)
    assert unlock.actor == administrator
    entry = LogEntry.objects.get_for_object(unlock).get()
    assert entry.actor == administrator

    staff_client.logout()
    response = client.post("/login/", {"username": customer.username, "password": PASSWORD})
    assert response.status_code == 302


def test_unlocking_an_unknown_username_says_so(verified_client, administrator):
    client = verified_client(administrator)
    response = client.post("/staff/security/lockouts/unlock/", {"username": "nobody"}, follow=True)
    assert "There is no lockout for that username." in response.text
    assert not SecurityEvent.objects.filter(kind="login_unlocked").exists()


def test_a_compliance_officer_sees_lockouts_but_cannot_unlock(client, make_user, verified_client):
    from apps.accounts.roles import Role

    officer = make_user(Role.COMPLIANCE_OFFICER)
    staff_client = verified_client(officer)
    assert staff_client.get("/staff/security/lockouts/").status_code == 200
    response = staff_client.post("/staff/security/lockouts/unlock/", {"username": "x"})
    assert response.status_code == 403
