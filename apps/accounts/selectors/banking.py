"""Reads for customers: every function is scoped to the customer asking.

Someone else's object and a missing one look the same: NotFound (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.accounts import money
from apps.accounts.errors import NotFound
from apps.accounts.models import (
    Account,
    Card,
    Customer,
    LoanPrequalification,
    Payee,
    Payment,
    Posting,
    StandingOrder,
    User,
)
from banksight.prepared_queries import PreparedQuery


def customer_for_user(*, user: User) -> Customer | None:
    if not user.is_authenticated:
        return None
    try:
        return user.customer  # loaded with the user by the API's authentication
    except Customer.DoesNotExist:
        return None


def _accounts_not_closed(customer_id: int) -> QuerySet[Account]:
    return (
        Account.objects.filter(customer_id=customer_id)
        .exclude(status=Account.Status.CLOSED)
        .order_by("id")
    )


# The accounts list is the mobile app's most frequent call: its SQL is built once.
_account_list_query = PreparedQuery(_accounts_not_closed, params=("customer_id",))


def account_list(*, customer: Customer) -> list[Account]:
    """The customer's accounts that are not closed, oldest first."""
    accounts = _account_list_query(customer_id=customer.pk)
    for account in accounts:
        account.customer = customer  # known already: no query when it is read
    return accounts


def account_get(*, customer: Customer | None, account_id) -> Account:
    if customer is None:  # customer=None would match the bank's own internal accounts
        raise NotFound()
    account = Account.objects.filter(pk=_int(account_id), customer=customer).first()
    if account is None:
        raise NotFound()
    return account


@dataclass(frozen=True)
class PostingFilters:
    date_from: date | None = None
    date_to: date | None = None
    amount_min: Decimal | None = None  # on the absolute amount
    amount_max: Decimal | None = None
    text: str = ""


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def posting_list(*, account: Account, filters: PostingFilters | None = None) -> QuerySet[Posting]:
    """An account's history, newest first. Amount filters compare absolute amounts."""
    filters = filters or PostingFilters()
    postings = Posting.objects.filter(account=account).select_related("entry")
    if filters.date_from:
        postings = postings.filter(booked_at__gte=_day_start(filters.date_from))
    if filters.date_to and filters.date_to < date.max:
        postings = postings.filter(booked_at__lt=_day_start(filters.date_to) + timedelta(days=1))
    if filters.amount_min is not None:
        minimum = _minor_ceil(filters.amount_min, account.currency)
        postings = postings.filter(Q(amount_minor__gte=minimum) | Q(amount_minor__lte=-minimum))
    if filters.amount_max is not None:
        maximum = _minor_floor(filters.amount_max, account.currency)
        postings = postings.filter(amount_minor__gte=-maximum, amount_minor__lte=maximum)
    if filters.text:
        postings = postings.filter(
            Q(description__icontains=filters.text) | Q(counterparty__icontains=filters.text)
        )
    return postings.order_by("-booked_at", "-id")


def posting_list_recent(*, customer: Customer) -> QuerySet[Posting]:
    """The customer's history across all their open accounts, newest first."""
    return (
        Posting.objects.filter(account__in=_accounts_not_closed(customer.pk))
        .select_related("entry", "account")
        .order_by("-booked_at", "-id")
    )


def payment_list(*, customer: Customer) -> QuerySet[Payment]:
    return customer.payments.select_related("from_account", "to_account").order_by(
        "-created_at", "-id"
    )


def payment_get(*, customer: Customer, payment_id) -> Payment:
    payment = payment_list(customer=customer).filter(pk=_int(payment_id)).first()
    if payment is None:
        raise NotFound()
    return payment


def payee_is_new(*, customer: Customer, iban: str) -> bool:
    """True until the customer has paid this IBAN (a payment that completed or is on its
    way): a first payment to someone is where a stolen session would send money."""
    paid = (Payment.Status.COMPLETED, Payment.Status.PENDING)
    return not Payment.objects.filter(customer=customer, to_iban=iban, status__in=paid).exists()


def payee_list(*, customer: Customer) -> QuerySet[Payee]:
    return customer.payees.order_by("name", "id")


def payee_get(*, customer: Customer, payee_id) -> Payee:
    payee = payee_list(customer=customer).filter(pk=_int(payee_id)).first()
    if payee is None:
        raise NotFound()
    return payee


def card_list(*, customer: Customer) -> QuerySet[Card]:
    return customer.cards.select_related("account").order_by("id")


def card_get(*, customer: Customer, card_id) -> Card:
    card = card_list(customer=customer).filter(pk=_int(card_id)).first()
    if card is None:
        raise NotFound()
    return card


def standing_order_list(*, customer: Customer) -> QuerySet[StandingOrder]:
    return customer.standing_orders.select_related("payee", "from_account").order_by(
        "-active", "next_run_on"
    )


def standing_order_get(*, customer: Customer, order_id) -> StandingOrder:
    order = standing_order_list(customer=customer).filter(pk=_int(order_id)).first()
    if order is None:
        raise NotFound()
    return order


def loan_prequalification_list(*, customer: Customer) -> QuerySet[LoanPrequalification]:
    return customer.loan_prequalifications.order_by("-created_at", "-id")


def loan_prequalification_get(*, customer: Customer, prequalification_id) -> LoanPrequalification:
    result = (
        loan_prequalification_list(customer=customer).filter(pk=_int(prequalification_id)).first()
    )
    if result is None:
        raise NotFound()
    return result


def _minor_floor(amount: Decimal, currency: str) -> int:
    """A filter bound in minor units; extra decimals round towards the range's inside."""
    return int((amount.scaleb(money.exponent(currency))).to_integral_value(rounding=ROUND_FLOOR))


def _minor_ceil(amount: Decimal, currency: str) -> int:
    return int((amount.scaleb(money.exponent(currency))).to_integral_value(rounding=ROUND_CEILING))


def _int(value) -> int:
    """Ids from URLs and bodies: anything that is not a positive integer is simply not found."""
    try:
        number = int(value)
    except (TypeError, ValueError) as error:
        raise NotFound() from error
    if number <= 0 or number > 2**63 - 1:
        raise NotFound()
    return number
