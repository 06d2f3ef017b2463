"""Item 15: PostgreSQL or Redis down: requests fail fast with a 503, /readyz names the
service, and everything recovers without a restart once the service is back.

The real test servers of this pytest session are stopped and started again on the same
port, folder and password (banksight.localservices), so every URL stays valid; each test
starts them again in `finally`. Requests go through the real ASGI application (the HTTP
thread pool that serves uvicorn), as a deployment serves them: Django's test client keeps
one database connection for the whole test, which no server does. Timings: the pool's
timeout is 1.5 s and Redis's socket timeouts 1 s; "within 2 s" is asserted as < 2.5 s, the
margin for this shared, busy 2-core machine (a request that hung would take the old 10 s
pool timeout or more).
"""

from __future__ import annotations

import time

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from banksight.asgi import application
from tests.factories import account_make, customer_make
from tests.security.outages import pg_start, pg_stop, redis_start, redis_stop, services

if services is None:  # DATABASE_URL / REDIS_URL given: not our servers to stop
    pytest.skip("needs the private test servers of localservices", allow_module_level=True)

FAST_S = 2.5
API_URL = "/api/v1/accounts/"


class AsgiClient:
    """HTTP requests to banksight.asgi.application, in process."""

    def __init__(self, headers: dict | None = None):
        self.headers = headers or {}

    def get(self, path: str) -> httpx.Response:
        async def request():
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver", headers=self.headers
            ) as client:
                return await client.get(path)

        return async_to_sync(request)()


def timed(get, url: str):
    started = time.monotonic()
    response = get(url)
    return response, time.monotonic() - started


@pytest.fixture
def casey(transactional_db):
    customer = customer_make(username="casey", first_name="Casey", last_name="Jones")
    account_make(customer, balance="1250.00")
    return customer


@pytest.fixture
def api(casey):
    """The mobile app: a bearer token."""
    token = AccessToken.for_user(casey.user)
    return AsgiClient({"Authorization": f"Bearer {token}"})


@pytest.fixture
def web(casey):
    """The portal in a browser: a signed-in session."""
    browser = Client()
    browser.force_login(casey.user)
    session = browser.cookies[settings.SESSION_COOKIE_NAME].value
    return AsgiClient({"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"})


@pytest.fixture
def probe():
    return AsgiClient()


def assert_api_unavailable(response, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert body["message"]
    assert body["fields"] == {}
    assert response.headers["Retry-After"]
    assert elapsed < FAST_S, f"took {elapsed:.2f} s"


def test_postgresql_down_answers_503_fast_and_recovers_without_a_restart(api, web, probe):
    assert api.get(API_URL).status_code == 200
    assert web.get("/").status_code == 200
    try:
        pg_stop()
        assert_api_unavailable(*timed(api.get, API_URL))

        page, elapsed = timed(web.get, "/")
        assert page.status_code == 503
        assert page.headers["Content-Type"].startswith("text/html")
        assert "Service unavailable" in page.text
        assert elapsed < FAST_S, f"took {elapsed:.2f} s"

        ready, elapsed = timed(probe.get, "/readyz")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["database"]["status"] == "failed"
        assert checks["redis"]["status"] == "ok"
        assert elapsed < FAST_S, f"took {elapsed:.2f} s"
    finally:
        pg_start()

    # The same processes, nothing restarted: the pool connects again.
    response = api.get(API_URL)
    assert response.status_code == 200, response.text
    assert web.get("/").status_code == 200
    assert probe.get("/readyz").json()["checks"]["database"]["status"] == "ok"


def test_redis_down_answers_503_fast_and_recovers_without_a_restart(api, web, probe):
    assert api.get(API_URL).status_code == 200
    try:
        redis_stop()
        assert_api_unavailable(*timed(api.get, API_URL))

        # The portal keeps its sessions in PostgreSQL too: a page either still works or
        # is the 503 page, and answers fast either way.
        page, elapsed = timed(web.get, "/")
        assert page.status_code in (200, 503)
        assert elapsed < FAST_S, f"took {elapsed:.2f} s"

        ready, elapsed = timed(probe.get, "/readyz")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["redis"]["status"] == "failed"
        assert checks["database"]["status"] == "ok"
        assert elapsed < FAST_S, f"took {elapsed:.2f} s"
    finally:
        redis_start()

    assert api.get(API_URL).status_code == 200
    assert web.get("/").status_code == 200
    assert probe.get("/readyz").json()["checks"]["redis"]["status"] == "ok"
