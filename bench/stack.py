"""A private BankSight stack for benchmarks: its own PostgreSQL and Redis, demo data,
and one uvicorn process. Stopped and removed again when the benchmark ends."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from banksight import localservices


@dataclass
class Stack:
    base_url: str
    env: dict
    workers: int

    def token(self, username: str = "alice", password: str = "banksight-demo") -> str:
        response = httpx.post(
            f"{self.base_url}/api/v1/auth/token/",
            json={"username": username, "password": password},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["access"]

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout


@contextlib.contextmanager
def running_stack(port: int = 8765, workers: int | None = None):
    """uvicorn with one worker process per core, less one core for the load generator."""
    workers = workers or max(1, (os.cpu_count() or 1) - 1)
    profile, services = localservices.ensure_private("bench")
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="banksight.settings",
        DATABASE_URL=services.database_url,
        REDIS_URL=services.redis_url,
        DJANGO_ROOT_URLCONF="bench.urls",
        DJANGO_DEBUG="0",
        LOG_LEVEL="WARNING",
        API_THROTTLE_ANON="100000000/minute",
        API_THROTTLE_USER="100000000/hour",
    )
    server = None
    try:
        stack = Stack(base_url=f"http://127.0.0.1:{port}", env=env, workers=workers)
        stack.manage("migrate", "--noinput")
        stack.manage("seed_demo")
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "uvicorn"),
                "banksight.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
                "--workers",
                str(workers),
            ],
            cwd=BASE_DIR,
            env=env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{stack.base_url}/healthz", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        yield stack
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        localservices.stop(profile, remove=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(latencies: list[float], seconds: float) -> dict:
    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
    }
