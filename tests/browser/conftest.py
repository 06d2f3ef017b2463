"""Browser tests: a real uvicorn server, a real Celery worker, Debian's Chromium.

The server is a subprocess on the test database (like the worker in tests/conftest.py),
so tests here need committed rows (`transactional_db`). Chromium is the machine's own
(`make browser` installs Debian's package); Playwright never downloads a browser.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import BASE_DIR, WorkerProcess
from tests.helpers import process_stop

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = BASE_DIR / "tests" / "output" / "screenshots"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WebServerProcess:
    """`uvicorn banksight.asgi:application` on a free loopback port, on the test database,
    Redis and channel layer. Its log is under .var/test-logs/."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = BASE_DIR / ".var" / "test-logs" / f"web-{os.getpid()}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = WorkerProcess().env()
        # The test process may allow sync ORM calls next to Playwright's loop; the server
        # must keep Django's guard.
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "banksight.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-server-header",
            ],
            env=env,
            cwd=BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited; see {self.log_path}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response,  # noqa: S310
            ):
                if response.status == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"uvicorn did not answer /healthz; see {self.log_path}")

    def stop(self) -> None:
        process_stop(self.process)
        self.process = None


@pytest.fixture
def web_server(celery_worker, transactional_db):
    server = WebServerProcess()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def chromium(web_server, monkeypatch):
    """Debian's Chromium driven by Playwright; the test is skipped when it is missing.

    Playwright's sync API keeps an asyncio loop running in this thread, which makes
    Django refuse ORM calls; the test's own ORM calls are plain synchronous ones, so they
    are allowed while the browser is up (never in the server: see WebServerProcess).
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            _close_connections_opened_beside_the_loop()


def _close_connections_opened_beside_the_loop() -> None:
    """With a loop running, Django keeps this thread's connections in a context variable
    that the test database teardown never sees: close them (and their pools) here, or the
    test database cannot be dropped."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close()
        close_pool = getattr(connection, "close_pool", None)
        if close_pool is not None:
            close_pool()


@pytest.fixture
def screenshots():
    """`shot(page, name)` saves tests/output/screenshots/NN-name.png, numbered in order."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    taken: list[Path] = []

    def shot(page, name: str) -> Path:
        path = SCREENSHOTS / f"{len(taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
        return path

    return shot
