"""Cards: list, read, freeze, unfreeze."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
)
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.banking_api.common import (
    CARD_EXAMPLE,
    CardOutputSerializer,
    customer_of,
    customer_or_404,
    error_example,
    error_responses,
)
from apps.accounts.permissions import IsCustomer
from apps.accounts.selectors import banking as selectors
from apps.accounts.services.cards import card_freeze, card_unfreeze

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
            **error_responses(401, 403),
        },
    )
    def get(self, request):
        customer = customer_of(request)
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
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request, id: int):
        card = selectors.card_get(customer=customer_or_404(request), card_id=id)
        return Response(self.OutputSerializer(card).data)


_CANCELLED_CARD = error_example(
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
            **error_responses(401, 403, 404, 409, e409=[_CANCELLED_CARD]),
        },
    )
    def post(self, request, id: int):
        card = selectors.card_get(customer=customer_or_404(request), card_id=id)
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
            **error_responses(
                401,
                403,
                404,
                409,
                e409=[
                    error_example(
                        "Cancelled card", "invalid_state", "A cancelled card cannot be unfrozen."
                    )
                ],
            ),
        },
    )
    def post(self, request, id: int):
        card = selectors.card_get(customer=customer_or_404(request), card_id=id)
        card = card_unfreeze(card=card, actor=request.user)
        return Response(self.OutputSerializer(card).data)
