"""Every back-office page renders for every staff role on the demo data: no server error,
and each page a role may open shows its main content (a <main> landmark with an <h1>).

The pages are found by walking the URL conf (tests/accounts/test_staff_access.py), with
the URL arguments taken from the demo data: real customer, conversation and canned
response ids. The demo staff sign in the way a person does: password, then TOTP code.
"""

from __future__ import annotations

from html.parser import HTMLParser
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils.html import escape
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.models import Customer, User
from apps.chat.models import CannedResponse, Conversation
from tests.helpers import totp_code

pytestmark = pytest.mark.django_db

# One demo member of staff per role (apps/accounts/demo.py).
DEMO_STAFF = ["agent", "analyst", "kyc", "compliance", "admin"]
# Signing out is not a page; the sign-in and code pages are covered in tests/accounts.
SKIPPED = ("/logout/", "/staff/login/", "/staff/mfa/")


class _Landmarks(HTMLParser):
    """The text of the <h1> elements inside <main>."""

    def __init__(self):
        super().__init__()
        self.in_main = 0
        self.in_h1 = False
        self.main_seen = False
        self.headings: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "main":
            self.in_main += 1
            self.main_seen = True
        elif tag == "h1" and self.in_main:
            self.in_h1 = True
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag == "main":
            self.in_main -= 1
        elif tag == "h1":
            self.in_h1 = False

    def handle_data(self, data):
        if self.in_h1:
            self.headings[-1] += data


def main_headings(html: str) -> list[str]:
    parser = _Landmarks()
    parser.feed(html)
    assert parser.main_seen, "no <main> landmark"
    return [" ".join(h.split()) for h in parser.headings if h.strip()]


def _signed_in(username: str) -> Client:
    """The demo member of staff, signed in with the demo password and their TOTP code."""
    client = Client(raise_request_exception=False)
    response = client.post(
        "/staff/login/", {"username": username, "password": settings.DEMO_PASSWORD}
    )
    assert response.status_code == 302, username
    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    response = client.post("/staff/mfa/verify/", {"token": totp_code(device)})
    assert response.status_code == 302, username
    assert client.get("/staff/").status_code == 200, username
    return client


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=StringIO())
    conversations = Conversation.objects.order_by("created_at")
    assert conversations.exists(), "the demo data should hold conversations"
    return {
        "customers": list(Customer.objects.select_related("user").order_by("pk")),
        "conversation": conversations.filter(assigned_agent__username="agent").first(),
        "canned": CannedResponse.objects.order_by("pk").first(),
    }


def _staff_paths(monkeypatch, demo) -> list[str]:
    from tests.accounts import test_staff_access as walker

    values = {
        "customer_id": str(demo["customers"][0].pk),
        "conversation_id": str(demo["conversation"].pk),
        "canned_id": str(demo["canned"].pk),
        "object_id": str(User.objects.get(username="alice").pk),
        "pk": str(TOTPDevice.objects.get(user__username="agent").pk),
    }
    for name, value in values.items():
        monkeypatch.setitem(walker.SAMPLE_VALUES, name, value)
    paths = walker.staff_side_paths()
    return [p for p in paths if not p.startswith(SKIPPED) and not p.endswith(SKIPPED)]


def test_every_staff_page_renders_for_every_role(monkeypatch, demo):
    paths = _staff_paths(monkeypatch, demo)
    assert len(paths) > 50, "the walker no longer finds the back office"
    rendered: dict[str, set[str]] = {}
    failures = []
    for username in DEMO_STAFF:
        client = _signed_in(username)
        for path in paths:
            response = client.get(path)
            if response.status_code >= 500:
                failures.append(f"{username} GET {path}: {response.status_code}")
                continue
            if response.status_code != 200:
                continue
            content_type = response.get("Content-Type", "")
            body = b"".join(response) if response.streaming else response.content
            if content_type.startswith("text/html"):
                headings = main_headings(body.decode())
                if not headings:
                    failures.append(f"{username} GET {path}: no <h1> in <main>")
                    continue
            elif not body.strip():
                failures.append(f"{username} GET {path}: an empty {content_type} body")
                continue
            rendered.setdefault(username, set()).add(path)
    assert not failures, "\n".join(failures)
    # The pages each role works in rendered (a walker that silently stopped finding pages,
    # or a role that lost its pages, fails here), and in all a good part of the back office
    # and the admin (admin change pages depend on which ids exist, so only a floor).
    customer_360 = f"/staff/customers/{demo['customers'][0].pk}/"
    console = f"/staff/chat/{demo['conversation'].pk}/"
    expected = {
        "agent": {"/staff/", "/staff/customers/", customer_360, "/staff/chat/", console},
        "analyst": {"/staff/", "/staff/customers/", customer_360, "/staff/chat/"},
        "kyc": {"/staff/", "/staff/customers/", customer_360},
        "compliance": {"/staff/", customer_360, "/staff/compliance/audit/"},
        "admin": {"/staff/", customer_360, "/staff/compliance/audit/", "/admin/"},
    }
    for username, pages in expected.items():
        missing = pages - rendered.get(username, set())
        assert not missing, (username, sorted(missing))
    assert sum(len(pages) for pages in rendered.values()) >= 60
    assert len([p for p in rendered["admin"] if p.startswith("/admin/")]) >= 20
    # Not even the administrator sees another member of staff's TOTP secret or QR code.
    device = TOTPDevice.objects.get(user__username="agent")
    for page in ("config", "qrcode"):
        path = f"/admin/otp_totp/totpdevice/{device.pk}/{page}/"
        assert path in paths
        assert path not in rendered["admin"]


@pytest.mark.parametrize("username", ["agent", "analyst", "kyc", "compliance", "admin"])
def test_customer_360_renders_every_demo_customer(demo, username):
    client = _signed_in(username)
    for customer in demo["customers"]:
        response = client.get(f"/staff/customers/{customer.pk}/")
        assert response.status_code == 200, (username, customer.user.username)
        html = response.text
        assert main_headings(html)[0] == customer.full_name
        for account in customer.accounts.all():
            assert account.masked_number in html
        for conversation in customer.conversations.all():
            assert escape(conversation.title) in html
