"""Structured logs: JSON lines that carry the request id."""

from __future__ import annotations

import json
import logging

from banksight.requestid import RequestIdLogFilter


def _json_handler_output(caplog_records) -> list[dict]:
    from django.conf import settings
    from pythonjsonlogger.json import JsonFormatter

    fmt = settings.LOGGING["formatters"]["json"]
    formatter = JsonFormatter(fmt["format"], rename_fields=fmt["rename_fields"])
    return [json.loads(formatter.format(record)) for record in caplog_records]


def test_a_request_logs_json_with_its_request_id(client, db, caplog):
    caplog.handler.addFilter(RequestIdLogFilter())
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/api/v1/me", HTTP_X_REQUEST_ID="req-test-123456")
    assert response["X-Request-ID"] == "req-test-123456"
    lines = _json_handler_output(caplog.records)
    assert lines, "the 401 should have been logged"
    line = lines[-1]
    assert line["request_id"] == "req-test-123456"
    assert line["level"] == "WARNING"
    assert line["logger"] == "django.request"


def test_an_unusable_request_id_is_replaced(client, db):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces\n")
    assert response["X-Request-ID"] != "bad id with spaces\n"
    assert len(response["X-Request-ID"]) == 32
