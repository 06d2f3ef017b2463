from __future__ import annotations

from django.db import transaction

from apps.accounts.errors import InvalidState, PaymentInvalid
from apps.accounts.models import Customer, Payee, StandingOrder
from apps.accounts.services.payments import REFERENCE_MAX, iban_parse


@transaction.atomic
def payee_create(*, customer: Customer, name: str, iban: str, default_reference: str = "") -> Payee:
    name, default_reference = name.strip(), default_reference.strip()
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 140:
        errors["name"] = ["Enter the payee's name (at most 140 characters)."]
    if len(default_reference) > REFERENCE_MAX:
        errors["default_reference"] = [f"Use at most {REFERENCE_MAX} characters."]
    try:
        normalised = str(iban_parse(iban))
    except PaymentInvalid as error:
        errors["iban"] = error.fields["to_iban"]
        normalised = ""
    if normalised and Payee.objects.filter(customer=customer, iban=normalised).exists():
        errors["iban"] = ["You already have a payee with this IBAN."]
    if errors:
        raise PaymentInvalid(fields=errors)
    return Payee.objects.create(
        customer=customer, name=name, iban=normalised, default_reference=default_reference
    )


@transaction.atomic
def payee_delete(*, payee: Payee) -> None:
    if StandingOrder.objects.filter(payee=payee, active=True).exists():
        raise InvalidState("Cancel the standing orders to this payee first.")
    if payee.standing_orders.exists():
        raise InvalidState("This payee has past standing orders and is kept for the record.")
    payee.delete()
