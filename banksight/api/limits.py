"""Limits on what a client may send: body size, JSON nesting, text encoding.

A request body over `API_MAX_BODY_BYTES` on an /api/ path is refused with 413 before it is
read (by its Content-Length here; a body without one, sent in chunks, is counted as it
arrives by banksight/http_handler.py). JSON is parsed by `json_loads_limited`, which
refuses nesting deeper than `API_MAX_JSON_DEPTH` instead of letting Python's recursion
limit turn it into a 500; the API's parser and the chat websockets both use it.
"""

from __future__ import annotations

import codecs
import json

from django.conf import settings
from rest_framework import parsers, status
from rest_framework.exceptions import APIException, ParseError

from banksight.api.errors import json_error_response

API_PREFIX = "/api/"


class JsonTooDeep(ValueError):
    pass


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


def too_large_message() -> str:
    return f"The request body is larger than {settings.API_MAX_BODY_BYTES} bytes."


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON.")


def _deeper_than(value, limit: int) -> bool:
    """Whether lists and objects nest deeper than `limit` levels (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def json_loads_limited(text: str | bytes, *, max_depth: int | None = None):
    """json.loads, refusing NaN/Infinity and nesting deeper than `max_depth` (JsonTooDeep);
    anything else that is not JSON raises ValueError."""
    limit = max_depth or settings.API_MAX_JSON_DEPTH
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as error:
        raise JsonTooDeep(f"JSON may nest at most {limit} levels deep.") from error
    if isinstance(value, dict | list) and _deeper_than(value, limit):
        raise JsonTooDeep(f"JSON may nest at most {limit} levels deep.")
    return value


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the limits above; every refusal is a 400 (413 for size)."""

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            return {}
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read(settings.API_MAX_BODY_BYTES + 1)
        if len(raw) > settings.API_MAX_BODY_BYTES:
            raise PayloadTooLarge(too_large_message())
        try:
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError) as error:
            raise ParseError(
                f"The request body is not valid {encoding} text.", code="invalid_encoding"
            ) from error
        try:
            return json_loads_limited(text)
        except JsonTooDeep as error:
            raise ParseError(str(error), code="json_too_deep") from error
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from error


def _declared_length(request) -> int | None:
    value = request.META.get("CONTENT_LENGTH") or ""
    return int(value) if value.isascii() and value.isdigit() else None


class ApiBodyLimitMiddleware:
    """413 in the API's error shape for an /api/ request that declares a body over the
    limit; 400 for a Content-Length that is not a number. Nothing of the body is read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(API_PREFIX):
            raw = request.META.get("CONTENT_LENGTH") or ""
            length = _declared_length(request)
            if raw and length is None:
                return json_error_response(
                    "bad_request", "The Content-Length header is not a number.", 400
                )
            if length is not None and length > settings.API_MAX_BODY_BYTES:
                return json_error_response("payload_too_large", too_large_message(), 413)
        return self.get_response(request)
