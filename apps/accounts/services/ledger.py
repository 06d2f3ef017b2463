"""The double-entry ledger: opening accounts, locking them, posting balanced entries."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from schwifty import IBAN

from apps.accounts.errors import LedgerUnbalanced
from apps.accounts.models import Account, Customer, JournalEntry, Payment, Posting, User


@dataclass(frozen=True)
class Leg:
    """One side of an entry: a negative amount debits the account, a positive one credits."""

    account: Account
    amount_minor: int
    description: str
    counterparty: str = ""


def bank_iban(number: str) -> str:
    return str(
        IBAN.generate(
            settings.BANK_IBAN_COUNTRY,
            bank_code=f"{settings.BANK_CODE}{settings.BANK_SORT_CODE}",
            account_code=number,
        )
    )


def is_bank_iban(iban: IBAN) -> bool:
    return iban.country_code == settings.BANK_IBAN_COUNTRY and iban.bank_code == settings.BANK_CODE


def _new_account_number() -> str:
    while True:
        number = f"{secrets.randbelow(90_000_000) + 10_000_000}"
        if not Account.objects.filter(number=number).exists():
            return number


def account_open(
    *, customer: Customer, type: Account.Type, currency: str, name: str, limit_minor: int = 0
) -> Account:
    for _ in range(5):  # a number drawn twice at once loses the unique race; draw again
        number = _new_account_number()
        try:
            with transaction.atomic():
                return Account.objects.create(
                    customer=customer,
                    type=type,
                    currency=currency,
                    name=name,
                    number=number,
                    iban=bank_iban(number),
                    limit_minor=limit_minor,
                )
        except IntegrityError:
            continue
    raise RuntimeError("could not draw a free account number")


def internal_account(*, purpose: str, currency: str) -> Account:
    """The bank's own account for a purpose and currency, created on first use."""
    account = Account.objects.filter(
        type=Account.Type.INTERNAL, internal_purpose=purpose, currency=currency
    ).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(
                type=Account.Type.INTERNAL,
                internal_purpose=purpose,
                currency=currency,
                name=f"{purpose.replace('_', ' ').capitalize()} {currency}",
                number=_new_account_number(),
            )
    except IntegrityError:  # created concurrently
        return Account.objects.get(
            type=Account.Type.INTERNAL, internal_purpose=purpose, currency=currency
        )


def accounts_lock(*, ids: Iterable[int]) -> dict[int, Account]:
    """Lock account rows in primary-key order, so two transfers never deadlock."""
    if not connection.in_atomic_block:
        raise RuntimeError("accounts_lock() must run inside a transaction")
    locked = Account.objects.select_for_update().filter(pk__in=set(ids)).order_by("pk")
    return {account.pk: account for account in locked}


def journal_entry_post(
    *,
    kind: JournalEntry.Kind,
    description: str,
    legs: list[Leg],
    booked_at: datetime | None = None,
    payment: Payment | None = None,
    actor: User | None = None,
) -> JournalEntry:
    """Write one balanced entry and move the cached balances with it.

    The caller holds the locks of every account in `legs` (see accounts_lock). PostgreSQL
    checks the balance again at commit, and the accounts' limits at once.
    """
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        totals[leg.account.currency] += leg.amount_minor
    if len(legs) < 2 or any(totals.values()) or any(leg.amount_minor == 0 for leg in legs):
        raise LedgerUnbalanced()
    booked_at = booked_at or timezone.now()
    entry = JournalEntry.objects.create(
        kind=kind,
        description=description,
        booked_at=booked_at,
        payment=payment,
        created_by=actor,
    )
    Posting.objects.bulk_create(
        Posting(
            entry=entry,
            account=leg.account,
            amount_minor=leg.amount_minor,
            currency=leg.account.currency,
            booked_at=booked_at,
            description=leg.description,
            counterparty=leg.counterparty,
        )
        for leg in legs
    )
    deltas: dict[int, int] = defaultdict(int)
    for leg in legs:
        deltas[leg.account.pk] += leg.amount_minor
    for account_id, delta in deltas.items():
        Account.objects.filter(pk=account_id).update(balance_minor=F("balance_minor") + delta)
    for leg in legs:
        leg.account.balance_minor += leg.amount_minor
    return entry
