"""`make run`: services, migrations, demo data, then web + worker + beat until Ctrl-C.

Run as `python -m banksight.runner`. PostgreSQL and Redis come from DATABASE_URL /
REDIS_URL, or are started privately under .var/dev/ and stopped again on exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from banksight import localservices, modelserver

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN_DIR = Path(PYTHON).parent


def _say(message: str) -> None:
    print(f"[banksight] {message}", flush=True)  # noqa: T201 - a terminal program


def _manage(*args: str, env: dict, capture: bool = False) -> str:
    result = subprocess.run(  # noqa: S603 - our own manage.py
        [PYTHON, str(BASE_DIR / "manage.py"), *args],
        env=env,
        cwd=BASE_DIR,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return result.stdout or ""


def _wait_http(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url, timeout=2) as response,  # noqa: S310 - localhost
        ):
            if response.status == 200:
                return True
        time.sleep(0.3)
    return False


def _banner(base_url: str, logins: list[dict]) -> str:
    lines = [
        "",
        "BankSight is running.",
        f"  Customer portal   {base_url}/login/",
        f"  Staff back office {base_url}/staff/login/   (MFA: TOTP secrets below)",
        f"  API docs          {base_url}/api/docs/",
        f"  Health            {base_url}/healthz   {base_url}/readyz",
        "",
        f"  {'username':<12}{'role':<20}{'password':<18}TOTP secret",
    ]
    for row in logins:
        secret = row["totp_secret"] or "-"
        lines.append(f"  {row['username']:<12}{row['role']:<20}{row['password']:<18}{secret}")
    lines += ["", "Press Ctrl-C to stop everything.", ""]
    return "\n".join(lines)


class Supervisor:
    def __init__(self) -> None:
        self.children: dict[str, subprocess.Popen] = {}
        self.stopping = False

    def start(self, name: str, args: list[str], env: dict) -> None:
        self.children[name] = subprocess.Popen(args, env=env, cwd=BASE_DIR)  # noqa: S603

    def stop(self, *_args) -> None:
        if self.stopping:
            return
        self.stopping = True
        _say("stopping web, worker and beat ...")
        for child in self.children.values():
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in self.children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            if child.poll() is None:
                child.kill()

    def watch(self) -> int:
        while not self.stopping:
            for name, child in self.children.items():
                if child.poll() is not None:
                    _say(f"{name} exited with status {child.returncode}; stopping the rest.")
                    self.stop()
                    return 1
            time.sleep(0.5)
        return 0


def main() -> int:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "banksight.settings")
    env["PYTHONUNBUFFERED"] = "1"
    owned = False
    # Only `migrate` connects as the schema owner; web, worker and beat as the application.
    owner_url = env.pop("DATABASE_OWNER_URL", "")
    if not (env.get("DATABASE_URL") and env.get("REDIS_URL")):
        _say("starting private PostgreSQL and Redis under .var/dev/ ...")
        services, owned = localservices.ensure("dev")
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"] = services.database_url
            owner_url = owner_url or services.owner_database_url
        env.setdefault("REDIS_URL", services.redis_url)

    supervisor = Supervisor()
    signal.signal(signal.SIGINT, supervisor.stop)
    signal.signal(signal.SIGTERM, supervisor.stop)
    status = 1
    models: list[modelserver.ModelServer] = []
    try:
        # llama.cpp servers for the assistant load while the database migrates.
        names = [n for n in env.get("ASSISTANT_LOCAL_MODELS", "smollm2,gemma3").split(",") if n]
        models = modelserver.start_many(names, wait=False)
        _manage("migrate", "--noinput", env={**env, "DATABASE_OWNER_URL": owner_url})
        _manage("seed_demo", env=env)
        for model in models:
            model.wait_ready()
        sync = [f"--llama-cpp={model.name}={model.url}" for model in models]
        _manage("model_backends_sync", "--from-env", *sync, env=env)
        logins = json.loads(_manage("demo_logins", env=env, capture=True))
        host = env.get("HOST", "127.0.0.1")
        port = env.get("PORT", "8000")
        supervisor.start(
            "web",
            [
                str(BIN_DIR / "uvicorn"),
                "banksight.asgi:application",
                "--host",
                host,
                "--port",
                port,
                "--proxy-headers",
                "--no-server-header",
            ],
            env,
        )
        supervisor.start(
            "worker",
            [
                str(BIN_DIR / "celery"),
                "-A",
                "banksight",
                "worker",
                "-l",
                "info",
                "--concurrency",
                "2",
                "-n",
                "worker@%h",
            ],
            env,
        )
        supervisor.start(
            "beat",
            [
                str(BIN_DIR / "celery"),
                "-A",
                "banksight",
                "beat",
                "-l",
                "info",
                "-s",
                str(BASE_DIR / ".var" / "celerybeat-schedule"),
            ],
            env,
        )
        base_url = f"http://{'localhost' if host in {'127.0.0.1', '0.0.0.0'} else host}:{port}"  # noqa: S104
        if _wait_http(f"http://127.0.0.1:{port}/healthz", 60):
            print(_banner(base_url, logins), flush=True)  # noqa: T201
        status = supervisor.watch()
    except subprocess.CalledProcessError as error:
        _say(f"setup step failed: {error}")
    finally:
        supervisor.stop()
        for model in models:
            model.stop()
        if owned:
            _say("stopping PostgreSQL and Redis ...")
            localservices.stop("dev")
        _say("stopped.")
    return status


if __name__ == "__main__":
    sys.exit(main())
