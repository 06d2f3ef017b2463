"""Payments and the ledger: money is never lost, created or double-spent."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test import override_settings

from apps.accounts.errors import (
    AccountNotOpen,
    IdempotencyKeyReused,
    InsufficientFunds,
    PaymentInvalid,
)
from apps.accounts.models import Account, JournalEntry, Payment, Posting
from apps.accounts.screening import Outcome, ScreeningDecision
from apps.accounts.selectors.ledger import ledger_balance_drifts, ledger_unbalanced_entries
from apps.accounts.services.payments import (
    payment_create,
    payment_release,
    payment_reverse,
    payments_settle_external,
)
from tests.factories import account_make, customer_make

EXTERNAL_IBAN = "DE89370400440532013000"


@pytest.fixture
def alice(db):
    customer = customer_make(username="alice_t", first_name="Alice", last_name="Test")
    customer.checking = account_make(customer, balance="500.00")
    customer.savings = account_make(customer, type=Account.Type.SAVINGS)
    return customer


@pytest.fixture
def bob(db):
    customer = customer_make(username="bob_t", first_name="Bob", last_name="Test")
    customer.checking = account_make(customer, balance="10.00")
    return customer


def pay(customer, *, key="k1", amount="25.00", **extra):
    extra.setdefault("to_account_id", None if "to_iban" in extra else customer.savings.pk)
    return payment_create(
        customer=customer,
        actor=customer.user,
        from_account_id=customer.checking.pk,
        amount=amount,
        currency="GBP",
        idempotency_key=key,
        **extra,
    )


def balance(account) -> Decimal:
    account.refresh_from_db()
    return account.balance


def ledger_snapshot():
    return (
        Payment.objects.count(),
        Posting.objects.count(),
        sorted(Account.objects.values_list("pk", "balance_minor")),
    )


def test_a_transfer_between_own_accounts_moves_the_money(alice):
    payment, created = pay(alice, reference="Savings")
    assert created
    assert payment.status == Payment.Status.COMPLETED
    assert payment.kind == Payment.Kind.OWN
    assert balance(alice.checking) == Decimal("475.00")
    assert balance(alice.savings) == Decimal("25.00")
    entry = payment.entries.get()
    assert sorted(entry.postings.values_list("amount_minor", flat=True)) == [-2500, 2500]
    assert ledger_balance_drifts() == []
    assert ledger_unbalanced_entries() == []


def test_the_payment_is_audited_with_its_actor(alice):
    payment, _ = pay(alice)
    entry = LogEntry.objects.get_for_object(payment).first()
    assert entry is not None


def test_a_payment_to_another_customers_iban_is_internal(alice, bob):
    payment, _ = pay(alice, to_iban=bob.checking.iban, reference="Dinner")
    assert payment.kind == Payment.Kind.INTERNAL
    assert payment.to_name == "Bob Test"
    assert balance(bob.checking) == Decimal("35.00")


def test_the_same_key_returns_the_first_payment_and_never_debits_twice(alice):
    first, created = pay(alice, key="same")
    again, created_again = pay(alice, key="same")
    assert created
    assert not created_again
    assert again.pk == first.pk
    assert balance(alice.checking) == Decimal("475.00")


def test_the_same_key_with_a_different_request_is_refused(alice):
    pay(alice, key="same")
    before = ledger_snapshot()
    with pytest.raises(IdempotencyKeyReused):
        pay(alice, key="same", amount="26.00")
    assert ledger_snapshot() == before


def test_keys_belong_to_one_customer(alice, bob):
    bob.savings = account_make(bob, type=Account.Type.SAVINGS)
    mine, _ = pay(alice, key="shared", amount="1.00")
    theirs, created = pay(bob, key="shared", amount="1.00")
    assert created
    assert theirs.pk != mine.pk


BAD_INPUT = [
    ({"amount": "-5"}, "amount"),
    ({"amount": "0"}, "amount"),
    ({"amount": "0.00"}, "amount"),
    ({"amount": "12.345"}, "amount"),
    ({"amount": "abc"}, "amount"),
    ({"amount": "1e9999"}, "amount"),
    ({"amount": "NaN"}, "amount"),
    ({"amount": "99999999999"}, "amount"),
    ({"amount": 12.5}, "amount"),
    ({"key": ""}, "idempotency_key"),
    ({"key": "has spaces"}, "idempotency_key"),
    ({"key": "x" * 101}, "idempotency_key"),
    ({"to_iban": "GB00 NOT AN IBAN"}, "to_iban"),
    ({"to_iban": "GB82WEST12345698765433"}, "to_iban"),  # wrong check digits
    ({"to_iban": EXTERNAL_IBAN, "to_account_id": 1}, "to_account"),
    ({"to_account_id": 2**40}, "to_account"),
    ({"reference": "x" * 141}, "reference"),
    ({"reference": "bad\x00byte"}, "reference"),
]


@pytest.mark.parametrize(("change", "field"), BAD_INPUT)
def test_bad_input_names_the_field_and_writes_nothing(alice, change, field):
    change = dict(change)
    kwargs = {"key": change.pop("key", "k-bad"), "amount": change.pop("amount", "10.00")}
    kwargs.update(change)
    before = ledger_snapshot()
    with pytest.raises(PaymentInvalid) as error:
        pay(alice, **kwargs)
    assert field in error.value.fields
    assert ledger_snapshot() == before


def test_unknown_or_someone_elses_source_account_is_refused(alice, bob):
    before = ledger_snapshot()
    for account_id in (bob.checking.pk, 2**40, "1", None):
        with pytest.raises(PaymentInvalid) as error:
            payment_create(
                customer=alice,
                actor=alice.user,
                from_account_id=account_id,
                amount="1.00",
                currency="GBP",
                idempotency_key=f"k{account_id}",
                to_account_id=alice.savings.pk,
            )
        assert "from_account" in error.value.fields
    assert ledger_snapshot() == before


def test_currency_must_match_the_accounts(alice):
    euro = account_make(alice, currency="EUR", type=Account.Type.SAVINGS)
    before = ledger_snapshot()
    with pytest.raises(PaymentInvalid) as error:
        pay(alice, to_account_id=euro.pk)
    assert "currency" in error.value.fields
    with pytest.raises(PaymentInvalid) as error:
        payment_create(
            customer=alice,
            actor=alice.user,
            from_account_id=alice.checking.pk,
            amount="1.00",
            currency="EUR",
            idempotency_key="eur",
            to_account_id=alice.savings.pk,
        )
    assert "currency" in error.value.fields
    with pytest.raises(PaymentInvalid) as error:
        payment_create(
            customer=alice,
            actor=alice.user,
            from_account_id=alice.checking.pk,
            amount="1.00",
            currency="XXX",
            idempotency_key="xxx",
            to_account_id=alice.savings.pk,
        )
    assert "currency" in error.value.fields
    assert ledger_snapshot() == before


def test_paying_into_the_same_account_is_refused(alice):
    with pytest.raises(PaymentInvalid):
        pay(alice, to_account_id=alice.checking.pk)


def test_insufficient_funds_writes_nothing(alice):
    before = ledger_snapshot()
    with pytest.raises(InsufficientFunds) as error:
        pay(alice, amount="500.01")
    assert "amount" in error.value.fields
    assert ledger_snapshot() == before


def test_an_overdraft_limit_is_honoured_to_the_penny(db):
    customer = customer_make()
    customer.checking = account_make(customer, balance="100.00", limit="50.00")
    customer.savings = account_make(customer, type=Account.Type.SAVINGS)
    pay(customer, amount="150.00")
    assert balance(customer.checking) == Decimal("-50.00")
    with pytest.raises(InsufficientFunds):
        pay(customer, key="k2", amount="0.01")


def test_frozen_and_closed_accounts_cannot_pay_or_be_paid(alice, bob):
    alice.checking.status = Account.Status.FROZEN
    alice.checking.save()
    with pytest.raises(AccountNotOpen):
        pay(alice)
    alice.checking.status = Account.Status.OPEN
    alice.checking.save()
    bob.checking.status = Account.Status.CLOSED
    bob.checking.save()
    before = ledger_snapshot()
    with pytest.raises(AccountNotOpen):
        pay(alice, key="k2", to_iban=bob.checking.iban)
    assert ledger_snapshot() == before


def test_an_unknown_banksight_iban_is_refused(alice):
    from apps.accounts.services.ledger import bank_iban

    with pytest.raises(PaymentInvalid) as error:
        pay(alice, to_iban=bank_iban("99999999"))
    assert "to_iban" in error.value.fields


def test_a_payment_to_another_bank_is_pending_until_settled(alice):
    payment, _ = pay(alice, to_iban=EXTERNAL_IBAN, to_name="Mum")
    assert payment.kind == Payment.Kind.EXTERNAL
    assert payment.status == Payment.Status.PENDING
    assert payment.to_name == "Mum"
    assert balance(alice.checking) == Decimal("475.00")  # reserved at once
    from datetime import timedelta

    assert payments_settle_external(older_than=timedelta(0)) == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.COMPLETED
    assert payments_settle_external(older_than=timedelta(0)) == 0  # idempotent
    clearing = Account.objects.get(internal_purpose="external_clearing", currency="GBP")
    assert clearing.balance_minor == 0
    assert ledger_balance_drifts() == []


def hold_everything(payment):
    return ScreeningDecision(Outcome.HOLD, "Unusual payee")


def reject_everything(payment):
    return ScreeningDecision(Outcome.REJECT, "Sanctioned destination")


@override_settings(PAYMENT_SCREENING_HOOKS=["tests.accounts.test_payments.hold_everything"])
def test_a_screening_rule_can_hold_a_payment_before_it_completes(alice, administrator):
    payment, _ = pay(alice)
    assert payment.status == Payment.Status.HELD_FOR_REVIEW
    assert payment.status_reason == "Unusual payee"
    assert balance(alice.checking) == Decimal("500.00")
    assert not payment.entries.exists()
    # The same key keeps answering with the held payment.
    assert pay(alice)[0].pk == payment.pk
    released = payment_release(payment_id=payment.pk, actor=administrator)
    assert released.status == Payment.Status.COMPLETED
    assert balance(alice.checking) == Decimal("475.00")


@override_settings(PAYMENT_SCREENING_HOOKS=["tests.accounts.test_payments.reject_everything"])
def test_a_screening_rule_can_reject_a_payment(alice):
    payment, _ = pay(alice)
    assert payment.status == Payment.Status.REJECTED
    assert balance(alice.checking) == Decimal("500.00")


def test_a_completed_payment_can_be_reversed(alice, bob, administrator):
    payment, _ = pay(alice, to_iban=bob.checking.iban)
    payment_reverse(payment_id=payment.pk, actor=administrator, reason="Customer error")
    assert balance(alice.checking) == Decimal("500.00")
    assert balance(bob.checking) == Decimal("10.00")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REVERSED
    assert payment.entries.count() == 2


# --- PostgreSQL holds the invariants too ------------------------------------------------


def test_postgres_rejects_an_unbalanced_entry(alice):
    entry = JournalEntry.objects.create(
        kind="transfer", description="x", booked_at="2026-01-01T00:00Z"
    )
    insert = (
        "INSERT INTO accounts_posting (entry_id, account_id, amount_minor, currency, booked_at,"
        " description, counterparty) VALUES (%s, %s, 100, 'GBP', now(), 'x', '')"
    )

    def insert_one_sided_posting():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check now, not at commit
            cursor.execute(insert, [entry.pk, alice.checking.pk])

    with pytest.raises(DatabaseError, match="does not balance"):
        insert_one_sided_posting()


def test_postgres_rejects_changing_or_deleting_postings(alice):
    # The application's role lacks the privileges; the append-only trigger stops the owner.
    pay(alice)
    posting = Posting.objects.first()
    refused = "permission denied for table accounts_posting"
    with pytest.raises(DatabaseError, match=refused), transaction.atomic():
        Posting.objects.filter(pk=posting.pk).update(amount_minor=1)
    with pytest.raises(DatabaseError, match=refused), transaction.atomic():
        Posting.objects.filter(pk=posting.pk).delete()


def test_postgres_refuses_a_balance_below_the_limit(alice):
    with pytest.raises(IntegrityError, match="account_within_limit"), transaction.atomic():
        Account.objects.filter(pk=alice.checking.pk).update(balance_minor=-1)


# --- Races (real concurrent transactions) -----------------------------------------------


def committed_customer():
    """A customer with 100.00 in checking and an empty savings account, for tests whose
    work runs on other connections (their data must be committed)."""
    customer = customer_make()
    customer.checking = account_make(customer, balance="100.00")
    customer.savings = account_make(customer, type=Account.Type.SAVINGS)
    return customer


def _race(count: int, work):
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index):
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except Exception as error:  # noqa: BLE001 - collected and asserted on below
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_racing_requests_with_one_key_debit_once():
    customer = committed_customer()
    results = _race(8, lambda i: pay(customer, key="race", amount="30.00"))
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert len({payment.pk for payment, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert balance(customer.checking) == Decimal("70.00")
    assert Payment.objects.count() == 1
    assert ledger_balance_drifts() == []


@pytest.mark.django_db(transaction=True)
def test_racing_debits_never_overdraw():
    customer = committed_customer()
    results = _race(16, lambda i: pay(customer, key=f"k{i}", amount="10.00"))
    completed = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert len(completed) == 10
    assert len(refused) == 6
    # Refused in the ledger, past the early check, they still say what can be sent.
    assert all(r.fields == {"amount": ["You can send at most 0.00 GBP."]} for r in refused)
    assert balance(customer.checking) == Decimal("0.00")
    assert balance(customer.savings) == Decimal("100.00")
    assert ledger_balance_drifts() == []
    assert ledger_unbalanced_entries() == []


# --- Changes committed by someone else while a payment is under way ---------------------
# The payment checks the accounts as read, screens, and moves the money last, under the
# accounts' row locks. These hooks commit a change from another connection in between,
# the way a racing request or a staff member would.


def _commit_elsewhere(change):
    thread = threading.Thread(target=lambda: (change(), connection.close()))
    thread.start()
    thread.join(timeout=30)


def freeze_the_source_meanwhile(payment):
    _commit_elsewhere(
        lambda: Account.objects.filter(pk=payment.from_account_id).update(
            status=Account.Status.FROZEN
        )
    )
    return ScreeningDecision(Outcome.ALLOW)


def spend_the_money_meanwhile(payment):
    _commit_elsewhere(
        lambda: Account.objects.filter(pk=payment.from_account_id).update(balance_minor=1_000)
    )
    return ScreeningDecision(Outcome.ALLOW)


@pytest.mark.django_db(transaction=True)
@override_settings(
    PAYMENT_SCREENING_HOOKS=["tests.accounts.test_payments.freeze_the_source_meanwhile"]
)
def test_an_account_frozen_during_the_payment_does_not_pay():
    customer = committed_customer()
    with pytest.raises(AccountNotOpen) as error:
        pay(customer)
    assert "from_account" in error.value.fields
    assert Payment.objects.count() == 0
    assert balance(customer.savings) == Decimal("0.00")


@pytest.mark.django_db(transaction=True)
@override_settings(
    PAYMENT_SCREENING_HOOKS=["tests.accounts.test_payments.spend_the_money_meanwhile"]
)
def test_money_spent_during_the_payment_is_not_sent_twice():
    customer = committed_customer()
    with pytest.raises(InsufficientFunds) as error:
        pay(customer, amount="25.00")
    assert error.value.fields == {"amount": ["You can send at most 10.00 GBP."]}
    assert Payment.objects.count() == 0
    assert balance(customer.checking) == Decimal("10.00")
    assert balance(customer.savings) == Decimal("0.00")
