"""One client for any OpenAI-compatible chat server: vLLM, llama.cpp, or a hosted API.

`chat_stream()` streams an answer from the active backend of the model registry. When a
backend fails before its first token (cannot connect, errors, times out, circuit open), the
next backend of the fallback chain is tried, all within one first-token deadline; when none
answers, `AllBackendsFailed` tells the caller to hand the conversation to a person. Once
tokens have reached the caller there is no fallback: a failure then raises `InferenceError`
with the text streamed so far.

Plain sync code on `httpx.Client`: it runs in Celery workers and in threads.

Timeouts per attempt: connect (`CONNECT_TIMEOUT_S`, retried once at once on a connect
error), first token (the smaller of the backend's `first_token_timeout_s` and what is left
of the caller's deadline), total (`request_timeout_s`). The first-token and total deadlines
are checked on every streamed line; the socket read timeout (the first-token budget)
catches a server that goes silent. A server that keeps sending non-token bytes and then
stalls can therefore overrun the deadline by up to one read timeout.

Circuit breaker per backend, shared by every process through Django's cache (Redis):
after `ASSISTANT_BREAKER_FAILURES` consecutive failures the backend is skipped for
`ASSISTANT_BREAKER_OPEN_SECONDS`; then one caller at a time probes it (half-open), and a
first token closes it again.

The breaker counts faults of the model server only. Not counted: a bad request (ours), a
caller that dies mid-stream (a killed worker: the server was answering; its first token had
closed the breaker already, and a probe claim lapses after that attempt's first-token
budget, not after the open period), and queueing at a healthy server: a first-token
timeout after the server accepted the request while it streamed tokens to other requests
meanwhile is `busy`, not a failure. Every streaming attempt notes in the cache, at most
twice a second per process, when this backend last produced a token.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import httpx
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from apps.chat.models import InferenceCall, ModelBackend

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 2.0
CONNECT_RETRY_DELAY_S = 0.1
# Request keys the client owns; a backend's `parameters` cannot override them.
RESERVED_KEYS = frozenset(
    {"model", "messages", "stream", "stream_options", "stop", "response_format"}
)
# Purposes that are not customer traffic: they do not count towards the every-N benchmark.
UNCOUNTED_PURPOSES = frozenset({InferenceCall.Purpose.BENCHMARK, InferenceCall.Purpose.CONTRACT})


class ErrorCode(StrEnum):
    TIMEOUT = "timeout"  # no first token, or no end, in time
    UNAVAILABLE = "unavailable"  # cannot connect, connection lost, 502/503/504
    SERVER_ERROR = "server_error"  # other 5xx, or an error inside the stream
    OVERLOADED = "overloaded"  # 429
    BAD_REQUEST = "bad_request"  # 400/422: e.g. the prompt is longer than the context
    UNAUTHORIZED = "unauthorized"  # 401/403: wrong API key
    NOT_FOUND = "not_found"  # 404: unknown model (vLLM) or wrong URL
    BAD_RESPONSE = "bad_response"  # not an OpenAI stream, or it ended early
    CIRCUIT_OPEN = "circuit_open"  # skipped: the backend failed too often just now
    DEADLINE = "deadline"  # skipped: the caller's first-token deadline was used up
    BUSY = "busy"  # no first token in time, but the server streamed to others meanwhile
    UNKNOWN_BACKEND = "unknown_backend"  # backend= names no registry row
    NO_BACKEND = "no_backend"  # nothing active and no fallback chain
    ALL_FAILED = "all_backends_failed"


# Failures that say nothing about the backend's health do not trip the breaker.
NOT_BACKEND_FAULTS = frozenset({ErrorCode.BAD_REQUEST, ErrorCode.BUSY})
# How often one process notes that a backend is streaming (see _streaming_seen).
STREAMING_NOTE_EVERY_S = 0.5


class InferenceError(Exception):
    """A call that produced no complete answer. `partial_text` holds what was streamed."""

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        backend: str = "",
        partial_text: str = "",
        status: int | None = None,
    ):
        self.code = str(code)
        self.message = message or self.code
        self.backend = backend
        self.partial_text = partial_text
        self.status = status
        super().__init__(f"{self.code}: {self.message}" + (f" ({backend})" if backend else ""))


class AllBackendsFailed(InferenceError):
    """No backend produced a first token: `attempts` lists (backend name, error code)."""

    def __init__(self, attempts: list[tuple[str, str]], message: str = ""):
        self.attempts = attempts
        tried = ", ".join(f"{name}: {code}" for name, code in attempts) or "no backend"
        super().__init__(ErrorCode.ALL_FAILED, message or f"no backend answered ({tried})")


@dataclass
class Completion:
    text: str
    backend: str
    model: str
    finish_reason: str  # "stop", "length", "cancelled" (or what the server said)
    ttft_ms: float | None
    latency_ms: float
    prompt_tokens: int | None
    completion_tokens: int | None
    # True when the server sent no usage and the token counts are estimates.
    usage_estimated: bool = False


def _setting(name: str, default):
    return getattr(settings, name, default)


# --- Circuit breaker ----------------------------------------------------------------------


class CircuitBreaker:
    """Closed -> (K consecutive failures) -> open for T seconds -> half-open: one probe.

    State lives in the cache, so web processes and workers agree. If the cache itself is
    unreachable the breaker stays out of the way (calls are allowed).
    """

    def __init__(self, name: str):
        prefix = f"inference:breaker:{name}"
        self.failures_key = f"{prefix}:failures"
        self.open_until_key = f"{prefix}:open_until"
        self.probe_key = f"{prefix}:probe"

    @staticmethod
    def threshold() -> int:
        return int(_setting("ASSISTANT_BREAKER_FAILURES", 3))

    @staticmethod
    def open_seconds() -> float:
        return float(_setting("ASSISTANT_BREAKER_OPEN_SECONDS", 30))

    def state(self) -> str:
        try:
            open_until = cache.get(self.open_until_key)
        except Exception:  # noqa: BLE001 - the cache is optional for the breaker
            return "unknown"
        if open_until is None:
            return "closed"
        return "open" if time.time() < open_until else "half_open"

    def allow(self, *, probe_seconds: float | None = None) -> bool:
        """`probe_seconds`: how long a half-open probe may take to reach its first token.

        The probe's claim lapses after that, so a caller that dies while probing (a killed
        worker) holds the backend back no longer than its own attempt could have taken."""
        try:
            open_until = cache.get(self.open_until_key)
            if open_until is None:
                return True
            if time.time() < open_until:
                return False
            # Half-open: the first caller to claim the probe goes; the rest still skip.
            claim = probe_seconds if probe_seconds is not None else self.open_seconds()
            return bool(cache.add(self.probe_key, 1, timeout=max(1, math.ceil(claim))))
        except Exception:  # noqa: BLE001
            logger.warning("circuit breaker state unavailable; allowing the call")
            return True

    def record_success(self) -> None:
        try:
            cache.delete_many([self.failures_key, self.open_until_key, self.probe_key])
        except Exception:  # noqa: BLE001
            logger.warning("circuit breaker state unavailable")

    def record_failure(self) -> None:
        try:
            if cache.get(self.open_until_key) is not None:
                self._open()  # the half-open probe failed
                return
            cache.add(self.failures_key, 0, timeout=600)
            if cache.incr(self.failures_key) >= self.threshold():
                self._open()
        except Exception:  # noqa: BLE001
            logger.warning("circuit breaker state unavailable")

    def _open(self) -> None:
        cache.set(self.open_until_key, time.time() + self.open_seconds(), timeout=None)
        cache.delete_many([self.failures_key, self.probe_key])


# --- HTTP ---------------------------------------------------------------------------------

_clients: dict[int, httpx.Client] = {}
_clients_lock = threading.Lock()


def _http() -> httpx.Client:
    """One pooled client per process (Celery forks workers after import)."""
    pid = os.getpid()
    client = _clients.get(pid)
    if client is None:
        with _clients_lock:
            client = _clients.get(pid)
            if client is None:
                client = httpx.Client(
                    limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
                    follow_redirects=False,
                )
                _clients[pid] = client
    return client


def response_format_for(kind: str, schema: dict) -> dict:
    """Constrained decoding in the form each server understands."""
    if kind == ModelBackend.Kind.LLAMA_CPP:
        # llama-cpp-python turns the schema into a grammar.
        return {"type": "json_object", "schema": schema}
    # OpenAI's form, which vLLM serves with its structured-output backend (xgrammar).
    return {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema, "strict": True},
    }


def build_payload(
    backend: ModelBackend,
    *,
    messages: list[dict],
    max_tokens: int | None,
    stop: list[str] | None,
    json_schema: dict | None,
) -> dict:
    payload = {k: v for k, v in (backend.parameters or {}).items() if k not in RESERVED_KEYS}
    payload.update(
        model=backend.model,
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
    )
    if max_tokens is not None:
        payload["max_tokens"] = max_tokens
    if stop:
        payload["stop"] = stop
    if json_schema is not None and backend.supports_json_schema:
        payload["response_format"] = response_format_for(backend.kind, json_schema)
    return payload


def _headers(backend: ModelBackend) -> dict:
    headers = {"Accept": "text/event-stream"}
    if backend.api_key_env and (key := os.environ.get(backend.api_key_env)):
        headers["Authorization"] = f"Bearer {key}"
    return headers


def _status_error(status: int, body: bytes) -> tuple[str, str]:
    try:
        error = json.loads(body).get("error") or {}
        message = error.get("message", "") if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError):
        message = body.decode("utf-8", "replace")
    message = (message or f"HTTP {status}")[:300]
    if status in (400, 422):
        return ErrorCode.BAD_REQUEST, message
    if status in (401, 403):
        return ErrorCode.UNAUTHORIZED, message
    if status == 404:
        return ErrorCode.NOT_FOUND, message
    if status == 429:
        return ErrorCode.OVERLOADED, message
    if status in (502, 503, 504):
        return ErrorCode.UNAVAILABLE, message
    return ErrorCode.SERVER_ERROR, message


_streaming_noted: dict[str, float] = {}


def _streaming_key(name: str) -> str:
    return f"inference:backend:{name}:streamed_at"


def _streaming_seen(name: str) -> None:
    """Note (wall clock, in the cache) that backend `name` just produced a token."""
    now = time.monotonic()
    if now - _streaming_noted.get(name, float("-inf")) < STREAMING_NOTE_EVERY_S:
        return
    _streaming_noted[name] = now
    try:
        cache.set(_streaming_key(name), time.time(), timeout=60)
    except Exception:  # noqa: BLE001 - a missed note only makes a timeout count as a fault
        logger.debug("could not note the backend's streaming")


def _streamed_to_others_since(name: str, started_monotonic: float) -> bool:
    """Did backend `name` produce tokens for other requests since an attempt started?"""
    started_at = time.time() - (time.monotonic() - started_monotonic)
    try:
        streamed_at = cache.get(_streaming_key(name))
    except Exception:  # noqa: BLE001
        return False
    return streamed_at is not None and streamed_at >= started_at


def _estimate_tokens(messages: list[dict]) -> int:
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    return max(1, round(chars / 4))  # ~4 characters a token for English text


class _AttemptFailed(Exception):
    def __init__(self, code: str, message: str, *, connect: bool = False, status=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.connect = connect
        self.status = status


@dataclass
class _Attempt:
    """What one attempt streamed, kept when it fails too."""

    started: float
    text: list[str]
    ttft_ms: float | None = None
    finish_reason: str = ""
    usage: dict | None = None
    deltas: int = 0
    accepted: bool = False  # the server answered the request with a success status

    @property
    def latency_ms(self) -> float:
        return (time.monotonic() - self.started) * 1000


def _stream_once(
    backend: ModelBackend,
    payload: dict,
    *,
    on_token: Callable[[str], bool | None],
    first_token_budget: float,
    attempt: _Attempt,
    on_accepted: Callable[[], None] | None = None,
) -> None:
    """Run one HTTP request; fills `attempt`, raises `_AttemptFailed` on any failure."""
    first_token_by = attempt.started + first_token_budget
    total_by = attempt.started + backend.request_timeout_s
    timeout = httpx.Timeout(
        connect=min(CONNECT_TIMEOUT_S, first_token_budget),
        read=first_token_budget,
        write=first_token_budget,
        pool=first_token_budget,
    )
    url = backend.base_url.rstrip("/") + "/chat/completions"
    done = False
    try:
        with _http().stream(
            "POST", url, json=payload, headers=_headers(backend), timeout=timeout
        ) as response:
            if response.status_code >= 400:
                code, message = _status_error(response.status_code, response.read()[:4000])
                raise _AttemptFailed(code, message, status=response.status_code)
            attempt.accepted = True
            if on_accepted is not None:
                on_accepted()
            for line in response.iter_lines():
                now = time.monotonic()
                if attempt.ttft_ms is None and now > first_token_by:
                    raise _AttemptFailed(
                        ErrorCode.TIMEOUT, f"no first token within {first_token_budget:.1f} s"
                    )
                if now > total_by:
                    raise _AttemptFailed(
                        ErrorCode.TIMEOUT, f"no end within {backend.request_timeout_s:.0f} s"
                    )
                if not line.startswith("data:"):
                    continue  # blank separators, ": ping" comments, event names
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                    break
                try:
                    chunk = json.loads(data)
                except ValueError as error:
                    raise _AttemptFailed(
                        ErrorCode.BAD_RESPONSE, "a stream line is not JSON"
                    ) from error
                if not isinstance(chunk, dict):
                    raise _AttemptFailed(ErrorCode.BAD_RESPONSE, "a stream line is not an object")
                if chunk.get("error"):
                    error = chunk["error"]
                    message = error.get("message", "") if isinstance(error, dict) else str(error)
                    raise _AttemptFailed(ErrorCode.SERVER_ERROR, message[:300] or "stream error")
                if chunk.get("usage"):
                    attempt.usage = chunk["usage"]
                for choice in chunk.get("choices") or []:
                    delta = (choice.get("delta") or {}).get("content") or ""
                    if choice.get("finish_reason"):
                        attempt.finish_reason = choice["finish_reason"]
                    if not delta:
                        continue
                    if attempt.ttft_ms is None:
                        attempt.ttft_ms = (now - attempt.started) * 1000
                    attempt.text.append(delta)
                    attempt.deltas += 1
                    _streaming_seen(backend.name)
                    if on_token(delta) is False:
                        # Leaving the block closes the connection: the server stops generating.
                        attempt.finish_reason = "cancelled"
                        return
    except httpx.ConnectTimeout as error:
        raise _AttemptFailed(ErrorCode.UNAVAILABLE, "connect timed out", connect=True) from error
    except httpx.ConnectError as error:
        raise _AttemptFailed(
            ErrorCode.UNAVAILABLE, f"cannot connect: {error}", connect=True
        ) from error
    except httpx.TimeoutException as error:
        raise _AttemptFailed(
            ErrorCode.TIMEOUT,
            "no first token in time" if attempt.ttft_ms is None else "the stream stalled",
        ) from error
    except httpx.HTTPError as error:  # connection dropped, protocol errors
        raise _AttemptFailed(ErrorCode.UNAVAILABLE, f"{type(error).__name__}: {error}") from error
    if not done and not attempt.finish_reason:
        # llama.cpp ends the body like this when generation fails inside the stream.
        raise _AttemptFailed(ErrorCode.BAD_RESPONSE, "the stream ended without finishing")


# --- The public calls ---------------------------------------------------------------------


def chat_stream(
    *,
    messages: list[dict],
    purpose: str,
    on_token: Callable[[str], bool | None],
    max_tokens: int | None = None,
    stop: list[str] | None = None,
    json_schema: dict | None = None,
    first_token_deadline_s: float = 10.0,
    backend: str | None = None,
    benchmark_run_id=None,
    on_accepted: Callable[[], None] | None = None,
) -> Completion:
    """Stream an answer; `on_token(delta)` returning False cancels (partial text kept).

    `on_accepted()` runs once, when a backend has taken the request and before its first
    token is read: work the first token must wait for but the request need not (the
    model server computes the prompt meanwhile).

    `backend=` forces one backend by name (benchmarks, contract checks): no fallback then.
    Writes one `InferenceCall` per attempt. See the module docstring for the failure rules.
    """
    from apps.chat import registry

    if purpose not in InferenceCall.Purpose.values:
        raise ValueError(f"unknown purpose {purpose!r}")
    try:
        chain = registry.model_backend_chain(name=backend)
    except registry.ModelBackendNotFound as error:
        raise InferenceError(ErrorCode.UNKNOWN_BACKEND, str(error), backend=backend) from error
    accepted = []

    def accepted_once() -> None:
        if on_accepted is not None and not accepted:
            accepted.append(True)
            on_accepted()

    try:
        return _run_chain(
            chain,
            messages=messages,
            purpose=purpose,
            on_token=on_token,
            on_accepted=accepted_once,
            max_tokens=max_tokens,
            stop=stop,
            json_schema=json_schema,
            first_token_deadline_s=first_token_deadline_s,
            benchmark_run_id=benchmark_run_id,
        )
    finally:
        if purpose not in UNCOUNTED_PURPOSES:
            registry.benchmark_tick()


def chat_complete(
    *,
    messages: list[dict],
    purpose: str,
    max_tokens: int | None = None,
    json_schema: dict | None = None,
    backend: str | None = None,
    first_token_deadline_s: float = 10.0,
    stop: list[str] | None = None,
) -> Completion:
    """The whole answer at once. It streams underneath, so the same deadlines apply."""
    return chat_stream(
        messages=messages,
        purpose=purpose,
        on_token=lambda _delta: None,
        max_tokens=max_tokens,
        stop=stop,
        json_schema=json_schema,
        first_token_deadline_s=first_token_deadline_s,
        backend=backend,
    )


def _run_chain(
    chain: list[ModelBackend],
    *,
    messages: list[dict],
    purpose: str,
    on_token: Callable[[str], bool | None],
    max_tokens: int | None,
    stop: list[str] | None,
    json_schema: dict | None,
    first_token_deadline_s: float,
    benchmark_run_id,
    on_accepted: Callable[[], None],
) -> Completion:
    from apps.chat import registry

    if not chain:
        raise AllBackendsFailed([], "no model backend is active")
    deadline = time.monotonic() + first_token_deadline_s
    attempts: list[tuple[str, str]] = []
    for backend in chain:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            attempts.append((backend.name, ErrorCode.DEADLINE.value))
            continue
        budget = min(remaining, backend.first_token_timeout_s)
        breaker = CircuitBreaker(backend.name)
        if not breaker.allow(probe_seconds=budget + 2 * CONNECT_TIMEOUT_S):
            attempts.append((backend.name, ErrorCode.CIRCUIT_OPEN.value))
            continue
        payload = build_payload(
            backend, messages=messages, max_tokens=max_tokens, stop=stop, json_schema=json_schema
        )
        started_at = timezone.now()
        attempt = _Attempt(started=time.monotonic(), text=[])
        closed = []

        def on_token_closing(delta: str, breaker=breaker, closed=closed) -> bool | None:
            """The first token proves the server healthy: the breaker closes at once, so a
            caller that dies mid-stream (a killed worker) leaves it closed."""
            keep_going = on_token(delta)
            if not closed:
                closed.append(True)
                breaker.record_success()
            return keep_going

        try:
            try:
                _stream_once(
                    backend,
                    payload,
                    on_token=on_token_closing,
                    first_token_budget=budget,
                    attempt=attempt,
                    on_accepted=on_accepted,
                )
            except _AttemptFailed as failure:
                left = deadline - time.monotonic()
                if not (failure.connect and left > CONNECT_RETRY_DELAY_S):
                    raise
                # A refused or reset connect is retried once at once (a server restarting,
                # a stale pooled connection) before the chain moves on.
                time.sleep(CONNECT_RETRY_DELAY_S)
                attempt = _Attempt(started=time.monotonic(), text=[])
                _stream_once(
                    backend,
                    payload,
                    on_token=on_token_closing,
                    first_token_budget=min(left, backend.first_token_timeout_s),
                    attempt=attempt,
                    on_accepted=on_accepted,
                )
        except _AttemptFailed as failure:
            if (
                failure.code == ErrorCode.TIMEOUT
                and attempt.ttft_ms is None
                and attempt.accepted
                and _streamed_to_others_since(backend.name, attempt.started)
            ):
                # Queued behind other requests at a server that is working: not a fault.
                failure.code = ErrorCode.BUSY
                failure.message = f"queued: {failure.message} while serving other requests"
            partial = "".join(attempt.text)
            registry.inference_call_record(
                backend=backend,
                purpose=purpose,
                started_at=started_at,
                ttft_ms=attempt.ttft_ms,
                latency_ms=attempt.latency_ms,
                prompt_tokens=None,
                completion_tokens=attempt.deltas or None,
                usage_estimated=True,
                ok=False,
                error_code=failure.code,
                finish_reason=attempt.finish_reason,
                benchmark_run_id=benchmark_run_id,
            )
            if failure.code not in NOT_BACKEND_FAULTS:
                breaker.record_failure()
            logger.warning(
                "inference attempt failed",
                extra={"backend": backend.name, "code": failure.code, "detail": failure.message},
            )
            if attempt.ttft_ms is not None:
                # The caller already has tokens: trying another model would splice two answers.
                raise InferenceError(
                    failure.code,
                    failure.message,
                    backend=backend.name,
                    partial_text=partial,
                    status=failure.status,
                ) from failure
            attempts.append((backend.name, failure.code))
            continue
        completion = _completion(backend, attempt, messages)
        registry.inference_call_record(
            backend=backend,
            purpose=purpose,
            started_at=started_at,
            ttft_ms=completion.ttft_ms,
            latency_ms=completion.latency_ms,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            usage_estimated=completion.usage_estimated,
            ok=True,
            error_code="",
            finish_reason=completion.finish_reason,
            benchmark_run_id=benchmark_run_id,
        )
        if not closed:  # an answer without a token (closed at the first token otherwise)
            breaker.record_success()
        return completion
    raise AllBackendsFailed(attempts)


def _completion(backend: ModelBackend, attempt: _Attempt, messages: list[dict]) -> Completion:
    usage = attempt.usage or {}
    prompt_tokens = usage.get("prompt_tokens")
    completion_tokens = usage.get("completion_tokens")
    estimated = False
    if completion_tokens is None:
        # llama-cpp-python sends no usage on a stream (it ignores `include_usage`); a
        # cancelled stream never gets to it either. It sends about one token per delta,
        # and a prompt is ~4 characters a token: close enough for tokens/s figures.
        completion_tokens = attempt.deltas
        prompt_tokens = prompt_tokens or _estimate_tokens(messages)
        estimated = True
    return Completion(
        text="".join(attempt.text),
        backend=backend.name,
        model=backend.model,
        finish_reason=attempt.finish_reason or "stop",
        ttft_ms=attempt.ttft_ms,
        latency_ms=attempt.latency_ms,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        usage_estimated=estimated,
    )
