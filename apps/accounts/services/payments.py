"""Payments: between own accounts, to another BankSight customer, to another bank.

Safety, in order:
- Input is validated before anything is written (PaymentInvalid names the fields).
- Accounts are locked in primary-key order and funds checked under the lock, so concurrent
  debits of one account are serialised and cannot pass its limit (PostgreSQL's CHECK on
  the cached balance would refuse it anyway).
- Under the lock the idempotency key is looked up again: a twin request that waited for
  the lock finds the first payment and returns it. Should two twins still both insert, the
  (customer, idempotency_key) unique constraint fails the second INSERT, its transaction
  rolls back whole, and it answers with the first payment. The same key never debits twice.
- The payment row is written once, with its outcome: one INSERT, one audit entry.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from apps.accounts import money
from apps.accounts.errors import (
    AccountNotOpen,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidState,
    PaymentInvalid,
)
from apps.accounts.models import Account, Customer, JournalEntry, Payment, StandingOrder, User
from apps.accounts.screening import Outcome, payment_screen
from apps.accounts.services.ledger import (
    Leg,
    accounts_lock,
    internal_account,
    is_bank_iban,
    journal_entry_post,
)

EXTERNAL_CLEARING = "external_clearing"
EXTERNAL_SETTLEMENT = "external_settlement"
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,100}$")  # printable ASCII, no spaces
REFERENCE_MAX = 140


def iban_parse(raw: str) -> IBAN:
    try:
        return IBAN(raw)
    except (SchwiftyException, ValueError) as error:
        raise PaymentInvalid(fields={"to_iban": ["This is not a valid IBAN."]}) from error


def _fingerprint(**request) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def _destination(
    *, customer: Customer, source: Account, to_account_id, to_iban: str
) -> tuple[Account, Payment.Kind, str]:
    """(account credited, kind, normalised IBAN) for what the customer asked."""
    if to_account_id is not None:
        target = Account.objects.filter(pk=to_account_id, customer=customer).first()
        if target is not None:
            target.customer = customer
        if target is None:
            raise PaymentInvalid(fields={"to_account": ["Choose one of your accounts."]})
        return target, Payment.Kind.OWN, target.iban or ""
    iban = iban_parse(to_iban)
    if not is_bank_iban(iban):
        return (
            internal_account(purpose=EXTERNAL_CLEARING, currency=source.currency),
            Payment.Kind.EXTERNAL,
            str(iban),
        )
    target = (
        Account.objects.select_related("customer")
        .filter(iban=str(iban))
        .exclude(type=Account.Type.INTERNAL)
        .first()
    )
    if target is None:
        raise PaymentInvalid(fields={"to_iban": ["No BankSight account has this IBAN."]})
    kind = Payment.Kind.OWN if target.customer_id == customer.pk else Payment.Kind.INTERNAL
    return target, kind, str(iban)


def _validate(
    *,
    customer,
    from_account_id,
    to_account_id,
    to_iban,
    amount,
    currency,
    reference,
    idempotency_key,
):
    errors: dict[str, list[str]] = {}
    if not idempotency_key or not IDEMPOTENCY_KEY.match(idempotency_key):
        errors["idempotency_key"] = [
            "An idempotency key (the Idempotency-Key header) of 1 to 100 printable "
            "characters is required."
        ]
    if (to_account_id is None) == (not to_iban):
        errors["to_account"] = ["Give either to_account or to_iban, not both and not neither."]
    if currency not in money.CURRENCY_EXPONENTS:
        errors["currency"] = ["Use a supported ISO 4217 currency code, such as GBP or EUR."]
    if len(reference) > REFERENCE_MAX or any(ord(ch) < 32 for ch in reference):
        errors["reference"] = [f"Use at most {REFERENCE_MAX} printable characters."]
    # customer=None would match the bank's internal accounts: never a source.
    source = (
        Account.objects.filter(pk=from_account_id, customer=customer).first()
        if customer is not None
        and isinstance(from_account_id, int)
        and not isinstance(from_account_id, bool)
        else None
    )
    if source is None:
        errors["from_account"] = ["Choose one of your accounts."]
    amount_value = None
    if "currency" not in errors:
        try:
            amount_value = money.parse_amount(amount, currency)
        except money.AmountError as error:
            errors["amount"] = [str(error)]
    if source is not None and "currency" not in errors and source.currency != currency:
        errors["currency"] = [f"The account pays out in {source.currency}."]
    if errors:
        raise PaymentInvalid(fields=errors)
    return source, amount_value


def payment_create(
    *,
    customer: Customer,
    actor: User | None,
    from_account_id: int,
    amount,
    currency: str,
    idempotency_key: str,
    to_account_id: int | None = None,
    to_iban: str = "",
    to_name: str = "",
    reference: str = "",
    standing_order: StandingOrder | None = None,
) -> tuple[Payment, bool]:
    """Create and execute a payment. Returns (payment, created); created is False when the
    idempotency key had been used for this same request before."""
    reference = (reference or "").strip()
    to_iban = (to_iban or "").strip()
    source, amount_value = _validate(
        customer=customer,
        from_account_id=from_account_id,
        to_account_id=to_account_id,
        to_iban=to_iban,
        amount=amount,
        currency=currency,
        reference=reference,
        idempotency_key=idempotency_key,
    )
    fingerprint = _fingerprint(
        from_account=from_account_id,
        to_account=to_account_id,
        to_iban=to_iban.replace(" ", ""),
        amount=str(amount_value),
        currency=currency,
        reference=reference,
    )
    replay = _replay(customer=customer, key=idempotency_key, fingerprint=fingerprint)
    if replay is not None:
        return replay, False
    target, kind, iban = _destination(
        customer=customer, source=source, to_account_id=to_account_id, to_iban=to_iban
    )
    if target.currency != currency:
        raise PaymentInvalid(
            fields={"currency": [f"The receiving account holds {target.currency}."]}
        )
    if target.pk == source.pk:
        raise PaymentInvalid(fields={"to_account": ["Choose a different account to pay into."]})
    payment = Payment(
        customer=customer,
        from_account=source,
        to_account=None if kind == Payment.Kind.EXTERNAL else target,
        to_iban=iban,
        to_name=_holder_name(target, kind) or to_name.strip()[:140],
        kind=kind,
        amount_minor=money.to_minor(amount_value, currency),
        currency=currency,
        reference=reference,
        status=Payment.Status.PENDING,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        standing_order=standing_order,
        created_by=actor,
    )
    try:
        return _execute(payment=payment, source=source, target=target, actor=actor)
    except IntegrityError as error:
        # A twin with the same key from another account got in first (the lock did not
        # serialise the two): answer with its payment, or refuse a different request.
        if "payment_idempotency_key_unique" not in str(error):
            raise
        replay = _replay(customer=customer, key=idempotency_key, fingerprint=fingerprint)
        if replay is None:
            raise
        return replay, False


def _replay(*, customer: Customer, key: str, fingerprint: str) -> Payment | None:
    existing = Payment.objects.filter(customer=customer, idempotency_key=key).first()
    if existing is not None and existing.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return existing


def _holder_name(target: Account, kind: Payment.Kind) -> str:
    if kind == Payment.Kind.EXTERNAL or target.customer is None:
        return ""
    return target.customer.full_name


@transaction.atomic(durable=True)
def _execute(*, payment: Payment, source: Account, target: Account, actor) -> tuple[Payment, bool]:
    """Lock both accounts, check, screen, and write the payment once, with its outcome.

    Locking first serialises a concurrent twin (same key, same account) behind the first
    request; once it has the lock the twin finds the first payment and returns it.
    """
    locked = accounts_lock(ids=[source.pk, target.pk])
    source, target = locked[source.pk], locked[target.pk]
    twin = _replay(
        customer=payment.customer,
        key=payment.idempotency_key,
        fingerprint=payment.request_fingerprint,
    )
    if twin is not None:
        return twin, False
    if source.status != Account.Status.OPEN:
        raise AccountNotOpen(fields={"from_account": [AccountNotOpen.default_message]})
    if target.status != Account.Status.OPEN:
        field = "to_account" if payment.kind == Payment.Kind.OWN else "to_iban"
        raise AccountNotOpen(
            fields={field: ["The receiving account cannot take payments right now."]}
        )
    if source.available_minor < payment.amount_minor:
        most = money.format_money(max(source.available_minor, 0), payment.currency)
        raise InsufficientFunds(fields={"amount": [f"You can send at most {most}."]})

    # The hooks see the payment before it is saved: nothing is written unless allowed.
    decision = payment_screen(payment)
    if decision.outcome is not Outcome.ALLOW:
        payment.status = (
            Payment.Status.HELD_FOR_REVIEW
            if decision.outcome is Outcome.HOLD
            else Payment.Status.REJECTED
        )
        payment.status_reason = decision.reason
        payment.save()
        return payment, True
    _post_payment(payment=payment, source=source, target=target, actor=actor)
    return payment, True


def _post_payment(*, payment: Payment, source: Account, target: Account, actor) -> None:
    """Save an allowed payment with its outcome and move the money. The caller holds both
    accounts' locks. A payment to another bank stays pending until settlement."""
    external = payment.kind == Payment.Kind.EXTERNAL
    if external:
        payment.status = Payment.Status.PENDING
    else:
        payment.status, payment.completed_at = Payment.Status.COMPLETED, timezone.now()
    payment.save()
    reference = payment.reference or "Payment"
    payee = payment.to_iban if external else (payment.to_name or target.name)
    payer = payment.to_iban if external else payment.customer.full_name
    journal_entry_post(
        kind=JournalEntry.Kind.EXTERNAL_PAYMENT if external else JournalEntry.Kind.TRANSFER,
        description=reference,
        payment=payment,
        actor=actor,
        legs=[
            Leg(source, -payment.amount_minor, reference, payee),
            Leg(target, payment.amount_minor, reference, payer),
        ],
    )


def payments_settle_external(*, older_than: timedelta = timedelta(seconds=30)) -> int:
    """Settle pending payments to other banks: clearing → settlement. Idempotent per payment."""
    cutoff = timezone.now() - older_than
    ids = list(
        Payment.objects.filter(
            kind=Payment.Kind.EXTERNAL,
            status=Payment.Status.PENDING,
            created_at__lte=cutoff,
            entries__isnull=False,
        )
        .values_list("id", flat=True)
        .distinct()[:500]
    )
    settled = 0
    for payment_id in ids:
        settled += _settle_one(payment_id)
    return settled


@transaction.atomic(durable=True)
def _settle_one(payment_id: int) -> int:
    payment = (
        Payment.objects.select_for_update(skip_locked=True)
        .filter(pk=payment_id, status=Payment.Status.PENDING)
        .first()
    )
    if payment is None:  # settled by another worker meanwhile
        return 0
    clearing = internal_account(purpose=EXTERNAL_CLEARING, currency=payment.currency)
    settlement = internal_account(purpose=EXTERNAL_SETTLEMENT, currency=payment.currency)
    locked = accounts_lock(ids=[clearing.pk, settlement.pk])
    journal_entry_post(
        kind=JournalEntry.Kind.SETTLEMENT,
        description=f"Settlement of payment #{payment.pk}",
        payment=payment,
        legs=[
            Leg(locked[clearing.pk], -payment.amount_minor, "Settlement", payment.to_iban),
            Leg(locked[settlement.pk], payment.amount_minor, "Settlement", payment.to_iban),
        ],
    )
    payment.status, payment.completed_at = Payment.Status.COMPLETED, timezone.now()
    payment.save(update_fields=["status", "completed_at"])
    return 1


@transaction.atomic(durable=True)
def payment_release(*, payment_id: int, actor: User) -> Payment:
    """A reviewer lets a held payment go ahead; funds are checked again now."""
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    if payment.status != Payment.Status.HELD_FOR_REVIEW:
        raise InvalidState("Only a payment held for review can be released.")
    target = payment.to_account or internal_account(
        purpose=EXTERNAL_CLEARING, currency=payment.currency
    )
    locked = accounts_lock(ids=[payment.from_account_id, target.pk])
    source = locked[payment.from_account_id]
    if source.available_minor < payment.amount_minor:
        raise InsufficientFunds()
    _post_payment(payment=payment, source=source, target=locked[target.pk], actor=actor)
    return payment


@transaction.atomic(durable=True)
def payment_reject(*, payment_id: int, actor: User, reason: str) -> Payment:
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    if payment.status != Payment.Status.HELD_FOR_REVIEW:
        raise InvalidState("Only a payment held for review can be rejected.")
    payment.status, payment.status_reason = Payment.Status.REJECTED, reason[:200]
    payment.save(update_fields=["status", "status_reason"])
    return payment


@transaction.atomic(durable=True)
def payment_reverse(*, payment_id: int, actor: User, reason: str) -> Payment:
    """Undo a completed payment between BankSight accounts with a reversing entry."""
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    if payment.status != Payment.Status.COMPLETED or payment.kind == Payment.Kind.EXTERNAL:
        raise InvalidState("Only a completed payment between BankSight accounts can be reversed.")
    locked = accounts_lock(ids=[payment.from_account_id, payment.to_account_id])
    target = locked[payment.to_account_id]
    if target.available_minor < payment.amount_minor:
        raise InsufficientFunds("The receiving account no longer holds the money.")
    description = f"Reversal: {payment.reference or 'payment'}"
    journal_entry_post(
        kind=JournalEntry.Kind.REVERSAL,
        description=description,
        payment=payment,
        actor=actor,
        legs=[
            Leg(target, -payment.amount_minor, description, ""),
            Leg(locked[payment.from_account_id], payment.amount_minor, description, ""),
        ],
    )
    payment.status, payment.status_reason = Payment.Status.REVERSED, reason[:200]
    payment.save(update_fields=["status", "status_reason"])
    return payment
