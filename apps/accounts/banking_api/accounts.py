"""Accounts, their history and statements."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import money
from apps.accounts.banking_api.common import (
    ACCOUNT_EXAMPLE,
    INVALID_CURSOR,
    PAGE_PARAMETERS,
    STATEMENT_MAX_DAYS,
    TRANSACTION_EXAMPLE,
    AccountOutputSerializer,
    DayField,
    MoneyField,
    customer_of,
    customer_or_404,
    error_example,
    error_responses,
    page_example,
    page_of,
)
from apps.accounts.models import JournalEntry
from apps.accounts.pagination import (
    PostingCursorPagination,
    paginated_response,
)
from apps.accounts.permissions import IsCustomer
from apps.accounts.selectors import banking as selectors
from apps.accounts.statements import statement_csv
from banksight.api.output import output_data, output_list

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
            **error_responses(401, 403),
        },
    )
    def get(self, request):
        customer = customer_of(request)
        if customer is None:
            return Response([])
        accounts = selectors.account_list(customer=customer)
        return Response(output_list(self.OutputSerializer, accounts))


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
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request, id: int):
        account = selectors.account_get(customer=customer_or_404(request), account_id=id)
        return Response(output_data(self.OutputSerializer, account))


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
                page_of(OutputSerializer, "PaginatedTransactionList"),
                examples=[OpenApiExample("A page", value=page_example(TRANSACTION_EXAMPLE))],
            ),
            **error_responses(
                400,
                401,
                403,
                404,
                e400=[
                    error_example(
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
                e404=[error_example("Not found", "not_found", "Not found."), INVALID_CURSOR],
            ),
        },
    )
    def get(self, request, id: int):
        account = selectors.account_get(customer=customer_or_404(request), account_id=id)
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
            **error_responses(
                400,
                401,
                403,
                404,
                e400=[
                    error_example(
                        "Range too long",
                        "invalid",
                        "Some fields are not valid.",
                        {"date_to": [f"A statement covers at most {STATEMENT_MAX_DAYS} days."]},
                    ),
                    error_example(
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
        account = selectors.account_get(customer=customer_or_404(request), account_id=id)
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
