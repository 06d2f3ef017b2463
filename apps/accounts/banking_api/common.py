"""Shared pieces of the banking API: the caller, fields, schema helpers, output shapes."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from apps.accounts import money
from apps.accounts.errors import NotFound
from apps.accounts.models import Account, Card, Customer, Payment
from apps.accounts.pagination import (
    empty_page,
    paginated_response,
)
from apps.accounts.permissions import IsCustomer
from apps.accounts.selectors import banking as selectors
from banksight.api.errors import error_body

MAX_ID = 2**63 - 1
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)
STATEMENT_MAX_DAYS = 366  # both ends included: a whole leap year fits


# --- The caller ----------------------------------------------------------------------


def customer_of(request) -> Customer | None:
    return selectors.customer_for_user(user=request.user)


def customer_page(view, request, select) -> Response:
    """A cursor page of `select(customer=...)`; a customer without a profile owns nothing."""
    customer = customer_of(request)
    if customer is None:
        return empty_page()
    return paginated_response(
        pagination_class=view.pagination_class,
        serializer_class=view.OutputSerializer,
        queryset=select(customer=customer),
        request=request,
        view=view,
    )


def customer_or_404(request) -> Customer:
    """For reads of one object: without a profile, nothing is theirs."""
    customer = customer_of(request)
    if customer is None:
        raise NotFound()
    return customer


def customer_or_403(request) -> Customer:
    """For writes: a user without a customer profile cannot bank yet."""
    customer = customer_of(request)
    if customer is None:
        raise exceptions.PermissionDenied("Your customer profile is not set up yet.")
    return customer


# --- Fields ----------------------------------------------------------------------------


@extend_schema_field({"type": "string", "format": "decimal", "example": "1234.50"})
class MoneyField(serializers.Field):
    """A Decimal amount as a string with its currency's decimals: "1234.50" (JPY "1234")."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value) -> str:
        return format(value, "f")


class MinorMoneyField(MoneyField):
    """An amount stored in minor units (`source`), in the row's own `currency`."""

    def get_attribute(self, instance):
        return money.from_minor(super().get_attribute(instance), instance.currency)


@extend_schema_field({"type": "string", "format": "decimal", "example": "12.50"})
class AmountInputField(serializers.CharField):
    """An amount the caller sends: a JSON string such as "12.50".

    JSON numbers are refused: 12.3 is a binary float on most clients, and the bank does
    not guess what someone meant. The service parses and checks the string itself.
    """

    default_error_messages: ClassVar[dict] = {
        "not_a_string": 'Send the amount as a string, such as "12.50".',
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class DayField(serializers.DateField):
    """A calendar day as YYYY-MM-DD, in years the ledger can hold."""

    def __init__(self, **kwargs):
        super().__init__(input_formats=["%Y-%m-%d"], **kwargs)

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not FIRST_DAY <= day <= LAST_DAY:
            raise serializers.ValidationError(
                f"Enter a date between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}."
            )
        return day


# --- Documentation helpers -----------------------------------------------------------


@extend_schema_serializer(component_name="Error")
class ErrorSerializer(serializers.Serializer):
    """Documents the one error shape (banksight.api.errors); never used to serialize."""

    code = serializers.CharField()
    message = serializers.CharField()

    def get_fields(self):
        # "fields" is a Serializer attribute, so this one field is added here.
        fields = super().get_fields()
        fields["fields"] = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text="Messages per request field; empty when the error is not about a field.",
        )
        return fields


def error_example(name: str, code: str, message: str, fields: dict | None = None):
    return OpenApiExample(name, value=error_body(code, message, fields), response_only=True)


ERRORS = {
    400: (
        "Invalid request",
        [error_example("Invalid", "invalid", "Some fields are not valid.", {"name": ["..."]})],
    ),
    401: (
        "Not signed in: send `Authorization: Bearer <access>`",
        [
            error_example(
                "Not signed in",
                "not_authenticated",
                "Authentication credentials were not provided.",
            )
        ],
    ),
    403: (
        "Not a customer (bank staff use the back office)",
        [error_example("Not a customer", "permission_denied", IsCustomer.message)],
    ),
    404: (
        "No such object among the customer's own",
        [error_example("Not found", "not_found", "Not found.")],
    ),
    409: (
        "Not possible in the object's current state",
        [error_example("Invalid state", "invalid_state", "This cannot be done now.")],
    ),
}


def error_responses(*codes: int, **examples: list[OpenApiExample]) -> dict[int, OpenApiResponse]:
    """Error responses in the error shape; `e400=[...]` replaces the 400 examples."""
    responses = {}
    for code in codes:
        description, default_examples = ERRORS[code]
        responses[code] = OpenApiResponse(
            ErrorSerializer,
            description=description,
            examples=examples.get(f"e{code}", default_examples),
        )
    return responses


def page_of(serializer_class, name: str):
    return inline_serializer(
        name=name,
        fields={
            "next": serializers.URLField(allow_null=True, help_text="The next page, or null."),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        },
    )


PAGE_PARAMETERS = [
    OpenApiParameter(
        "cursor", OpenApiTypes.STR, description="Opaque; follow `next` and `previous`."
    ),
    OpenApiParameter(
        "page_size", OpenApiTypes.INT, description="Items a page: 25 by default, at most 100."
    ),
]


INVALID_CURSOR = error_example("Invalid cursor", "not_found", "Invalid cursor")


def page_example(item: dict) -> dict:
    return {
        "next": "https://bank.example/api/v1/…/?cursor=cD0yMDI1LTA2LTAx",
        "previous": None,
        "results": [item],
    }


ACCOUNT_EXAMPLE = {
    "id": 12,
    "type": "checking",
    "name": "Current account",
    "currency": "GBP",
    "balance": "1234.50",
    "available_balance": "1734.50",
    "status": "open",
    "number": "••••1234",
    "iban": "GB36BSIG40404012341234",
}
TRANSACTION_EXAMPLE = {
    "id": 981,
    "booked_at": "2025-06-01T09:30:00Z",
    "description": "Rent June",
    "counterparty": "Harbour Lettings",
    "amount": "-1150.00",
    "currency": "GBP",
    "kind": "external_payment",
    "entry_id": 490,
    "payment_id": 77,
}
PAYMENT_EXAMPLE = {
    "id": 77,
    "status": "completed",
    "kind": "own",
    "from_account": 12,
    "to_account": 13,
    "to_iban": "GB46BSIG40404056785678",
    "to_name": "Alice Example",
    "amount": "25.00",
    "currency": "GBP",
    "reference": "Savings",
    "status_reason": "",
    "created_at": "2025-06-01T09:30:00Z",
    "completed_at": "2025-06-01T09:30:00Z",
}
PAYEE_EXAMPLE = {
    "id": 5,
    "name": "Harbour Lettings",
    "iban": "DE89370400440532013000",
    "default_reference": "Rent",
    "created_at": "2025-06-01T09:30:00Z",
}
CARD_EXAMPLE = {
    "id": 3,
    "brand": "Visa",
    "masked_pan": "•••• •••• •••• 4242",
    "last4": "4242",
    "expiry_month": 9,
    "expiry_year": 2028,
    "status": "frozen",
    "account": 12,
}
PREQUALIFICATION_EXAMPLE = {
    "id": 4,
    "eligible": True,
    "currency": "GBP",
    "min_amount": "2000.00",
    "max_amount": "10000.00",
    "stated_annual_income": "40000.00",
    "inflow_90d": "8550.00",
    "outflow_90d": "7200.00",
    "balances": "3500.00",
    "reasons": [
        "Stated income 40,000.00 GBP a year.",
        "You pre-qualify; the final offer depends on a full application.",
    ],
    "created_at": "2025-06-01T09:30:00Z",
}


# --- Shared output shapes --------------------------------------------------------------


@extend_schema_serializer(component_name="Account")
class AccountOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.ChoiceField(choices=Account.Type.choices)
    name = serializers.CharField()
    currency = serializers.CharField()
    balance = MoneyField()
    available_balance = MoneyField(
        source="available", help_text="The balance plus any overdraft or credit limit."
    )
    status = serializers.ChoiceField(choices=Account.Status.choices)
    number = serializers.CharField(source="masked_number", help_text="Masked: ••••1234.")
    iban = serializers.CharField(allow_null=True)


@extend_schema_serializer(component_name="Payment")
class PaymentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Payment.Status.choices)
    kind = serializers.ChoiceField(choices=Payment.Kind.choices)
    from_account = serializers.IntegerField(source="from_account_id")
    to_account = serializers.SerializerMethodField(
        help_text="The receiving account between your own accounts; null otherwise."
    )
    to_iban = serializers.CharField()
    to_name = serializers.CharField()
    amount = MoneyField()
    currency = serializers.CharField()
    reference = serializers.CharField()
    status_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_to_account(self, payment: Payment) -> int | None:
        # Another customer's account id is theirs: the payer knows the payee by IBAN.
        return payment.to_account_id if payment.kind == Payment.Kind.OWN else None


@extend_schema_serializer(component_name="Payee")
class PayeeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    iban = serializers.CharField()
    default_reference = serializers.CharField()
    created_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="Card")
class CardOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    brand = serializers.CharField()
    masked_pan = serializers.CharField()
    last4 = serializers.CharField()
    expiry_month = serializers.IntegerField()
    expiry_year = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Card.Status.choices)
    account = serializers.IntegerField(source="account_id")


@extend_schema_serializer(component_name="LoanPrequalification")
class LoanPrequalificationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    eligible = serializers.BooleanField()
    currency = serializers.CharField()
    min_amount = MinorMoneyField(source="min_amount_minor")
    max_amount = MinorMoneyField(source="max_amount_minor")
    stated_annual_income = MinorMoneyField(source="stated_annual_income_minor")
    inflow_90d = MinorMoneyField(
        source="inflow_90d_minor", help_text="Money in over 90 days, own transfers excluded."
    )
    outflow_90d = MinorMoneyField(source="outflow_90d_minor")
    balances = MinorMoneyField(source="balances_minor")
    reasons = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
