"""Transcript export: masked by default, unmasked only with a recorded reason."""

from __future__ import annotations

import pytest

from apps.accounts.roles import Role
from apps.compliance.models import SecurityEvent
from tests.backoffice.conftest import PHONE

pytestmark = pytest.mark.django_db


def test_masked_export_has_placeholders_notes_and_no_pii(staff_client, conversation):
    client, _ = staff_client(Role.COMPLIANCE_OFFICER)
    response = client.get(f"/staff/chat/{conversation.pk}/transcript.txt")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"] == (
        f'attachment; filename="transcript-{conversation.pk}.txt"'
    )
    text = response.content.decode()
    assert PHONE not in text
    assert "900123" not in text
    assert "Please change my phone, the old one is [PHONE_NUMBER_1]" in text
    assert "Agent Amira (amira):\n    Hi, I can help with [PHONE_NUMBER_1]." in text
    assert "INTERNAL NOTE by Amira (amira)" in text
    assert "Verified by security questions." in text
    assert "Andersen" not in text  # the masked header names the customer by id and username
    assert not SecurityEvent.objects.exists()
    # Oldest first: the customer wrote before the agent answered.
    assert text.index("Customer:") < text.index("Assistant:") < text.index("Agent Amira")


def test_unmasked_export_without_reason_is_refused(staff_client, conversation):
    client, _ = staff_client(Role.COMPLIANCE_OFFICER)
    response = client.post(f"/staff/chat/{conversation.pk}/transcript.txt", {"reason": "audit"})
    assert response.status_code == 400
    assert 'id="id_reason_error"' in response.text
    assert PHONE not in response.text
    assert not SecurityEvent.objects.exists()


def test_unmasked_export_with_reason_records_an_event(staff_client, conversation):
    client, officer = staff_client(Role.COMPLIANCE_OFFICER)
    reason = "Subject access request SAR-2291"
    response = client.post(f"/staff/chat/{conversation.pk}/transcript.txt", {"reason": reason})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "-unmasked.txt" in response["Content-Disposition"]
    text = response.content.decode()
    assert f"Please change my phone, the old one is {PHONE}" in text
    assert "Alice Andersen" in text
    assert f"Reason given: {reason}" in text
    assert "INTERNAL NOTE" in text

    event = SecurityEvent.objects.get()
    assert event.kind == SecurityEvent.Kind.TRANSCRIPT_REVEALED
    assert event.actor == officer
    assert event.details == {
        "conversation_id": str(conversation.pk),
        "customer_id": conversation.customer_id,
        "reason": reason,
    }


def test_export_page_offers_both(staff_client, conversation):
    client, _ = staff_client(Role.ADMINISTRATOR)
    response = client.get(f"/staff/chat/{conversation.pk}/transcript/")
    assert response.status_code == 200
    assert f'href="/staff/chat/{conversation.pk}/transcript.txt"' in response.text
    assert 'name="reason"' in response.text


@pytest.mark.parametrize("role", [Role.SUPPORT_AGENT, Role.KYC_OFFICER, Role.FRAUD_ANALYST])
def test_roles_without_the_permission_cannot_export(staff_client, conversation, role):
    client, _ = staff_client(role)
    assert client.get(f"/staff/chat/{conversation.pk}/transcript.txt").status_code == 403
    response = client.post(
        f"/staff/chat/{conversation.pk}/transcript.txt", {"reason": "I want to see everything"}
    )
    assert response.status_code == 403
    assert not SecurityEvent.objects.exists()


def test_unknown_conversation_is_404(staff_client):
    client, _ = staff_client(Role.COMPLIANCE_OFFICER)
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.get(f"/staff/chat/{missing}/transcript.txt").status_code == 404
