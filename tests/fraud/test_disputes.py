"""Disputes: a customer disputes their own debits, one open dispute per transaction."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry

from apps.accounts.errors import NotFound
from apps.accounts.models import JournalEntry, Posting
from apps.fraud.errors import DisputeExists, DisputeInvalid
from apps.fraud.models import Dispute
from apps.fraud.services import dispute_open
from tests.factories import account_make, customer_make, ledger_book


def card_payment(account, minor: int = -1240, description: str = "Corner Cafe") -> Posting:
    ledger_book(account, minor, description, kind=JournalEntry.Kind.CARD)
    return Posting.objects.filter(account=account).first()


@pytest.fixture
def alice(db):
    customer = customer_make(username="alice_d", first_name="Alice", last_name="Dispute")
    customer.checking = account_make(customer, balance="100.00")
    return customer


@pytest.fixture
def bob(db):
    customer = customer_make(username="bob_d", first_name="Bob", last_name="Dispute")
    customer.checking = account_make(customer, balance="100.00")
    return customer


def test_a_customer_disputes_their_own_card_payment(alice):
    posting = card_payment(alice.checking)

    dispute = dispute_open(
        customer=alice,
        posting_id=posting.pk,
        reason=Dispute.Reason.UNAUTHORISED,
        description="  I was at home that day.  ",
        opened_by=alice.user,
    )

    dispute.refresh_from_db()
    assert dispute.customer == alice
    assert dispute.posting == posting
    assert dispute.status == Dispute.Status.OPEN
    assert dispute.description == "I was at home that day."
    assert dispute.opened_by == alice.user
    assert LogEntry.objects.get_for_object(dispute).count() == 1  # audited


def test_another_customers_transaction_is_not_found(alice, bob):
    posting = card_payment(bob.checking)

    with pytest.raises(NotFound):
        dispute_open(
            customer=alice,
            posting_id=posting.pk,
            reason=Dispute.Reason.UNAUTHORISED,
            opened_by=alice.user,
        )
    assert not Dispute.objects.exists()


@pytest.mark.parametrize("posting_id", [0, -1, 10**12, "5", None, True])
def test_a_missing_or_malformed_id_is_not_found(alice, posting_id):
    with pytest.raises(NotFound):
        dispute_open(customer=alice, posting_id=posting_id, reason="other", opened_by=alice.user)


def test_one_open_dispute_per_transaction(alice):
    posting = card_payment(alice.checking)
    first = dispute_open(
        customer=alice, posting_id=posting.pk, reason="duplicate", opened_by=alice.user
    )

    with pytest.raises(DisputeExists) as error:
        dispute_open(customer=alice, posting_id=posting.pk, reason="other", opened_by=alice.user)
    assert error.value.code == "dispute_exists"
    assert "already being disputed" in error.value.message

    first.status = Dispute.Status.INVESTIGATING
    first.save()
    with pytest.raises(DisputeExists):
        dispute_open(customer=alice, posting_id=posting.pk, reason="other", opened_by=alice.user)

    first.status = Dispute.Status.RESOLVED_BANK
    first.save()
    again = dispute_open(
        customer=alice, posting_id=posting.pk, reason="other", opened_by=alice.user
    )
    assert again.is_active
    assert Dispute.objects.count() == 2


def test_the_database_refuses_a_second_active_dispute(alice):
    """The partial unique constraint decides a race the read-then-write check cannot."""
    from django.db import IntegrityError, transaction

    posting = card_payment(alice.checking)
    dispute_open(customer=alice, posting_id=posting.pk, reason="other", opened_by=alice.user)
    with pytest.raises(IntegrityError), transaction.atomic():
        Dispute.objects.create(
            customer=alice, posting=posting, reason="other", opened_by=alice.user
        )


def test_money_received_cannot_be_disputed(alice):
    ledger_book(alice.checking, 5000, "Salary", kind=JournalEntry.Kind.INCOMING)
    credit = Posting.objects.filter(account=alice.checking).first()

    with pytest.raises(DisputeInvalid) as error:
        dispute_open(customer=alice, posting_id=credit.pk, reason="other", opened_by=alice.user)
    assert "posting" in error.value.fields
    assert not Dispute.objects.exists()


def test_an_unknown_reason_and_a_long_description_are_field_errors(alice):
    posting = card_payment(alice.checking)

    with pytest.raises(DisputeInvalid) as error:
        dispute_open(
            customer=alice,
            posting_id=posting.pk,
            reason="because",
            description="x" * 2001,
            opened_by=alice.user,
        )
    assert set(error.value.fields) == {"reason", "description"}
    assert not Dispute.objects.exists()
