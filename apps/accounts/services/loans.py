"""Loan pre-qualification: an indicative range from stated income and account activity."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from apps.accounts import money
from apps.accounts.errors import InvalidState, PaymentInvalid
from apps.accounts.models import Account, Customer, LoanPrequalification, Payment, Posting

MINIMUM_INCOME = 12_000  # major units, per year
INCOME_DIVISOR = 2  # lend up to half the income we trust ...
SAVINGS_DIVISOR = 4  # ... plus a quarter of current balances
ROUND_TO = 100


def _floor(minor: int, currency: str) -> int:
    step = ROUND_TO * 10 ** money.exponent(currency)
    return max(0, minor // step * step)


@transaction.atomic
def loan_prequalify(*, customer: Customer, stated_annual_income) -> LoanPrequalification:
    accounts = list(
        customer.accounts.filter(
            type__in=[Account.Type.CHECKING, Account.Type.SAVINGS],
        ).exclude(status=Account.Status.CLOSED)
    )
    if not accounts:
        raise InvalidState("You need an open current or savings account to pre-qualify.")
    currency = accounts[0].currency
    try:
        income = money.parse_amount(stated_annual_income, currency)
    except money.AmountError as error:
        raise PaymentInvalid(fields={"stated_annual_income": [str(error)]}) from error
    income_minor = money.to_minor(income, currency)
    in_currency = [a for a in accounts if a.currency == currency]
    balances = sum(a.balance_minor for a in in_currency)

    since = timezone.now() - timedelta(days=90)
    # Moving money between one's own accounts is neither income nor spending.
    postings = Posting.objects.filter(account__in=in_currency, booked_at__gte=since).exclude(
        entry__payment__kind=Payment.Kind.OWN
    )
    inflow = postings.filter(amount_minor__gt=0).aggregate(t=Sum("amount_minor"))["t"] or 0
    outflow = -(postings.filter(amount_minor__lt=0).aggregate(t=Sum("amount_minor"))["t"] or 0)
    observed_annual = inflow * 4

    fmt = lambda minor: money.format_money(minor, currency)  # noqa: E731
    reasons = [
        f"Stated income {fmt(income_minor)} a year.",
        f"Money in over the last 90 days: {fmt(inflow)}; money out: {fmt(outflow)}.",
        f"Current and savings balances: {fmt(balances)}.",
    ]
    eligible = True
    if income < MINIMUM_INCOME:
        eligible = False
        reasons.append(f"Stated income is below the minimum of {MINIMUM_INCOME:,} {currency}.")
    if observed_annual < income_minor // 2:
        eligible = False
        reasons.append("Deposits over the last 90 days do not support the stated income.")
    maximum = 0
    if eligible:
        trusted_income = min(income_minor, observed_annual)
        maximum = trusted_income // INCOME_DIVISOR + max(balances, 0) // SAVINGS_DIVISOR
        if outflow > inflow:
            maximum //= 2
            reasons.append("More money left your accounts than came in: the range is halved.")
        reasons.append("You pre-qualify; the final offer depends on a full application.")
    maximum = _floor(maximum, currency)
    minimum = _floor(maximum // 5, currency)
    return LoanPrequalification.objects.create(
        customer=customer,
        currency=currency,
        stated_annual_income_minor=income_minor,
        balances_minor=balances,
        inflow_90d_minor=inflow,
        outflow_90d_minor=outflow,
        eligible=eligible and maximum > 0,
        min_amount_minor=minimum,
        max_amount_minor=maximum,
        reasons=reasons,
    )
