"""Loan pre-qualification."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.banking_api.common import (
    INVALID_CURSOR,
    PAGE_PARAMETERS,
    PREQUALIFICATION_EXAMPLE,
    AmountInputField,
    LoanPrequalificationOutputSerializer,
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
from apps.accounts.services.loans import loan_prequalify

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
                page_of(OutputSerializer, "PaginatedLoanPrequalificationList"),
                examples=[OpenApiExample("A page", value=page_example(PREQUALIFICATION_EXAMPLE))],
            ),
            **error_responses(401, 403, 404, e404=[INVALID_CURSOR]),
        },
    )
    def get(self, request):
        return customer_page(self, request, selectors.loan_prequalification_list)

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
            **error_responses(
                400,
                401,
                403,
                409,
                e400=[
                    error_example(
                        "Invalid income",
                        "invalid",
                        "Some fields are not valid.",
                        {"stated_annual_income": ["Enter an amount such as 12.50."]},
                    )
                ],
                e409=[
                    error_example(
                        "No account",
                        "invalid_state",
                        "You need an open current or savings account to pre-qualify.",
                    )
                ],
            ),
        },
    )
    def post(self, request):
        customer = customer_or_403(request)
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
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request, id: int):
        result = selectors.loan_prequalification_get(
            customer=customer_or_404(request), prequalification_id=id
        )
        return Response(self.OutputSerializer(result).data)
