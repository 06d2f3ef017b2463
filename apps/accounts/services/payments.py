"""Payments: between own accounts, to another BankSight customer, to another bank.

Safety, in order:
- Input is validated before anything is written (PaymentInvalid names the fields).
- One transaction per payment, and no lock up front. The payment row is written first,
  once, with its outcome; an audit entry with it. A twin request with the same
  idempotency key waits at that INSERT until the first one commits, then fails the
  (customer, idempotency_key) unique constraint, rolls back whole and answers with the
  first payment: the same key never debits twice.
- The money moves last (ledger.journal_entry_post): one UPDATE per account in primary-key
  order, whose row locks serialise concurrent debits of an account and are held only
  until the commit. There PostgreSQL's CHECK refuses a balance past the account's limit,
  and an account frozen or closed meanwhile refuses the payment; either rolls the whole
  payment back. The same checks run earlier on the accounts as read, for a clear answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
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
    *, customer: Customer, source: Account, own: dict[int, Account], to_account_id, to_iban: str
) -> tuple[Account, Payment.Kind, str]:
    """(account credited, kind, normalised IBAN) for what the customer asked. `own`: the
    customer's accounts named in the request, by id."""
    if to_account_id is not None:
        target = own.get(to_account_id)
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
    # customer=None would match the bank's internal accounts: never a source. The own
    # account paid into, if any, comes in the same query.
    own = _own_accounts(customer=customer, ids=[from_account_id, to_account_id])
    source = own.get(from_account_id)
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
    return source, amount_value, own


def _own_accounts(*, customer, ids) -> dict[int, Account]:
    wanted = {i for i in ids if isinstance(i, int) and not isinstance(i, bool)}
    if customer is None or not wanted:
        return {}
    return {a.pk: a for a in Account.objects.filter(customer=customer, pk__in=wanted)}


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
    source, amount_value, own = _validate(
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
        customer=customer, source=source, own=own, to_account_id=to_account_id, to_iban=to_iban
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
        return _execute(payment=payment, source=source, target=target, actor=actor), True
    except IntegrityError as error:
        # A twin with the same key committed first: answer with its payment, or refuse a
        # different request under the same key.
        if "payment_idempotency_key_unique" not in str(error):
            raise
        replay = _replay(customer=customer, key=idempotency_key, fingerprint=fingerprint)
        if replay is None:
            raise
        return replay, False
    except InsufficientFunds as error:
        if error.fields:
            raise
        source.refresh_from_db(fields=["balance_minor", "limit_minor"])
        raise _insufficient_funds(source) from None
    except AccountNotOpen as error:
        if error.fields:
            raise
        raise _not_open(payment, source_open=_is_open(source)) from None


def _insufficient_funds(source: Account) -> InsufficientFunds:
    most = money.format_money(max(source.available_minor, 0), source.currency)
    return InsufficientFunds(fields={"amount": [f"You can send at most {most}."]})


def _is_open(account: Account) -> bool:
    return Account.objects.filter(pk=account.pk, status=Account.Status.OPEN).exists()


def _not_open(payment: Payment, *, source_open: bool) -> AccountNotOpen:
    if not source_open:
        return AccountNotOpen(fields={"from_account": [AccountNotOpen.default_message]})
    field = "to_account" if payment.kind == Payment.Kind.OWN else "to_iban"
    return AccountNotOpen(fields={field: ["The receiving account cannot take payments right now."]})


def _replay(*, customer: Customer, key: str, fingerprint: str) -> Payment | None:
    # Asked by every payment and nearly always answered "none": one plain indexed SELECT
    # instead of the ORM's (about 1 ms of CPU to build); the rare hit loads the payment.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, request_fingerprint FROM accounts_payment "
            "WHERE customer_id = %s AND idempotency_key = %s",
            [customer.pk, key],
        )
        found = cursor.fetchone()
    if found is None:
        return None
    existing = Payment.objects.get(pk=found[0])
    if existing.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return existing


def _holder_name(target: Account, kind: Payment.Kind) -> str:
    if kind == Payment.Kind.EXTERNAL or target.customer is None:
        return ""
    return target.customer.full_name


@transaction.atomic(durable=True)
def _execute(*, payment: Payment, source: Account, target: Account, actor) -> Payment:
    """Check, screen, and write the payment once, with its outcome; then move the money.

    `source` and `target` are as read moments ago, unlocked: the checks here give a clear
    answer early, and journal_entry_post checks the limit and the status again under the
    accounts' row locks.
    """
    if source.status != Account.Status.OPEN or target.status != Account.Status.OPEN:
        raise _not_open(payment, source_open=source.status == Account.Status.OPEN)
    if source.available_minor < payment.amount_minor:
        raise _insufficient_funds(source)

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
        return payment
    _post_payment(payment=payment, source=source, target=target, actor=actor, require_open=True)
    return payment


def _post_payment(
    *, payment: Payment, source: Account, target: Account, actor, require_open: bool = False
) -> None:
    """Save an allowed payment with its outcome and move the money (see
    journal_entry_post). A payment to another bank stays pending until settlement."""
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
        require_open=require_open,
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
