"""Navigation and the home page follow the role's permissions."""

from __future__ import annotations

import pytest

from apps.accounts.roles import Role

LINKS = {
    "chat": 'href="/staff/chat/"',
    "customers": 'href="/staff/customers/"',
    "canned": 'href="/staff/canned-responses/"',
    "audit": 'href="/staff/compliance/audit/"',
    "security": 'href="/staff/compliance/security-events/"',
    "backends": 'href="/staff/assistant/',
    "admin": 'href="/admin/"',
}

EXPECTED = {
    Role.SUPPORT_AGENT: {"chat", "customers", "canned"},
    Role.FRAUD_ANALYST: {"chat", "customers"},
    Role.KYC_OFFICER: {"customers"},
    Role.COMPLIANCE_OFFICER: {"chat", "customers", "audit", "security", "backends"},
    Role.ADMINISTRATOR: set(LINKS),
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(EXPECTED), ids=lambda role: role.value)
def test_navigation_shows_exactly_the_role_s_sections(staff_client, role):
    client, _ = staff_client(role)
    html = client.get("/staff/").text
    shown = {name for name, href in LINKS.items() if href in html}
    assert shown == EXPECTED[role]


@pytest.mark.django_db
def test_agent_home_shows_the_queue_and_their_open_conversations(staff_client, conversation):
    client, agent = staff_client(Role.SUPPORT_AGENT)
    conversation.assigned_agent = agent
    conversation.save()
    html = client.get("/staff/").text
    assert 'id="chat-queue"' in html
    assert '<dd class="col-5 text-end fw-semibold mb-1" data-metric="my-open">1</dd>' in html
    assert 'id="handoff-metrics"' in html
    assert 'id="security-counts"' not in html


@pytest.mark.django_db
def test_kyc_home_has_customer_search_but_no_chat_panels(staff_client):
    client, _ = staff_client(Role.KYC_OFFICER)
    html = client.get("/staff/").text
    assert 'id="home-q"' in html
    assert 'id="chat-queue"' not in html
    assert 'id="handoff-metrics"' not in html


@pytest.mark.django_db
def test_compliance_home_counts_security_events(staff_client, alice):
    from apps.accounts.customer_360 import customer_pii_reveal

    client, officer = staff_client(Role.COMPLIANCE_OFFICER)
    customer_pii_reveal(
        customer=alice, field_name="phone", reason="Fraud case 123 callback", actor=officer
    )
    html = client.get("/staff/").text
    assert 'data-metric="reveals">1</dd>' in html
    assert 'id="chat-queue"' in html  # supervisors see the queue
    assert 'data-metric="my-open"' not in html  # but hold no conversations
