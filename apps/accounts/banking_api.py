"""Mobile API, banking: accounts, history, statements, payments, payees, cards, loan
pre-qualification and standing orders.

Every endpoint is for customers (IsCustomer: staff get 403, anonymous callers 401). Reads go
through the customer-scoped selectors, so someone else's id is a 404 like a missing one;
writes go through the services, which validate and raise BankErrors that the API's
exception handler turns into `{code, message, fields}`. Money is always a decimal string
with the currency's decimals ("1234.50"), never a JSON number.

A customer user without a Customer profile owns nothing: lists are empty, a detail is a
404 and a write is a 403. The selectors must never see `customer=None` (an account
filter on `customer=None` would match the bank's internal accounts).
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import money
from apps.accounts.errors import NotFound
from apps.accounts.models import Account, Card, Customer, JournalEntry, Payment, StandingOrder
from apps.accounts.pagination import (
    HistoryCursorPagination,
    PostingCursorPagination,
    empty_page,
    paginated_response,
)
from apps.accounts.permissions import IsCustomer
from apps.accounts.selectors import banking as selectors
from apps.accounts.services.cards import card_freeze, card_unfreeze
from apps.accounts.services.loans import loan_prequalify
from apps.accounts.services.payees import payee_create, payee_delete
from apps.accounts.services.payments import payment_create
from apps.accounts.statements import statement_csv
from banksight.api.errors import error_body

MAX_ID = 2**63 - 1
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)
STATEMENT_MAX_DAYS = 366  # both ends included: a whole leap year fits


# --- The caller ----------------------------------------------------------------------


def _customer(request) -> Customer | None:
    return selectors.customer_for_user(user=request.user)


def _customer_page(view, request, select) -> Response:
    """A cursor page of `select(customer=...)`; a customer without a profile owns nothing."""
    customer = _customer(request)
    if customer is None:
        return empty_page()
    return paginated_response(
        pagination_class=view.pagination_class,
        serializer_class=view.OutputSerializer,
        queryset=select(customer=customer),
        request=request,
        view=view,
    )


def _customer_or_404(request) -> Customer:
    """For reads of one object: without a profile, nothing is theirs."""
    customer = _customer(request)
    if customer is None:
        raise NotFound()
    return customer


def _customer_or_403(request) -> Customer:
    """For writes: a user without a customer profile cannot bank yet."""
    customer = _customer(request)
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


def _error_example(name: str, code: str, message: str, fields: dict | None = None):
    return OpenApiExample(name, value=error_body(code, message, fields), response_only=True)


_ERRORS = {
    400: (
        "Invalid request",
        [_error_example("Invalid", "invalid", "Some fields are not valid.", {"name": ["..."]})],
    ),
    401: (
        "Not signed in: send `Authorization: Bearer <access>`",
        [
            _error_example(
                "Not signed in",
                "not_authenticated",
                "Authentication credentials were not provided.",
            )
        ],
    ),
    403: (
        "Not a customer (bank staff use the back office)",
        [_error_example("Not a customer", "permission_denied", IsCustomer.message)],
    ),
    404: (
        "No such object among the customer's own",
        [_error_example("Not found", "not_found", "Not found.")],
    ),
    409: (
        "Not possible in the object's current state",
        [_error_example("Invalid state", "invalid_state", "This cannot be done now.")],
    ),
}


def _errors(*codes: int, **examples: list[OpenApiExample]) -> dict[int, OpenApiResponse]:
    """Error responses in the error shape; `e400=[...]` replaces the 400 examples."""
    responses = {}
    for code in codes:
        description, default_examples = _ERRORS[code]
        responses[code] = OpenApiResponse(
            ErrorSerializer,
            description=description,
            examples=examples.get(f"e{code}", default_examples),
        )
    return responses


def _page_of(serializer_class, name: str):
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


_INVALID_CURSOR = _error_example("Invalid cursor", "not_found", "Invalid cursor")


def _page_example(item: dict) -> dict:
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


# --- Accounts --------------------------------------------------------------------------


class AccountListApi(APIView):
    permission_classes = [IsCustomer]
    OutputSerializer = AccountOutputSerializer

    @extend_schema(
        summary="The customer's accounts",
        operation_id="accounts_list",
        tags=["accounts"],
        responses={
            200: OpenApiResponse(
                OutputSerializer(many=True),
                examples=[OpenApiExample("Accounts", value=ACCOUNT_EXAMPLE)],
            ),
            **_errors(401, 403),
        },
    )
    def get(self, request):
        customer = _customer(request)
        if customer is None:
            return Response([])
        accounts = selectors.account_list(customer=customer)
        return Response(self.OutputSerializer(accounts, many=True).data)


class AccountDetailApi(APIView):
    permission_classes = [IsCustomer]
    OutputSerializer = AccountOutputSerializer

    @extend_schema(
        summary="One account",
        operation_id="accounts_retrieve",
        tags=["accounts"],
        responses={
            200: OpenApiResponse(
                OutputSerializer, examples=[OpenApiExample("Account", value=ACCOUNT_EXAMPLE)]
            ),
            **_errors(401, 403, 404),
        },
    )
    def get(self, request, id: int):
        account = selectors.account_get(customer=_customer_or_404(request), account_id=id)
        return Response(self.OutputSerializer(account).data)


class _DateRangeSerializer(serializers.Serializer):
    def validate(self, attrs):
        date_from, date_to = attrs.get("date_from"), attrs.get("date_to")
        if date_from and date_to and date_to < date_from:
            raise serializers.ValidationError({"date_to": ["Must not be before date_from."]})
        return attrs


class AccountTransactionListApi(APIView):
    permission_classes = [IsCustomer]
    pagination_class = PostingCursorPagination

    class FilterSerializer(_DateRangeSerializer):
        date_from = DayField(required=False, help_text="First day, YYYY-MM-DD (UTC).")
        date_to = DayField(required=False, help_text="Last day included, YYYY-MM-DD (UTC).")
        amount_min = serializers.CharField(
            required=False, max_length=32, help_text="Positive decimal, on the absolute amount."
        )
        amount_max = serializers.CharField(
            required=False, max_length=32, help_text="Positive decimal, on the absolute amount."
        )
        q = serializers.CharField(
            required=False, max_length=100, help_text="Text in the description or counterparty."
        )

        def _amount(self, raw: str):
            """Positive, within a payment's maximum, no more decimals than the currency."""
            try:
                return money.parse_amount(raw, self.context["currency"])
            except money.AmountError as error:
                raise serializers.ValidationError(str(error)) from error

        def validate_amount_min(self, value):
            return self._amount(value)

        def validate_amount_max(self, value):
            return self._amount(value)

        def validate(self, attrs):
            attrs = super().validate(attrs)
            low, high = attrs.get("amount_min"), attrs.get("amount_max")
            if low is not None and high is not None and high < low:
                raise serializers.ValidationError(
                    {"amount_max": ["Must not be less than amount_min."]}
                )
            return attrs

    @extend_schema_serializer(component_name="Transaction")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        booked_at = serializers.DateTimeField()
        description = serializers.CharField()
        counterparty = serializers.CharField()
        amount = MoneyField(help_text="Signed: negative is money out, positive money in.")
        currency = serializers.CharField()
        kind = serializers.ChoiceField(source="entry.kind", choices=JournalEntry.Kind.choices)
        entry_id = serializers.IntegerField()
        payment_id = serializers.IntegerField(source="entry.payment_id", allow_null=True)

    @extend_schema(
        summary="An account's transactions, newest first",
        description=(
            "Cursor-paginated: follow `next` until it is null. Amount filters compare the "
            "absolute amount, so `amount_min=100` finds both +150.00 and -150.00."
        ),
        operation_id="accounts_transactions_list",
        tags=["accounts"],
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={
            200: OpenApiResponse(
                _page_of(OutputSerializer, "PaginatedTransactionList"),
                examples=[OpenApiExample("A page", value=_page_example(TRANSACTION_EXAMPLE))],
            ),
            **_errors(
                400,
                401,
                403,
                404,
                e400=[
                    _error_example(
                        "Bad filter",
                        "invalid",
                        "Some fields are not valid.",
                        {
                            "date_from": [
                                "Date has wrong format. Use one of these formats instead: "
                                "YYYY-MM-DD."
                            ],
                            "amount_min": ["The amount must be more than zero."],
                        },
                    )
                ],
                e404=[_error_example("Not found", "not_found", "Not found."), _INVALID_CURSOR],
            ),
        },
    )
    def get(self, request, id: int):
        account = selectors.account_get(customer=_customer_or_404(request), account_id=id)
        filters = self.FilterSerializer(
            data=request.query_params, context={"currency": account.currency}
        )
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        postings = selectors.posting_list(
            account=account,
            filters=selectors.PostingFilters(
                date_from=data.get("date_from"),
                date_to=data.get("date_to"),
                amount_min=data.get("amount_min"),
                amount_max=data.get("amount_max"),
                text=data.get("q", ""),
            ),
        )
        return paginated_response(
            pagination_class=self.pagination_class,
            serializer_class=self.OutputSerializer,
            queryset=postings,
            request=request,
            view=self,
        )


class JSONOnlyNegotiation(BaseContentNegotiation):
    """Ignore the Accept header: the statement is an HttpResponse that skips DRF's
    renderers, and its errors are always JSON, so neither can become a 406."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class AccountStatementApi(APIView):
    permission_classes = [IsCustomer]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnlyNegotiation

    class FilterSerializer(_DateRangeSerializer):
        date_from = DayField(help_text="First day, YYYY-MM-DD (UTC).")
        date_to = DayField(help_text="Last day included, YYYY-MM-DD (UTC).")

        def validate(self, attrs):
            attrs = super().validate(attrs)
            if (attrs["date_to"] - attrs["date_from"]).days + 1 > STATEMENT_MAX_DAYS:
                raise serializers.ValidationError(
                    {"date_to": [f"A statement covers at most {STATEMENT_MAX_DAYS} days."]}
                )
            return attrs

    @extend_schema(
        summary="An account statement as CSV",
        description=(
            "A CSV file (`text/csv`, as an attachment) of the account's transactions from "
            f"`date_from` to `date_to`, both included, at most {STATEMENT_MAX_DAYS} days, "
            "newest first. Cells that a spreadsheet would run as a formula start with `'`. "
            "Errors are JSON."
        ),
        operation_id="accounts_statement_retrieve",
        tags=["accounts"],
        parameters=[FilterSerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="The statement file.",
                examples=[
                    OpenApiExample(
                        "Statement",
                        value=(
                            "date,description,counterparty,amount,currency,entry_id\r\n"
                            "2025-06-01,Rent June,Harbour Lettings,-1150.00,GBP,490\r\n"
                        ),
                    )
                ],
            ),
            **_errors(
                400,
                401,
                403,
                404,
                e400=[
                    _error_example(
                        "Range too long",
                        "invalid",
                        "Some fields are not valid.",
                        {"date_to": [f"A statement covers at most {STATEMENT_MAX_DAYS} days."]},
                    ),
                    _error_example(
                        "Dates missing",
                        "invalid",
                        "Some fields are not valid.",
                        {
                            "date_from": ["This field is required."],
                            "date_to": ["This field is required."],
                        },
                    ),
                ],
            ),
        },
    )
    def get(self, request, id: int):
        account = selectors.account_get(customer=_customer_or_404(request), account_id=id)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        date_from, date_to = filters.validated_data["date_from"], filters.validated_data["date_to"]
        postings = selectors.posting_list(
            account=account,
            filters=selectors.PostingFilters(date_from=date_from, date_to=date_to),
        )
        response = HttpResponse(
            statement_csv(account=account, postings=postings),
            content_type="text/csv; charset=utf-8",
        )
        filename = f"statement-{account.number[-4:]}-{date_from}-{date_to}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "private, no-store"
        return response


# --- Payments --------------------------------------------------------------------------

_IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description=(
        "1 to 100 printable ASCII characters, new for each payment (a UUID). Sending the "
        "same key with the same body again replays the first answer and never pays twice; "
        "the same key with a different body is a 422."
    ),
)
_REPLAYED = OpenApiParameter(
    "Idempotent-Replayed",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200],
    description="`true` when this answer replays an earlier request with the same key.",
)


class PaymentListCreateApi(APIView):
    permission_classes = [IsCustomer]
    pagination_class = HistoryCursorPagination
    OutputSerializer = PaymentOutputSerializer

    @extend_schema_serializer(component_name="PaymentCreate")
    class InputSerializer(serializers.Serializer):
        """Only the types are checked here; payment_create checks everything else."""

        from_account = serializers.IntegerField(min_value=1, max_value=MAX_ID)
        to_account = serializers.IntegerField(
            min_value=1,
            max_value=MAX_ID,
            allow_null=True,
            default=None,
            help_text="One of your own accounts; or give to_iban instead.",
        )
        to_iban = serializers.CharField(
            max_length=64,
            allow_blank=True,
            allow_null=True,
            default="",
            help_text="Any IBAN: another BankSight customer's or another bank's.",
        )
        amount = AmountInputField(help_text='A string such as "12.50"; JSON numbers are refused.')
        currency = serializers.RegexField(
            r"^[A-Z]{3}$",
            error_messages={"invalid": "Use a 3-letter currency code such as GBP."},
        )
        reference = serializers.CharField(
            max_length=140, allow_blank=True, allow_null=True, default=""
        )

    @extend_schema(
        summary="The customer's payments, newest first",
        operation_id="payments_list",
        tags=["payments"],
        parameters=PAGE_PARAMETERS,
        responses={
            200: OpenApiResponse(
                _page_of(OutputSerializer, "PaginatedPaymentList"),
                examples=[OpenApiExample("A page", value=_page_example(PAYMENT_EXAMPLE))],
            ),
            **_errors(401, 403, 404, e404=[_INVALID_CURSOR]),
        },
    )
    def get(self, request):
        return _customer_page(self, request, selectors.payment_list)

    @extend_schema(
        summary="Make a payment",
        description=(
            "Between the customer's own accounts (`to_account`), to another BankSight "
            "customer or to another bank (`to_iban`). A payment between BankSight accounts "
            "completes at once; one to another bank is `pending` until it settles; fraud "
            "screening may leave it `held_for_review` or `rejected`. Send an "
            "`Idempotency-Key` header and resend the same request with the same key when "
            "unsure whether it arrived."
        ),
        operation_id="payments_create",
        tags=["payments"],
        parameters=[_IDEMPOTENCY_KEY, _REPLAYED],
        request=InputSerializer,
        examples=[
            OpenApiExample(
                "Between own accounts",
                value={
                    "from_account": 12,
                    "to_account": 13,
                    "amount": "25.00",
                    "currency": "GBP",
                    "reference": "Savings",
                },
                request_only=True,
            ),
            OpenApiExample(
                "To another bank",
                value={
                    "from_account": 12,
                    "to_iban": "DE89370400440532013000",
                    "amount": "1150.00",
                    "currency": "GBP",
                    "reference": "Rent June",
                },
                request_only=True,
            ),
        ],
        responses={
            201: OpenApiResponse(
                OutputSerializer,
                description="Created.",
                examples=[OpenApiExample("Completed", value=PAYMENT_EXAMPLE)],
            ),
            200: OpenApiResponse(
                OutputSerializer,
                description="The key was used before for this same request: the first payment.",
                examples=[OpenApiExample("Replayed", value=PAYMENT_EXAMPLE)],
            ),
            **_errors(
                400,
                401,
                403,
                e400=[
                    _error_example(
                        "Invalid",
                        "invalid",
                        "Some fields are not valid.",
                        {"amount": ["GBP amounts have at most 2 decimal places."]},
                    ),
                    _error_example(
                        "No Idempotency-Key",
                        "invalid",
                        "Some fields are not valid.",
                        {
                            "idempotency_key": [
                                "Send an Idempotency-Key header of 1 to 100 printable characters."
                            ]
                        },
                    ),
                    _error_example(
                        "Insufficient funds",
                        "insufficient_funds",
                        "There is not enough money in this account.",
                        {"amount": ["You can send at most 1,234.50 GBP."]},
                    ),
                    _error_example(
                        "Account not open",
                        "account_not_open",
                        "This account cannot make or receive payments right now.",
                        {"from_account": ["This account cannot make or receive payments now."]},
                    ),
                ],
            ),
            422: OpenApiResponse(
                ErrorSerializer,
                description="The Idempotency-Key was used before for a different request.",
                examples=[
                    _error_example(
                        "Key reused",
                        "idempotency_key_reused",
                        "This Idempotency-Key was already used for a different payment. "
                        "Use a new key for a new payment.",
                    )
                ],
            ),
        },
    )
    def post(self, request):
        customer = _customer_or_403(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        payment, created = payment_create(
            customer=customer,
            actor=request.user,
            from_account_id=data["from_account"],
            amount=data["amount"],
            currency=data["currency"],
            idempotency_key=request.headers.get("Idempotency-Key", ""),
            to_account_id=data["to_account"],
            to_iban=data["to_iban"] or "",
            reference=data["reference"] or "",
        )
        body = self.OutputSerializer(payment).data
        if created:
            return Response(body, status=status.HTTP_201_CREATED)
        return Response(body, status=status.HTTP_200_OK, headers={"Idempotent-Replayed": "true"})


class PaymentDetailApi(APIView):
    permission_classes = [IsCustomer]
    OutputSerializer = PaymentOutputSerializer

    @extend_schema(
        summary="One payment",
        operation_id="payments_retrieve",
        tags=["payments"],
        responses={
            200: OpenApiResponse(
                OutputSerializer, examples=[OpenApiExample("Payment", value=PAYMENT_EXAMPLE)]
            ),
            **_errors(401, 403, 404),
        },
    )
    def get(self, request, id: int):
        payment = selectors.payment_get(customer=_customer_or_404(request), payment_id=id)
        return Response(self.OutputSerializer(payment).data)


# --- Payees ----------------------------------------------------------------------------


class PayeeListCreateApi(APIView):
    permission_classes = [IsCustomer]
    OutputSerializer = PayeeOutputSerializer

    @extend_schema_serializer(component_name="PayeeCreate")
    class InputSerializer(serializers.Serializer):
        """Only the types are checked here; payee_create checks the values."""

        name = serializers.CharField(max_length=1000, allow_blank=True)
        iban = serializers.CharField(max_length=1000, allow_blank=True)
        default_reference = serializers.CharField(max_length=1000, allow_blank=True, default="")

    @extend_schema(
        summary="The customer's payees",
        operation_id="payees_list",
        tags=["payees"],
        responses={
            200: OpenApiResponse(
                OutputSerializer(many=True),
                examples=[OpenApiExample("Payees", value=PAYEE_EXAMPLE)],
            ),
            **_errors(401, 403),
        },
    )
    def get(self, request):
        customer = _customer(request)
        if customer is None:
            return Response([])
        return Response(
            self.OutputSerializer(selectors.payee_list(customer=customer), many=True).data
        )

    @extend_schema(
        summary="Save a payee",
        operation_id="payees_create",
        tags=["payees"],
        request=InputSerializer,
        examples=[
            OpenApiExample(
                "Payee",
                value={
                    "name": "Harbour Lettings",
                    "iban": "DE89 3704 0044 0532 0130 00",
                    "default_reference": "Rent",
                },
                request_only=True,
            )
        ],
        responses={
            201: OpenApiResponse(
                OutputSerializer, examples=[OpenApiExample("Payee", value=PAYEE_EXAMPLE)]
            ),
            **_errors(
                400,
                401,
                403,
                e400=[
                    _error_example(
                        "Invalid",
                        "invalid",
                        "Some fields are not valid.",
                        {"iban": ["You already have a payee with this IBAN."]},
                    )
                ],
            ),
        },
    )
    def post(self, request):
        customer = _customer_or_403(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payee = payee_create(customer=customer, **serializer.validated_data)
        return Response(self.OutputSerializer(payee).data, status=status.HTTP_201_CREATED)


class PayeeDetailApi(APIView):
    permission_classes = [IsCustomer]
    OutputSerializer = PayeeOutputSerializer

    @extend_schema(
        summary="One payee",
        operation_id="payees_retrieve",
        tags=["payees"],
        responses={
            200: OpenApiResponse(
                OutputSerializer, examples=[OpenApiExample("Payee", value=PAYEE_EXAMPLE)]
            ),
            **_errors(401, 403, 404),
        },
    )
    def get(self, request, id: int):
        payee = selectors.payee_get(customer=_customer_or_404(request), payee_id=id)
        return Response(self.OutputSerializer(payee).data)

    @extend_schema(
        summary="Delete a payee",
        description="A payee with standing orders, past or active, is kept (409).",
        operation_id="payees_destroy",
        tags=["payees"],
        responses={
            204: OpenApiResponse(description="Deleted."),
            **_errors(
                401,
                403,
                404,
                409,
                e409=[
                    _error_example(
                        "Has standing orders",
                        "invalid_state",
                        "Cancel the standing orders to this payee first.",
                    )
                ],
            ),
        },
    )
    def delete(self, request, id: int):
        payee = selectors.payee_get(customer=_customer_or_404(request), payee_id=id)
        payee_delete(payee=payee)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Cards -----------------------------------------------------------------------------


class CardListApi(APIView):
    permission_classes = [IsCustomer]
    OutputSerializer = CardOutputSerializer

    @extend_schema(
        summary="The customer's cards",
        operation_id="cards_list",
        tags=["cards"],
        responses={
            200: OpenApiResponse(
                OutputSerializer(many=True),
                examples=[OpenApiExample("Cards", value={**CARD_EXAMPLE, "status": "active"})],
            ),
            **_errors(401, 403),
        },
    )
    def get(self, request):
        customer = _customer(request)
        if customer is None:
            return Response([])
        return Response(
            self.OutputSerializer(selectors.card_list(customer=customer), many=True).data
        )


class CardDetailApi(APIView):
    permission_classes = [IsCustomer]
    OutputSerializer = CardOutputSerializer

    @extend_schema(
        summary="One card",
        operation_id="cards_retrieve",
        tags=["cards"],
        responses={
            200: OpenApiResponse(
                OutputSerializer,
                examples=[OpenApiExample("Card", value={**CARD_EXAMPLE, "status": "active"})],
            ),
            **_errors(401, 403, 404),
        },
    )
    def get(self, request, id: int):
        card = selectors.card_get(customer=_customer_or_404(request), card_id=id)
        return Response(self.OutputSerializer(card).data)


_CANCELLED_CARD = _error_example(
    "Cancelled card", "invalid_state", "A cancelled card cannot be frozen."
)


class CardFreezeApi(APIView):
    permission_classes = [IsCustomer]
    OutputSerializer = CardOutputSerializer

    @extend_schema(
        summary="Freeze a card",
        description="Card payments are declined until it is unfrozen. Freezing twice is fine.",
        operation_id="cards_freeze",
        tags=["cards"],
        request=None,
        responses={
            200: OpenApiResponse(
                OutputSerializer, examples=[OpenApiExample("Frozen", value=CARD_EXAMPLE)]
            ),
            **_errors(401, 403, 404, 409, e409=[_CANCELLED_CARD]),
        },
    )
    def post(self, request, id: int):
        card = selectors.card_get(customer=_customer_or_404(request), card_id=id)
        card = card_freeze(card=card, actor=request.user)
        return Response(self.OutputSerializer(card).data)


class CardUnfreezeApi(APIView):
    permission_classes = [IsCustomer]
    OutputSerializer = CardOutputSerializer

    @extend_schema(
        summary="Unfreeze a card",
        operation_id="cards_unfreeze",
        tags=["cards"],
        request=None,
        responses={
            200: OpenApiResponse(
                OutputSerializer,
                examples=[OpenApiExample("Active", value={**CARD_EXAMPLE, "status": "active"})],
            ),
            **_errors(
                401,
                403,
                404,
                409,
                e409=[
                    _error_example(
                        "Cancelled card", "invalid_state", "A cancelled card cannot be unfrozen."
                    )
                ],
            ),
        },
    )
    def post(self, request, id: int):
        card = selectors.card_get(customer=_customer_or_404(request), card_id=id)
        card = card_unfreeze(card=card, actor=request.user)
        return Response(self.OutputSerializer(card).data)


# --- Loan pre-qualification ----------------------------------------------------------


class LoanPrequalificationListCreateApi(APIView):
    permission_classes = [IsCustomer]
    pagination_class = HistoryCursorPagination
    OutputSerializer = LoanPrequalificationOutputSerializer

    @extend_schema_serializer(component_name="LoanPrequalificationCreate")
    class InputSerializer(serializers.Serializer):
        stated_annual_income = AmountInputField(
            help_text='Gross income a year in the currency of the first account, as "40000.00".'
        )

    @extend_schema(
        summary="The customer's loan pre-qualifications, newest first",
        operation_id="loans_prequalifications_list",
        tags=["loans"],
        parameters=PAGE_PARAMETERS,
        responses={
            200: OpenApiResponse(
                _page_of(OutputSerializer, "PaginatedLoanPrequalificationList"),
                examples=[OpenApiExample("A page", value=_page_example(PREQUALIFICATION_EXAMPLE))],
            ),
            **_errors(401, 403, 404, e404=[_INVALID_CURSOR]),
        },
    )
    def get(self, request):
        return _customer_page(self, request, selectors.loan_prequalification_list)

    @extend_schema(
        summary="Pre-qualify for a loan",
        description=(
            "An indicative range from the stated income, the last 90 days of account "
            "activity and current balances. It is stored, and is not an offer."
        ),
        operation_id="loans_prequalifications_create",
        tags=["loans"],
        request=InputSerializer,
        examples=[
            OpenApiExample("Income", value={"stated_annual_income": "40000.00"}, request_only=True)
        ],
        responses={
            201: OpenApiResponse(
                OutputSerializer,
                examples=[OpenApiExample("Eligible", value=PREQUALIFICATION_EXAMPLE)],
            ),
            **_errors(
                400,
                401,
                403,
                409,
                e400=[
                    _error_example(
                        "Invalid income",
                        "invalid",
                        "Some fields are not valid.",
                        {"stated_annual_income": ["Enter an amount such as 12.50."]},
                    )
                ],
                e409=[
                    _error_example(
                        "No account",
                        "invalid_state",
                        "You need an open current or savings account to pre-qualify.",
                    )
                ],
            ),
        },
    )
    def post(self, request):
        customer = _customer_or_403(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = loan_prequalify(
            customer=customer,
            stated_annual_income=serializer.validated_data["stated_annual_income"],
        )
        return Response(self.OutputSerializer(result).data, status=status.HTTP_201_CREATED)


class LoanPrequalificationDetailApi(APIView):
    permission_classes = [IsCustomer]
    OutputSerializer = LoanPrequalificationOutputSerializer

    @extend_schema(
        summary="One loan pre-qualification",
        operation_id="loans_prequalifications_retrieve",
        tags=["loans"],
        responses={
            200: OpenApiResponse(
                OutputSerializer,
                examples=[OpenApiExample("Eligible", value=PREQUALIFICATION_EXAMPLE)],
            ),
            **_errors(401, 403, 404),
        },
    )
    def get(self, request, id: int):
        result = selectors.loan_prequalification_get(
            customer=_customer_or_404(request), prequalification_id=id
        )
        return Response(self.OutputSerializer(result).data)


# --- Standing orders -------------------------------------------------------------------


@extend_schema_serializer(component_name="StandingOrder")
class StandingOrderOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    from_account = serializers.IntegerField(source="from_account_id")
    payee = serializers.IntegerField(source="payee_id")
    payee_name = serializers.CharField(source="payee.name")
    to_iban = serializers.CharField(source="payee.iban")
    amount = MinorMoneyField(source="amount_minor")
    currency = serializers.CharField()
    reference = serializers.CharField()
    frequency = serializers.ChoiceField(choices=StandingOrder.Frequency.choices)
    next_run_on = serializers.DateField()
    end_on = serializers.DateField(allow_null=True)
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


STANDING_ORDER_EXAMPLE = {
    "id": 2,
    "from_account": 12,
    "payee": 5,
    "payee_name": "Harbour Lettings",
    "to_iban": "DE89370400440532013000",
    "amount": "1150.00",
    "currency": "GBP",
    "reference": "Rent",
    "frequency": "monthly",
    "next_run_on": "2025-07-01",
    "end_on": None,
    "active": True,
    "created_at": "2025-01-01T09:30:00Z",
}


class StandingOrderListApi(APIView):
    permission_classes = [IsCustomer]
    OutputSerializer = StandingOrderOutputSerializer

    @extend_schema(
        summary="The customer's standing orders, active first",
        operation_id="standing_orders_list",
        tags=["standing orders"],
        responses={
            200: OpenApiResponse(
                OutputSerializer(many=True),
                examples=[OpenApiExample("Standing orders", value=STANDING_ORDER_EXAMPLE)],
            ),
            **_errors(401, 403),
        },
    )
    def get(self, request):
        customer = _customer(request)
        if customer is None:
            return Response([])
        orders = selectors.standing_order_list(customer=customer)
        return Response(self.OutputSerializer(orders, many=True).data)


class StandingOrderDetailApi(APIView):
    permission_classes = [IsCustomer]
    OutputSerializer = StandingOrderOutputSerializer

    @extend_schema(
        summary="One standing order",
        operation_id="standing_orders_retrieve",
        tags=["standing orders"],
        responses={
            200: OpenApiResponse(
                OutputSerializer,
                examples=[OpenApiExample("Standing order", value=STANDING_ORDER_EXAMPLE)],
            ),
            **_errors(401, 403, 404),
        },
    )
    def get(self, request, id: int):
        order = selectors.standing_order_get(customer=_customer_or_404(request), order_id=id)
        return Response(self.OutputSerializer(order).data)
