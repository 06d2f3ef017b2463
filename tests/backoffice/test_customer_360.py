"""The customer 360: search, masked profile, reveal with a reason, the vulnerable flag."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from apps.accounts.models import Customer
from apps.accounts.roles import Role
from apps.compliance.models import SecurityEvent
from tests.backoffice.conftest import ADDRESS_LINE, EMAIL, NATIONAL_ID, PHONE, SSN

pytestmark = pytest.mark.django_db

RAW_VALUES = [SSN, "078051120", NATIONAL_ID, PHONE, "900123", EMAIL, ADDRESS_LINE, "1988-04-12"]


def _assert_no_raw_pii(html: str, *, except_value: str | None = None) -> None:
    for value in RAW_VALUES:
        if value != except_value:
            assert value not in html, value


def test_360_masks_every_personal_field(staff_client, alice, conversation):
    client, _ = staff_client(Role.SUPPORT_AGENT)
    response = client.get(f"/staff/customers/{alice.pk}/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.text
    _assert_no_raw_pii(html)
    assert "•••-••-1120" in html
    assert "•••••••6C" in html
    assert "+•• •••• •••123" in html
    assert "a••••@example.com" in html
    assert "••/••/1988" in html
    assert "London, N1 •••" in html
    # Accounts, cards, transactions, conversations.
    account = alice.accounts.get()
    assert account.masked_number in html
    assert account.number not in html
    assert "•••• •••• •••• 4242" in html
    assert "Tesco" in html
    assert f'href="/staff/chat/{conversation.pk}/"' in html
    assert ">Amira<" in html


def test_search_by_username_name_and_account_number(staff_client, alice):
    client, _ = staff_client(Role.KYC_OFFICER)
    number = alice.accounts.get().number
    for query in ["alic", "Andersen", "alice andersen", number[-4:], number]:
        html = client.get("/staff/customers/", {"q": query}).text
        assert f'href="/staff/customers/{alice.pk}/"' in html, query


def test_search_never_matches_personal_data(staff_client, alice):
    client, _ = staff_client(Role.SUPPORT_AGENT)
    for query in [SSN, "1120", "078051120", PHONE, "900123", NATIONAL_ID, EMAIL]:
        html = client.get("/staff/customers/", {"q": query}).text
        assert f'href="/staff/customers/{alice.pk}/"' not in html, query


def test_reveal_without_a_reason_is_refused_beside_the_field(staff_client, alice):
    client, _ = staff_client(Role.SUPPORT_AGENT)
    response = client.post(
        f"/staff/customers/{alice.pk}/reveal/", {"field": "ssn", "ssn-reason": "because"}
    )
    assert response.status_code == 400
    html = response.text
    assert 'id="id_ssn-reason_error"' in html
    assert "at least 10 characters" in html
    _assert_no_raw_pii(html)
    assert not SecurityEvent.objects.exists()


def test_reveal_with_a_reason_shows_the_value_once_and_records_it(staff_client, alice):
    client, agent = staff_client(Role.SUPPORT_AGENT)
    reason = "Customer asked to confirm SSN on call 4411"
    response = client.post(
        f"/staff/customers/{alice.pk}/reveal/", {"field": "ssn", "ssn-reason": reason}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.text
    assert html.count(SSN) == 1
    _assert_no_raw_pii(html, except_value=SSN)

    event = SecurityEvent.objects.get()
    assert event.kind == SecurityEvent.Kind.PII_REVEALED
    assert event.actor == agent
    assert event.username == "alice"
    assert event.details == {"customer_id": alice.pk, "field": "ssn", "reason": reason}
    assert SSN not in str(event.details)

    entry = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(SecurityEvent), object_pk=str(event.pk)
    )
    assert entry.actor == agent
    assert reason in str(entry.changes)
    assert SSN not in str(entry.changes)

    # Shown once: the page itself stays masked afterwards.
    assert SSN not in client.get(f"/staff/customers/{alice.pk}/").text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", PHONE),
        ("email", EMAIL),
        ("date_of_birth", "1988-04-12"),
        ("address", ADDRESS_LINE),
    ],
)
def test_each_masked_field_can_be_revealed(staff_client, alice, field, value):
    client, _ = staff_client(Role.FRAUD_ANALYST)
    response = client.post(
        f"/staff/customers/{alice.pk}/reveal/",
        {"field": field, f"{field}-reason": "Checking a disputed payment"},
    )
    assert response.status_code == 200
    assert value in response.text
    assert SecurityEvent.objects.get().details["field"] == field


def test_the_revealed_reveal_appears_in_the_audit_trail_page(staff_client, alice):
    agent_client, _ = staff_client(Role.SUPPORT_AGENT)
    agent_client.post(
        f"/staff/customers/{alice.pk}/reveal/",
        {"field": "phone", "phone-reason": "Call-back requested by customer"},
    )
    officer_client, _ = staff_client(Role.COMPLIANCE_OFFICER)
    html = officer_client.get("/staff/compliance/audit/", {"q": "security"}).text
    assert "Personal data revealed" in html or "pii_revealed" in html
    assert "Call-back requested by customer" in html
    assert PHONE not in html


def test_kyc_officer_sees_the_360_but_cannot_reveal(staff_client, alice):
    client, _ = staff_client(Role.KYC_OFFICER)
    response = client.get(f"/staff/customers/{alice.pk}/")
    assert response.status_code == 200
    assert "Reveal and record" not in response.text
    assert 'action="/staff/customers/' not in response.text  # no reveal or flag forms
    response = client.post(
        f"/staff/customers/{alice.pk}/reveal/",
        {"field": "ssn", "ssn-reason": "I would like to see it please"},
    )
    assert response.status_code == 403
    assert SSN not in response.text
    assert not SecurityEvent.objects.exists()


def test_unknown_field_and_unknown_customer(staff_client, alice):
    client, _ = staff_client(Role.SUPPORT_AGENT)
    response = client.post(
        f"/staff/customers/{alice.pk}/reveal/", {"field": "ssn_hash", "ssn_hash-reason": "x" * 20}
    )
    assert response.status_code == 400
    assert client.get(f"/staff/customers/{alice.pk + 999}/").status_code == 404
    assert not SecurityEvent.objects.exists()


def test_reveal_needs_post(staff_client, alice):
    client, _ = staff_client(Role.SUPPORT_AGENT)
    assert client.get(f"/staff/customers/{alice.pk}/reveal/").status_code == 405


def test_agent_flags_and_clears_vulnerable_with_an_audit_entry(staff_client, alice):
    client, agent = staff_client(Role.SUPPORT_AGENT)
    response = client.post(f"/staff/customers/{alice.pk}/vulnerable/", {"vulnerable": "1"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.vulnerable is True
    entry = LogEntry.objects.get_for_object(alice).get(action=LogEntry.Action.UPDATE)
    assert entry.changes_dict["vulnerable"] == ["False", "True"]
    assert entry.actor == agent
    client.post(f"/staff/customers/{alice.pk}/vulnerable/", {"vulnerable": "0"})
    alice.refresh_from_db()
    assert alice.vulnerable is False


def test_kyc_officer_cannot_flag_vulnerable(staff_client, alice):
    client, _ = staff_client(Role.KYC_OFFICER)
    response = client.post(f"/staff/customers/{alice.pk}/vulnerable/", {"vulnerable": "1"})
    assert response.status_code == 403
    assert Customer.objects.get(pk=alice.pk).vulnerable is False


def test_360_query_count_does_not_grow_with_rows(
    staff_client, alice, conversation, django_assert_max_num_queries
):
    client, _ = staff_client(Role.SUPPORT_AGENT)
    client.get(f"/staff/customers/{alice.pk}/")  # warm the session and permission caches
    with django_assert_max_num_queries(20):
        assert client.get(f"/staff/customers/{alice.pk}/").status_code == 200
