"""Liveness and readiness probes for the load balancer and for people."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django_redis import get_redis_connection

# Each check answers within this, or counts as failed: /readyz answers within about this
# long even with a service down (the checks run side by side).
CHECK_TIMEOUT_S = 1.5
# Few threads: a check stuck past its timeout ends on its own (every client involved has a
# timeout of its own: the pool's, Redis's socket timeouts, the worker ping's).
_checks = ThreadPoolExecutor(max_workers=6, thread_name_prefix="readyz")


def _check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()  # a check thread's connection goes back to the pool


def _check_redis() -> None:
    get_redis_connection("default").ping()


def _check_worker() -> None:
    from banksight.celery import app

    # A connection of its own: after a Redis restart a pooled one is dead, and the ping
    # (a broadcast, unlike publishing a task) does not retry on another.
    with app.connection_for_write() as connection:
        replies = app.control.ping(timeout=1.0, limit=1, connection=connection)
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


def _bounded(futures: dict, started: float) -> dict:
    results = {}
    for name, future in futures.items():
        try:
            results[name] = future.result(
                timeout=max(0.0, started + CHECK_TIMEOUT_S - time.perf_counter())
            )
        except FutureTimeout:
            results[name] = {
                "status": "failed",
                "error": f"no answer within {CHECK_TIMEOUT_S} s",
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            }
    return results


@login_not_required
@never_cache
def readyz(request):
    started = time.perf_counter()
    futures = {name: _checks.submit(_timed, check) for name, check in READINESS_CHECKS.items()}
    checks = _bounded(futures, started)
    ready = all(result["status"] == "ok" for result in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "failed", "checks": checks}, status=200 if ready else 503
    )
