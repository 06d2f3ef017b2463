"""A private BankSight stack for benchmarks: its own PostgreSQL and Redis, demo data,
and uvicorn (banksight/serve.py). Stopped and removed again when the benchmark ends.

With `chat=ChatOptions(...)` it runs the assistant too: the smollm2 llama.cpp server
(banksight.modelserver, as `make run` starts it) registered as the active backend, and a
Celery worker started with `make run`'s worker command. Uvicorn serves the chat websocket
(/ws/chat/<id>/ is routed in banksight/asgi.py, whatever DJANGO_ROOT_URLCONF says; the
REST endpoints come through bench/urls.py, which includes banksight.urls).
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import httpx

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from banksight import localservices, modelserver

LOG_DIR = BASE_DIR / ".var" / "bench-logs"


# What the chat benchmarks ask: balances, fees, policies, history (grounded in the
# customer's data and the help articles).
QUESTIONS = [
    "What is the balance of my current account?",
    "When are your branches open?",
    "How much does it cost to use my card abroad?",
    "What interest does my savings account pay?",
    "What were my last three payments?",
    "Is there a fee for international payments?",
    "How do I change my PIN?",
    "What is the overdraft limit on my account?",
    "How long does a SEPA payment take?",
    "Can I get a paper statement?",
    "How much did I spend on groceries last month?",
]


@dataclass
class ChatOptions:
    """Run the assistant as well: a Celery worker and the smollm2 model server.

    `worker_concurrency`: prefork children of the worker (`make run` uses 2). An answer
    is mostly waiting on the model server, I/O for the worker, which would suggest many
    children; but the one llama_cpp.server computes one request at a time. Two keep it
    busy (one answer generating while the next is masked and grounded); more only move
    the queue from Celery, where waiting costs nothing, into the model server, where
    every waiting request spends its ASSISTANT_FIRST_TOKEN_DEADLINE_S (10 s) and then
    escalates. Prefork, not threads: masking (spaCy) is CPU work under the GIL.

    `model_flags`: extra `llama_cpp.server` flags (e.g. `--n_threads 2`: the last wins),
    appended to banksight.modelserver's own command line.
    `env`: more settings for web and worker, e.g. ASSISTANT_MAX_TOKENS.
    """

    worker_concurrency: int = 2
    model_flags: tuple[str, ...] = ()
    env: dict = field(default_factory=dict)


@dataclass
class Stack:
    base_url: str
    env: dict
    workers: int
    model_server: modelserver.ModelServer | None = None
    worker_log: Path | None = None

    @property
    def ws_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http")

    def register_backend(self, url: str) -> str:
        """Point the active "smollm2" backend at `url` (the model server or a proxy)."""
        return self.manage(
            "model_backends_sync", f"--llama-cpp=smollm2={url}", "--activate=smollm2"
        ).strip()

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


def _start_model_server(flags: tuple[str, ...]) -> modelserver.ModelServer:
    """banksight.modelserver.start("smollm2"), its command line extended by `flags`."""
    if not flags:
        return modelserver.start("smollm2", wait=False)
    own_command = modelserver.server_command

    def command(name, **kwargs):
        return [*own_command(name, **kwargs), *flags]

    with mock.patch.object(modelserver, "server_command", command):
        return modelserver.start("smollm2", wait=False)


def _start_worker(env: dict, concurrency: int) -> tuple[subprocess.Popen, Path]:
    """`make run`'s worker command (banksight/runner.py), with its own name and log."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"worker-{os.getpid()}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "banksight",
                "worker",
                "-l",
                "info",
                "--concurrency",
                str(concurrency),
                "-n",
                f"bench-{os.getpid()}@%h",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its prefork children go in its own process group
        )
    return process, log_path


def _wait_worker(env: dict, process: subprocess.Popen, log_path: Path, seconds: float = 120):
    """Until the worker answers a ping through the stack's broker."""
    from celery import Celery

    parts = urlsplit(env["REDIS_URL"])
    broker = urlunsplit((parts.scheme, parts.netloc, "/3", parts.query, parts.fragment))
    app = Celery("bench-ping", broker=broker)  # settings.CELERY_BROKER_URL: Redis db 3
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the Celery worker exited; see {log_path}")
            if app.control.ping(timeout=0.5):
                return
        raise RuntimeError(f"the Celery worker did not answer a ping; see {log_path}")
    finally:
        app.close()


def _stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()  # warm shutdown: running tasks finish
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def running_stack(port: int = 8765, workers: int | None = None, chat: ChatOptions | None = None):
    """uvicorn processes, one per core less one for the load generator, each listening on
    its own SO_REUSEPORT socket (banksight/serve.py; uvicorn's own --workers lets the first
    process to wake take a whole burst of connections).

    With `chat`, also the smollm2 model server (the active backend) and a Celery worker."""
    workers = workers or max(1, (os.cpu_count() or 1) - 1)
    profile, services = localservices.ensure_private("bench")
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="banksight.settings",
        DATABASE_URL=services.database_url,
        DATABASE_OWNER_URL=services.owner_database_url,  # for `migrate`
        REDIS_URL=services.redis_url,
        DJANGO_ROOT_URLCONF="bench.urls",
        DJANGO_DEBUG="0",
        LOG_LEVEL="WARNING",
        API_THROTTLE_ANON="100000000/minute",
        API_THROTTLE_USER="100000000/hour",
    )
    if chat is not None:
        # No every-N registry benchmark in the middle of a measurement.
        env.update(ASSISTANT_BENCHMARK_EVERY_N_REQUESTS="0", PYTHONUNBUFFERED="1")
        env.update(chat.env)
    server = None
    worker = None
    model = None
    try:
        stack = Stack(base_url=f"http://127.0.0.1:{port}", env=env, workers=workers)
        if chat is not None:
            model = stack.model_server = _start_model_server(chat.model_flags)  # loads meanwhile
        stack.manage("migrate", "--noinput")
        stack.manage("seed_demo")
        if model is not None:
            model.wait_ready()
            stack.register_backend(model.url)
        server = subprocess.Popen(
            [  # uvicorn processes, each on its own SO_REUSEPORT socket (banksight/serve.py)
                sys.executable,
                "-m",
                "banksight.serve",
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
        if chat is not None:
            worker, stack.worker_log = _start_worker(env, chat.worker_concurrency)
            _wait_worker(env, worker, stack.worker_log)
        yield stack
    finally:
        # Every step runs even when an earlier one fails: nothing is left running.
        with contextlib.ExitStack() as cleanup:
            cleanup.callback(localservices.stop, profile, remove=True)
            if model is not None:
                cleanup.callback(model.stop)
            if server is not None:
                cleanup.callback(_stop_server, server)
            if worker is not None:
                cleanup.callback(_stop_worker, worker)


def _stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        # Uvicorn waits for open websocket tasks without a graceful-shutdown limit.
        print("uvicorn did not stop within 20 s; killed", file=sys.stderr)
        server.kill()
        server.wait(timeout=10)


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
