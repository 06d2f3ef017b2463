"""The double-entry ledger: opening accounts, locking them, posting balanced entries."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from schwifty import IBAN

from apps.accounts.errors import AccountNotOpen, InsufficientFunds, LedgerUnbalanced
from apps.accounts.models import Account, Customer, JournalEntry, Payment, User

# Raised by banksight_post_entry() for an account that is not open (migration 0006).
ACCOUNT_NOT_OPEN_SQLSTATE = "BSA01"


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
    require_open: bool = False,
) -> JournalEntry:
    """Write one balanced entry and move the cached balances with it, in one round trip
    (the banksight_post_entry function, migration 0006).

    The balances move last, one UPDATE per account in primary-key order: the row lock an
    UPDATE takes serialises concurrent entries on that account, and is held only from
    there to the commit (inserting the entry and its postings takes no lock that blocks
    another entry). A balance past its account's limit fails PostgreSQL's CHECK and raises
    InsufficientFunds; with `require_open`, an account frozen or closed meanwhile raises
    AccountNotOpen. Either way the caller's transaction rolls back whole: no savepoint,
    which would cost two more round trips. PostgreSQL checks at commit that the entry
    balances.
    """
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        totals[leg.account.currency] += leg.amount_minor
    if len(legs) < 2 or any(totals.values()) or any(leg.amount_minor == 0 for leg in legs):
        raise LedgerUnbalanced()
    if not connection.in_atomic_block:
        raise RuntimeError("journal_entry_post() must run inside a transaction")
    booked_at = booked_at or timezone.now()
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT banksight_post_entry(%s, %s, %s, %s, %s, %s::bigint[], %s::bigint[], "
                "%s::text[], %s::text[], %s::text[], %s)",
                [
                    kind,
                    description,
                    booked_at,
                    payment.pk if payment is not None else None,
                    actor.pk if actor is not None else None,
                    [leg.account.pk for leg in legs],
                    [leg.amount_minor for leg in legs],
                    [leg.account.currency for leg in legs],
                    [leg.description for leg in legs],
                    [leg.counterparty for leg in legs],
                    require_open,
                ],
            )
            (entry_id,) = cursor.fetchone()
    except IntegrityError as error:
        if "account_within_limit" not in str(error):
            raise
        raise InsufficientFunds() from error
    except DatabaseError as error:
        if getattr(error.__cause__, "sqlstate", None) != ACCOUNT_NOT_OPEN_SQLSTATE:
            raise
        raise AccountNotOpen() from error
    for leg in legs:
        leg.account.balance_minor += leg.amount_minor
    entry = JournalEntry(
        pk=entry_id,
        kind=kind,
        description=description,
        booked_at=booked_at,
        payment=payment,
        created_by=actor,
    )
    entry._state.adding = False  # the row exists: saving it again must not insert
    return entry
