"""Payments: create with an Idempotency-Key, list, read."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.banking_api.common import (
    INVALID_CURSOR,
    MAX_ID,
    PAGE_PARAMETERS,
    PAYMENT_EXAMPLE,
    AmountInputField,
    ErrorSerializer,
    PaymentOutputSerializer,
    customer_or_403,
    customer_or_404,
    customer_page,
    error_example,
    error_responses,
    page_example,
    page_of,
)
from apps.accounts.pagination import (
    HistoryCursorPagination,
)
from apps.accounts.permissions import IsCustomer
from apps.accounts.selectors import banking as selectors
from apps.accounts.services.payments import payment_create

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
                page_of(OutputSerializer, "PaginatedPaymentList"),
                examples=[OpenApiExample("A page", value=page_example(PAYMENT_EXAMPLE))],
            ),
            **error_responses(401, 403, 404, e404=[INVALID_CURSOR]),
        },
    )
    def get(self, request):
        return customer_page(self, request, selectors.payment_list)

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
            **error_responses(
                400,
                401,
                403,
                e400=[
                    error_example(
                        "Invalid",
                        "invalid",
                        "Some fields are not valid.",
                        {"amount": ["GBP amounts have at most 2 decimal places."]},
                    ),
                    error_example(
                        "No Idempotency-Key",
                        "invalid",
                        "Some fields are not valid.",
                        {
                            "idempotency_key": [
                                "Send an Idempotency-Key header of 1 to 100 printable characters."
                            ]
                        },
                    ),
                    error_example(
                        "Insufficient funds",
                        "insufficient_funds",
                        "There is not enough money in this account.",
                        {"amount": ["You can send at most 1,234.50 GBP."]},
                    ),
                    error_example(
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
                    error_example(
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
        customer = customer_or_403(request)
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
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request, id: int):
        payment = selectors.payment_get(customer=customer_or_404(request), payment_id=id)
        return Response(self.OutputSerializer(payment).data)
