"""Standing orders (read-only)."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.banking_api.common import (
    MinorMoneyField,
    customer_of,
    customer_or_404,
    error_responses,
)
from apps.accounts.models import StandingOrder
from apps.accounts.permissions import IsCustomer
from apps.accounts.selectors import banking as selectors

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
            **error_responses(401, 403),
        },
    )
    def get(self, request):
        customer = customer_of(request)
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
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request, id: int):
        order = selectors.standing_order_get(customer=customer_or_404(request), order_id=id)
        return Response(self.OutputSerializer(order).data)
