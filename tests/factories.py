"""Builders for banking test data, going through the same services as the product."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction

from apps.accounts import money
from apps.accounts.models import Account, Customer, JournalEntry, User
from apps.accounts.roles import Role
from apps.accounts.services import user_create
from apps.accounts.services.customers import customer_create
from apps.accounts.services.ledger import (
    Leg,
    account_open,
    accounts_lock,
    internal_account,
    journal_entry_post,
)
from tests.helpers import PASSWORD


def customer_make(user: User | None = None, *, username: str | None = None, **profile) -> Customer:
    if user is None:
        user = user_create(
            username=username or f"cust{User.objects.count() + 1}",
            password=PASSWORD,
            role=Role.CUSTOMER,
        )
    profile.setdefault("first_name", user.first_name or "Test")
    profile.setdefault("last_name", user.last_name or "Customer")
    return customer_create(user=user, **profile)


def ledger_book(
    account: Account,
    minor: int,
    description: str = "Opening balance",
    *,
    kind: JournalEntry.Kind = JournalEntry.Kind.OPENING,
    counterparty: str = "",
    booked_at: datetime | None = None,
) -> None:
    """Book money into (positive) or out of (negative) an account, against the bank."""
    bank = internal_account(purpose="opening_balances", currency=account.currency)
    with transaction.atomic():
        locked = accounts_lock(ids=[account.pk, bank.pk])
        journal_entry_post(
            kind=kind,
            description=description,
            booked_at=booked_at,
            legs=[
                Leg(locked[bank.pk], -minor, description),
                Leg(locked[account.pk], minor, description, counterparty),
            ],
        )
    account.refresh_from_db()


def account_fund(account: Account, amount: str | Decimal) -> None:
    ledger_book(account, money.to_minor(Decimal(str(amount)), account.currency))


def account_make(
    customer: Customer,
    *,
    balance: str = "0",
    currency: str = "GBP",
    type: Account.Type = Account.Type.CHECKING,
    limit: str = "0",
    name: str | None = None,
) -> Account:
    account = account_open(
        customer=customer,
        type=type,
        currency=currency,
        name=name or type.label,
        limit_minor=money.to_minor(Decimal(limit), currency),
    )
    if Decimal(balance) > 0:
        account_fund(account, balance)
    return account
