"""Reconciliation, standing orders, settlement by the worker, loan pre-qualification."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.accounts.errors import PaymentInvalid
from apps.accounts.models import Account, JournalEntry, Payment
from apps.accounts.services.ledger import Leg, accounts_lock, internal_account, journal_entry_post
from apps.accounts.services.loans import loan_prequalify
from apps.accounts.services.payees import payee_create
from apps.accounts.services.payments import payment_create
from apps.accounts.services.standing_orders import standing_order_create, standing_orders_run_due
from tests.factories import account_make, customer_make


@pytest.fixture
def alice(db):
    customer = customer_make(username="alice_l")
    customer.checking = account_make(customer, balance="2000.00")
    return customer


def test_reconcile_passes_on_a_clean_ledger_and_names_a_drifting_account(alice):
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert "every balance matches" in out.getvalue()

    Account.objects.filter(pk=alice.checking.pk).update(balance_minor=123)  # a bug elsewhere
    out = StringIO()
    with pytest.raises(CommandError, match="1 drifting account"):
        call_command("reconcile", stdout=out)
    assert f"DRIFT account {alice.checking.pk}" in out.getvalue()


def test_a_standing_order_pays_once_per_due_date(alice):
    payee = payee_create(customer=alice, name="Landlord", iban="GB29NWBK60161331926819")
    today = timezone.localdate()
    order = standing_order_create(
        customer=alice,
        from_account_id=alice.checking.pk,
        payee_id=payee.pk,
        amount="500.00",
        frequency="monthly",
        first_run_on=today,
        reference="Rent",
    )
    assert standing_orders_run_due(today=today) == 1
    assert standing_orders_run_due(today=today) == 0
    payment = Payment.objects.get(standing_order=order)
    assert payment.amount == Decimal("500.00")
    assert payment.to_name == "Landlord"
    order.refresh_from_db()
    assert order.next_run_on > today
    alice.checking.refresh_from_db()
    assert alice.checking.balance == Decimal("1500.00")


def test_a_standing_order_without_money_skips_that_date_and_writes_nothing(db):
    customer = customer_make(username="poor")
    customer.checking = account_make(customer, balance="10.00")
    payee = payee_create(customer=customer, name="Gym", iban="GB29NWBK60161331926819")
    today = timezone.localdate()
    standing_order_create(
        customer=customer,
        from_account_id=customer.checking.pk,
        payee_id=payee.pk,
        amount="50.00",
        frequency="weekly",
        first_run_on=today,
    )
    standing_orders_run_due(today=today)
    assert not Payment.objects.exists()


def test_a_standing_order_rejects_bad_input(alice):
    with pytest.raises(PaymentInvalid) as error:
        standing_order_create(
            customer=alice,
            from_account_id=alice.checking.pk,
            payee_id=999,
            amount="-1",
            frequency="daily",
            first_run_on=timezone.localdate() - timedelta(days=1),
        )
    assert set(error.value.fields) == {"payee", "frequency", "first_run_on", "amount"}


@pytest.mark.worker
def test_the_worker_settles_payments_to_other_banks(celery_worker, db):
    from apps.accounts.tasks import payments_settle_external_task

    customer = customer_make(username="ext")
    checking = account_make(customer, balance="100.00")
    payment, _ = payment_create(
        customer=customer,
        actor=customer.user,
        from_account_id=checking.pk,
        amount="40.00",
        currency="GBP",
        idempotency_key="ext-1",
        to_iban="DE89370400440532013000",
    )
    assert payment.status == Payment.Status.PENDING
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert payments_settle_external_task.delay().get(timeout=30) == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.COMPLETED
    assert payment.completed_at is not None
    # Nobody asked for the settlement: the bank's system account is its audit actor.
    entry = LogEntry.objects.get_for_object(payment).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor.username == "system"
    assert not entry.actor.is_active


def _salary(account, amount_minor, days_ago):
    income = internal_account(purpose="incoming_payments", currency=account.currency)
    from django.db import transaction

    with transaction.atomic():
        locked = accounts_lock(ids=[account.pk, income.pk])
        journal_entry_post(
            kind=JournalEntry.Kind.INCOMING,
            description="Salary",
            booked_at=timezone.now() - timedelta(days=days_ago),
            legs=[
                Leg(locked[income.pk], -amount_minor, "Salary"),
                Leg(locked[account.pk], amount_minor, "Salary"),
            ],
        )


def test_loan_prequalification_with_income_to_match(alice):
    for days_ago in (10, 40, 70):
        _salary(alice.checking, 300_000, days_ago)
    result = loan_prequalify(customer=alice, stated_annual_income="36000")
    assert result.eligible
    assert 0 < result.min_amount_minor < result.max_amount_minor
    assert result.inflow_90d_minor >= 900_000
    assert any("pre-qualify" in reason for reason in result.reasons)


def test_loan_prequalification_refuses_income_the_account_does_not_show(alice):
    result = loan_prequalify(customer=alice, stated_annual_income="250000")
    assert not result.eligible
    assert result.max_amount_minor == 0
    assert any("do not support" in reason for reason in result.reasons)


def test_loan_prequalification_rejects_a_bad_income(alice):
    for bad in ("-1", "abc", "12.345"):
        with pytest.raises(PaymentInvalid) as error:
            loan_prequalify(customer=alice, stated_annual_income=bad)
        assert "stated_annual_income" in error.value.fields
