"""Standing orders: created by customers, executed by celery beat through payment_create."""

from __future__ import annotations

import calendar
import logging
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts import money
from apps.accounts.errors import BankError, PaymentInvalid
from apps.accounts.models import Account, Customer, Payee, StandingOrder
from apps.accounts.services.payments import payment_create

logger = logging.getLogger(__name__)


def _next_date(day: date, frequency: str) -> date:
    if frequency == StandingOrder.Frequency.WEEKLY:
        return day + timedelta(days=7)
    month = day.month % 12 + 1
    year = day.year + (day.month == 12)
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


@transaction.atomic
def standing_order_create(
    *,
    customer: Customer,
    from_account_id: int,
    payee_id: int,
    amount,
    frequency: str,
    first_run_on: date,
    end_on: date | None = None,
    reference: str = "",
) -> StandingOrder:
    errors: dict[str, list[str]] = {}
    account = Account.objects.filter(pk=from_account_id, customer=customer).first()
    payee = Payee.objects.filter(pk=payee_id, customer=customer).first()
    if account is None:
        errors["from_account"] = ["Choose one of your accounts."]
    if payee is None:
        errors["payee"] = ["Choose one of your payees."]
    if frequency not in StandingOrder.Frequency.values:
        errors["frequency"] = ["Choose weekly or monthly."]
    if first_run_on < timezone.localdate():
        errors["first_run_on"] = ["The first payment cannot be in the past."]
    if end_on and end_on < first_run_on:
        errors["end_on"] = ["The end date must be after the first payment."]
    amount_minor = 0
    if account is not None:
        try:
            amount_minor = money.to_minor(
                money.parse_amount(amount, account.currency), account.currency
            )
        except money.AmountError as error:
            errors["amount"] = [str(error)]
    if errors:
        raise PaymentInvalid(fields=errors)
    return StandingOrder.objects.create(
        customer=customer,
        from_account=account,
        payee=payee,
        amount_minor=amount_minor,
        currency=account.currency,
        reference=reference.strip()[:140],
        frequency=frequency,
        next_run_on=first_run_on,
        end_on=end_on,
    )


def standing_orders_run_due(*, today: date | None = None) -> int:
    """Pay every due standing order once per due date.

    The payment's idempotency key is the order and its date, so a crash between paying and
    moving the date on, or two beat runs, never pays twice.
    """
    today = today or timezone.localdate()
    ran = 0
    for order in StandingOrder.objects.filter(active=True, next_run_on__lte=today).select_related(
        "payee", "customer"
    ):
        while order.active and order.next_run_on <= today:
            try:
                payment_create(
                    customer=order.customer,
                    actor=None,
                    from_account_id=order.from_account_id,
                    amount=str(money.from_minor(order.amount_minor, order.currency)),
                    currency=order.currency,
                    to_iban=order.payee.iban,
                    to_name=order.payee.name,
                    reference=order.reference or order.payee.default_reference,
                    idempotency_key=f"standing-order:{order.pk}:{order.next_run_on.isoformat()}",
                    standing_order=order,
                )
            except BankError as error:
                # Not enough money, or a closed account: this date is skipped, as banks do.
                logger.warning(
                    "Standing order %s skipped on %s: %s",
                    order.pk,
                    order.next_run_on,
                    error.code,
                )
            ran += 1
            order.next_run_on = _next_date(order.next_run_on, order.frequency)
            if order.end_on and order.next_run_on > order.end_on:
                order.active = False
            order.save(update_fields=["next_run_on", "active"])
    return ran


@transaction.atomic
def standing_order_cancel(*, order: StandingOrder) -> StandingOrder:
    order = StandingOrder.objects.select_for_update().get(pk=order.pk)
    if order.active:  # cancelling twice is not an error: the result is the same
        order.active = False
        order.save(update_fields=["active"])
    return order
