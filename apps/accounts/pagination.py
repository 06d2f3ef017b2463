"""Cursor pagination for the banking API's histories (transactions, payments, ...).

A cursor, unlike a page number, stays correct while new rows arrive at the top: the app
follows `next` and never sees a row twice or skips one.
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class HistoryCursorPagination(CursorPagination):
    """25 a page by default, `page_size` up to 100. Newest first by the given ordering.

    DRF positions the cursor on the first ordering field and breaks ties with an offset,
    so rows booked at the same instant are neither repeated nor skipped.
    """

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")


class PostingCursorPagination(HistoryCursorPagination):
    ordering = ("-booked_at", "-id")


def paginated_response(
    *,
    pagination_class: type[CursorPagination],
    serializer_class: type[serializers.Serializer],
    queryset: QuerySet,
    request: Request,
    view: APIView,
) -> Response:
    """`{"next", "previous", "results"}` for one page of `queryset`."""
    paginator = pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


def empty_page() -> Response:
    """The first and only page of an empty history (a user with no customer profile)."""
    return Response({"next": None, "previous": None, "results": []})
