"""Canned responses: list, create, edit, deactivate; audited; one permission."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry

from apps.accounts.roles import Role
from apps.chat.canned import canned_response_list_active, canned_responses_demo_seed
from apps.chat.models import CannedResponse

pytestmark = pytest.mark.django_db


def test_create_edit_deactivate_and_reactivate(staff_client):
    client, agent = staff_client(Role.SUPPORT_AGENT)
    assert client.get("/staff/canned-responses/").status_code == 200
    assert client.get("/staff/canned-responses/new/").status_code == 200

    response = client.post(
        "/staff/canned-responses/new/", {"title": "Greeting", "text": "Hello, how can I help?"}
    )
    assert response.status_code == 302
    reply = CannedResponse.objects.get()
    assert (reply.title, reply.text, reply.active, reply.updated_by) == (
        "Greeting",
        "Hello, how can I help?",
        True,
        agent,
    )
    assert "Greeting" in client.get("/staff/canned-responses/").text

    response = client.post(
        f"/staff/canned-responses/{reply.pk}/", {"title": "Greeting", "text": "Hi there!"}
    )
    assert response.status_code == 302
    reply.refresh_from_db()
    assert reply.text == "Hi there!"

    client.post(f"/staff/canned-responses/{reply.pk}/active/", {"active": "0"})
    reply.refresh_from_db()
    assert reply.active is False
    assert list(canned_response_list_active()) == []
    client.post(f"/staff/canned-responses/{reply.pk}/active/", {"active": "1"})
    reply.refresh_from_db()
    assert reply.active is True

    entries = LogEntry.objects.get_for_object(reply)
    assert entries.count() == 4
    assert {entry.actor for entry in entries} == {agent}


def test_duplicate_title_and_empty_text_are_field_errors(staff_client):
    client, _ = staff_client(Role.ADMINISTRATOR)
    client.post("/staff/canned-responses/new/", {"title": "Greeting", "text": "Hello"})
    response = client.post("/staff/canned-responses/new/", {"title": "greeting", "text": "Hi"})
    assert response.status_code == 400
    assert "Another reply has this title." in response.text
    response = client.post("/staff/canned-responses/new/", {"title": "Other", "text": "  "})
    assert response.status_code == 400
    assert CannedResponse.objects.count() == 1


@pytest.mark.parametrize("role", [Role.FRAUD_ANALYST, Role.KYC_OFFICER, Role.COMPLIANCE_OFFICER])
def test_roles_without_the_permission_are_refused(staff_client, role):
    reply = CannedResponse.objects.create(title="Closing", text="Bye")
    client, _ = staff_client(role)
    assert client.get("/staff/canned-responses/").status_code == 403
    response = client.post("/staff/canned-responses/new/", {"title": "X", "text": "Y"})
    assert response.status_code == 403
    response = client.post(f"/staff/canned-responses/{reply.pk}/active/", {"active": "0"})
    assert response.status_code == 403
    assert list(CannedResponse.objects.values_list("title", "active")) == [("Closing", True)]


def test_demo_seed_is_idempotent():
    assert canned_responses_demo_seed() == 5
    assert canned_responses_demo_seed() == 0
    assert CannedResponse.objects.filter(active=True).count() == 5
