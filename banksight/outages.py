"""PostgreSQL or Redis down: what that looks like in code, and how we wait for them.

`SERVICE_ERRORS` are the exceptions that mean "a service we depend on is unreachable just
now", not "this request is wrong": Django's database errors (psycopg's, and psycopg_pool's
`PoolTimeout`, which Django wraps as OperationalError), redis-py's connection and timeout
errors (also from channels_redis, which uses redis-py) and kombu's OperationalError (the
Celery broker). redis-py's and kombu's are not Python's builtin ConnectionError.

Web requests that hit one answer 503 (banksight.views.server_error and the API's
exception handler); the chat worker waits for the services and carries on
(apps.chat.tasks).
"""

from __future__ import annotations

import logging
import time

import psycopg_pool
import redis.exceptions
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.http import HttpResponse
from django.template.loader import render_to_string
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)

SERVICE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    psycopg_pool.PoolTimeout,
    redis.exceptions.ConnectionError,  # BusyLoadingError (a restarting Redis) included
    redis.exceptions.TimeoutError,
    BrokerError,
)


def is_service_error(error: BaseException | None) -> bool:
    return isinstance(error, SERVICE_ERRORS)


def services_reachable() -> bool:
    """One round trip to PostgreSQL and one to Redis (the cache's server)."""
    from django_redis import get_redis_connection

    try:
        get_redis_connection("default").ping()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except SERVICE_ERRORS:
        connection.close()  # a broken connection goes back to the pool, which drops it
        return False
    return True


def services_wait(*, seconds: float) -> bool:
    """Wait up to `seconds` for PostgreSQL and Redis to answer again; True once they do.

    Backs off from 0.25 s to 2 s between tries. The database connection a failure broke is
    handed back first, so the next query gets a working one from the pool.
    """
    close_old_connections()
    connection.close()
    deadline = time.monotonic() + seconds
    delay = 0.25
    while True:
        if services_reachable():
            return True
        if time.monotonic() + delay > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


UNAVAILABLE_MESSAGE = (
    "The service is briefly unavailable. Nothing you sent was lost; please try again in a moment."
)
RETRY_AFTER_SECONDS = 5


def service_unavailable_response(request, error: BaseException) -> HttpResponse:
    """503 for a request that found PostgreSQL or Redis down: the API's error shape under
    /api/, a plain page elsewhere (rendered without the request, so the page itself needs
    neither the session nor the user, i.e. neither service)."""
    from banksight.api.errors import json_error_response

    logger.warning(
        "a service is down; answering 503",
        extra={"path": request.path, "error": f"{type(error).__name__}: {error}"[:300]},
    )
    if request.path.startswith("/api/"):
        response = json_error_response("service_unavailable", UNAVAILABLE_MESSAGE, 503)
    else:
        page = render_to_string(
            "errors/unavailable.html",
            {"status": 503, "message": UNAVAILABLE_MESSAGE, "path": request.path},
        )
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
