"""Money: Decimal amounts in a currency, stored as integer minor units. Never float."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# ISO 4217 currencies BankSight holds accounts in, with their minor-unit exponent.
CURRENCY_EXPONENTS: dict[str, int] = {
    "GBP": 2,
    "EUR": 2,
    "USD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "JPY": 0,
}
CURRENCY_CHOICES = [(code, code) for code in sorted(CURRENCY_EXPONENTS)]
# No single payment is larger than this (in major units); bigger numbers are typos or attacks.
MAX_PAYMENT = Decimal("1000000000")
_GROUPED = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")
_PLAIN_DECIMAL = re.compile(r"^-?[0-9]{1,15}(\.[0-9]{1,12})?$")


class AmountError(ValueError):
    """An amount a person typed that is not a valid sum of money in the currency."""


def exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError as error:
        raise AmountError(f"{currency!r} is not a currency we support.") from error


def parse_amount(raw, currency: str) -> Decimal:
    """Parse a positive amount with no more decimals than the currency has."""
    if isinstance(raw, float):
        raise AmountError('Send the amount as a string, such as "12.50".')
    text = str(raw).strip()
    if _GROUPED.match(text):  # "1,250.00": thousands separators, correctly placed
        text = text.replace(",", "")
    if not _PLAIN_DECIMAL.match(text):
        raise AmountError("Enter an amount such as 12.50.")
    try:
        amount = Decimal(text)
    except InvalidOperation as error:
        raise AmountError("Enter an amount such as 12.50.") from error
    if amount <= 0:
        raise AmountError("The amount must be more than zero.")
    if amount > MAX_PAYMENT:
        raise AmountError(f"The amount cannot be more than {MAX_PAYMENT:,}.")
    places = exponent(currency)
    if -amount.as_tuple().exponent > places and amount != amount.quantize(
        Decimal(1).scaleb(-places)
    ):
        raise AmountError(f"{currency} amounts have at most {places} decimal places.")
    return amount.quantize(Decimal(1).scaleb(-places))


def to_minor(amount: Decimal, currency: str) -> int:
    scaled = amount.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise AmountError(f"{amount} has more decimal places than {currency} allows.")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    places = exponent(currency)
    return (Decimal(minor).scaleb(-places)).quantize(Decimal(1).scaleb(-places))


def format_money(minor: int, currency: str) -> str:
    return f"{from_minor(minor, currency):,} {currency}"
