"""Shared fixtures: real PostgreSQL and Redis (from settings), and a real Celery worker.

The worker is a separate `celery worker` process pointed at the test database. Tests that
use it need committed rows, so they use `transactional_db`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.db import connection

from apps.accounts.roles import Role
from apps.accounts.services import user_create
from tests.helpers import PASSWORD, process_stop, totp_code

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """pytest-django creates, migrates and at the end drops the test database as the schema
    owner (DATABASE_OWNER_URL), like `manage.py migrate` (banksight/dbroles.py)."""
    from banksight.dbroles import connect_as_owner

    with connect_as_owner():
        yield


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """The tests themselves, like web and worker, connect as the application's role, which
    may not change or erase the audit trail. `flush` between transactional tests runs as the
    owner (apps/compliance/management/commands/flush.py)."""
    from banksight.dbroles import connect_as_app

    with connect_as_app():
        yield


@pytest.fixture(autouse=True)
def _empty_cache():
    """Throttle counters and cached sessions must not leak from one test to the next."""
    cache.clear()


@pytest.fixture
def make_user(db):
    counter = iter(range(1, 10_000))

    def make(role: Role = Role.CUSTOMER, username: str | None = None, **extra):
        name = username or f"{role.value}{next(counter)}"
        return user_create(username=name, password=PASSWORD, role=role, **extra)

    return make


@pytest.fixture
def customer(make_user):
    return make_user(Role.CUSTOMER, first_name="Casey", last_name="Customer")


@pytest.fixture
def staff(make_user):
    return make_user(Role.SUPPORT_AGENT, first_name="Sam", last_name="Staff")


@pytest.fixture
def administrator(make_user):
    return make_user(Role.ADMINISTRATOR)


@pytest.fixture
def verified_client(client):
    """Log a staff user in with a confirmed authenticator and a verified session."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    def sign_in(user):
        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
        response = client.post("/staff/login/", {"username": user.username, "password": PASSWORD})
        assert response.status_code == 302, response.content
        response = client.post("/staff/mfa/verify/", {"token": totp_code(device)})
        assert response.status_code == 302
        return client

    return sign_in


class WorkerProcess:
    """A real `celery worker` consuming from the test Redis, writing to the test database."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.log_path = BASE_DIR / ".var" / "test-logs" / f"worker-{os.getpid()}.log"

    def env(self) -> dict:
        db = connection.settings_dict
        database_url = (
            f"postgresql://{quote(db['USER'])}:{quote(db['PASSWORD'], safe='')}"
            f"@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        )
        from django.conf import settings

        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="banksight.settings_test",
            DATABASE_URL=database_url,
            REDIS_URL=settings.REDIS_URL,
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self, *, purge: bool = True) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        from banksight.celery import app

        if purge:
            app.control.purge()  # nothing left over from an earlier test
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "banksight",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "info",
                "-n",
                f"test-{os.getpid()}@%h",
                "--without-mingle",
                "--without-gossip",
            ],
            env=self.env(),
            cwd=BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Celery worker exited; see {self.log_path}")
            if app.control.ping(timeout=0.5, limit=1):
                return
        raise RuntimeError(f"the Celery worker did not answer a ping; see {self.log_path}")

    def stop(self) -> None:
        process_stop(self.process)
        self.process = None

    def settle(self, *, seconds: float = 60) -> None:
        """Return once the worker runs no task and none waits for it.

        A task still running when a transactional test ends (an answer, an assignment
        enqueued by the test) races the TRUNCATE that empties the database: PostgreSQL
        saw a deadlock between the two, the flush failed and the next test found the last
        one's rows. The worker runs one task at a time (`--pool solo`) and answers a ping
        only between tasks, so a ping after a purge means it is idle; tasks it enqueued
        meanwhile are purged on the next round.
        """
        if self.process is None or self.process.poll() is not None:
            return
        from banksight.celery import app

        deadline = time.monotonic() + seconds
        # A connection of its own: pooled ones may have died with a Redis restart.
        with app.connection_for_write() as connection:
            while time.monotonic() < deadline:
                purged = app.control.purge(connection=connection)
                if app.control.ping(timeout=1.0, limit=1, connection=connection) and not purged:
                    return
        raise RuntimeError(f"the Celery worker was still busy after {seconds:.0f} s")


@pytest.fixture(scope="session")
def worker_process(django_db_setup, django_db_blocker):
    worker = WorkerProcess()
    yield worker
    worker.stop()


@pytest.fixture
def celery_worker(worker_process, transactional_db):
    worker_process.start()
    return worker_process


@pytest.fixture
def ids_from_one(transactional_db):
    """Primary keys of empty tables start again at 1 (others after their largest), so that
    rows made by the test, and what the model is told about them, are the same every run.
    Reset as the schema owner: the application's role may not change sequences."""
    from django.apps import apps
    from django.core.management.color import no_style

    from banksight.dbroles import connect_as_owner

    with connect_as_owner():
        statements = connection.ops.sequence_reset_sql(no_style(), apps.get_models())
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


@pytest.fixture(autouse=True)
def _worker_idle_before_flush(request):
    """A transactional test ends with the worker idle, before its tables are emptied.

    The worker process lives for the whole session, so tasks that a test enqueued (with or
    without the `celery_worker` fixture) may still run when it ends. The database fixture is
    set up from here, so that this teardown runs before its flush.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction")) or any(
        name in request.fixturenames for name in ("transactional_db", "live_server")
    )
    if not transactional:
        yield
        return
    request.getfixturevalue("transactional_db")
    worker = request.getfixturevalue("worker_process")
    yield
    worker.settle()


# --- The local model server (llama.cpp) and the model registry ----------------------------


@pytest.fixture(scope="session")
def model_server():
    """The real SmolLM2 llama.cpp server, started once per session by the first test that
    asks for it (about a second) and stopped at the end. `.url` ends in /v1."""
    from banksight import modelserver

    server = modelserver.start("smollm2")
    yield server
    server.stop()


@pytest.fixture
def model_backends(request, model_server):
    """Registry rows pointing at `model_server`: "smollm2", active and first in the chain.

    Works with `db` and `transactional_db` (the rows go with each test's data).
    """
    if "transactional_db" not in request.fixturenames:
        request.getfixturevalue("db")
    from apps.chat.models import ModelBackend

    smollm2 = ModelBackend.objects.create(
        name="smollm2",
        label=model_server.label,
        kind=ModelBackend.Kind.LLAMA_CPP,
        base_url=model_server.url,
        model=model_server.model,
        parameters={"temperature": 0.0, "seed": 42},
        is_active=True,
        fallback_order=0,
        first_token_timeout_s=10.0,
        request_timeout_s=60.0,
    )
    return {"smollm2": smollm2}
