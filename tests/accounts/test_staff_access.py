"""Every staff and admin URL is closed to anyone without a verified OTP device."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.roles import STAFF_ROLES, Role
from tests.helpers import PASSWORD

SAMPLE_VALUES = {"app_label": "accounts", "url": "anything/"}


def _concrete(pattern) -> str:
    """Turn one URL pattern into a path that it matches, with sample argument values."""
    if isinstance(pattern, RoutePattern):
        return re.sub(
            r"<(?:(\w+):)?(\w+)>", lambda m: SAMPLE_VALUES.get(m.group(2), "1"), str(pattern)
        )
    assert isinstance(pattern, RegexPattern)
    regex = str(pattern.regex.pattern).lstrip("^").rstrip("$").replace("\\Z", "")

    def group(match):
        name = match.group(1)
        if name in SAMPLE_VALUES:
            return SAMPLE_VALUES[name]
        body = match.group(2)
        return body.split("|")[0] if re.fullmatch(r"[\w|]+", body) else "1"

    regex = re.sub(r"\(\?P<(\w+)>([^)]*)\)", group, regex)
    return regex.replace("\\", "")


def _walk(patterns, prefix=""):
    for entry in patterns:
        path = prefix + _concrete(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, path)
        elif isinstance(entry, URLPattern):
            yield "/" + path


def staff_side_paths() -> list[str]:
    every_path = _walk(get_resolver().url_patterns)
    return sorted({p for p in every_path if p.startswith(("/staff/", "/admin/"))})


STAFF_PATHS = staff_side_paths()
OPEN_PATHS = {
    "/staff/login/",
    "/staff/logout/",
    # A forgotten password: the link only ever sets a password, it never signs anyone in.
    "/staff/password-reset/",
    "/staff/password-reset/sent/",
    "/staff/password-reset/1/1/",
    "/staff/password-reset/done/",
}
MFA_PATHS = {"/staff/mfa/enrol/", "/staff/mfa/verify/"}


def test_the_walk_covers_the_back_office_and_the_admin():
    # If this fails, the walker no longer finds the URLs it is meant to guard.
    assert "/staff/" in STAFF_PATHS
    assert "/staff/compliance/audit/" in STAFF_PATHS
    assert "/admin/" in STAFF_PATHS
    assert "/admin/accounts/user/1/change/" in STAFF_PATHS
    assert len([p for p in STAFF_PATHS if p.startswith("/admin/")]) > 40


def _signed_in(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", sorted(STAFF_ROLES))
def test_staff_without_a_device_never_get_a_page(client, make_user, role):
    user = make_user(Role(role))
    _signed_in(client, user)
    for path in STAFF_PATHS:
        if path in OPEN_PATHS | MFA_PATHS:
            continue
        for method in (client.get, client.post):
            response = method(path)
            assert response.status_code != 200, f"{method.__name__.upper()} {path} answered 200"
            if response.status_code == 302:
                assert response["Location"].startswith("/staff/mfa/enrol/"), path


def test_staff_with_an_unverified_device_are_asked_for_a_code(client, administrator):
    TOTPDevice.objects.create(user=administrator, name="phone", confirmed=True)
    _signed_in(client, administrator)
    for path in STAFF_PATHS:
        if path in OPEN_PATHS | MFA_PATHS:
            continue
        response = client.get(path)
        assert response.status_code != 200, path
        if response.status_code == 302:
            assert response["Location"].startswith("/staff/mfa/verify/"), path


def test_customers_get_403_on_every_staff_url(client, customer):
    _signed_in(client, customer)
    for path in STAFF_PATHS:
        if path in OPEN_PATHS:
            continue
        response = client.get(path)
        assert response.status_code in (403, 404), f"{path}: {response.status_code}"


def test_anonymous_visitors_are_sent_to_the_staff_sign_in(client):
    for path in STAFF_PATHS:
        if path in OPEN_PATHS:
            continue
        response = client.get(path)
        assert response.status_code in (302, 404), path
        if response.status_code == 302:
            assert response["Location"].startswith("/staff/login/"), path


def test_staff_are_not_customers(client, staff):
    _signed_in(client, staff)
    assert client.get("/").status_code == 403
    assert client.get("/security/mfa/").status_code == 403


def test_verified_staff_reach_the_back_office(verified_client, staff):
    client = verified_client(staff)
    response = client.get("/staff/")
    assert response.status_code == 200
    assert "Signed in as Support agent with MFA" in response.text
    # A support agent has no audit-trail permission.
    assert client.get("/staff/compliance/audit/").status_code == 403
    assert client.get("/admin/").status_code == 403


def test_verified_administrator_reaches_the_admin(verified_client, administrator):
    client = verified_client(administrator)
    assert client.get("/admin/").status_code == 200
    assert client.get("/staff/compliance/audit/").status_code == 200


def test_customer_credentials_are_refused_at_the_staff_sign_in(client, customer):
    response = client.post("/staff/login/", {"username": customer.username, "password": PASSWORD})
    assert response.status_code == 200
    assert "This sign-in is for bank staff" in response.text
    assert "_auth_user_id" not in client.session


def test_staff_credentials_are_refused_at_the_customer_sign_in(client, staff):
    response = client.post("/login/", {"username": staff.username, "password": PASSWORD})
    assert response.status_code == 200
    assert "Bank staff sign in at the staff sign-in page" in response.text
    assert "_auth_user_id" not in client.session
