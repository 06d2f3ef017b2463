"""Liveness and readiness probes for the load balancer and for people."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django_redis import get_redis_connection


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    get_redis_connection("default").ping()


def _check_worker() -> None:
    from banksight.celery import app

    replies = app.control.ping(timeout=1.0, limit=1)
    if not replies:
        raise RuntimeError("no Celery worker answered")


# Name -> check. The model server joins with the assistant.
READINESS_CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "redis": _check_redis,
    "worker": _check_worker,
}


def _timed(check: Callable[[], None]) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception as error:  # noqa: BLE001 - any failure means "not ready"
        outcome = {"status": "failed", "error": f"{type(error).__name__}: {error}"[:200]}
    else:
        outcome = {"status": "ok"}
    outcome["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return outcome


@login_not_required
@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
def readyz(request):
    checks = {name: _timed(check) for name, check in READINESS_CHECKS.items()}
    ready = all(result["status"] == "ok" for result in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "failed", "checks": checks}, status=200 if ready else 503
    )
