"""Saved payees."""

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
    PAYEE_EXAMPLE,
    PayeeOutputSerializer,
    customer_of,
    customer_or_403,
    customer_or_404,
    error_example,
    error_responses,
)
from apps.accounts.permissions import IsCustomer
from apps.accounts.selectors import banking as selectors
from apps.accounts.services.payees import payee_create, payee_delete

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
            **error_responses(401, 403),
        },
    )
    def get(self, request):
        customer = customer_of(request)
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
            **error_responses(
                400,
                401,
                403,
                e400=[
                    error_example(
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
        customer = customer_or_403(request)
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
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request, id: int):
        payee = selectors.payee_get(customer=customer_or_404(request), payee_id=id)
        return Response(self.OutputSerializer(payee).data)

    @extend_schema(
        summary="Delete a payee",
        description="A payee with standing orders, past or active, is kept (409).",
        operation_id="payees_destroy",
        tags=["payees"],
        responses={
            204: OpenApiResponse(description="Deleted."),
            **error_responses(
                401,
                403,
                404,
                409,
                e409=[
                    error_example(
                        "Has standing orders",
                        "invalid_state",
                        "Cancel the standing orders to this payee first.",
                    )
                ],
            ),
        },
    )
    def delete(self, request, id: int):
        payee = selectors.payee_get(customer=customer_or_404(request), payee_id=id)
        payee_delete(payee=payee)
        return Response(status=status.HTTP_204_NO_CONTENT)
