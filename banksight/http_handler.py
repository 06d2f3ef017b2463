"""Django's HTTP side under the ASGI server, with one thread hand-off per request.

Django's own ASGIHandler runs sync middleware and sync views through asgiref: a new
thread for every request, and a hop between the event loop and that thread at every
boundary between sync and async middleware, for each signal and for closing the response.
Measured under uvicorn, that cost about 4 ms of CPU per request, more than a simple view
itself. Every view here is sync except the chat's Server-Sent Events stream, so this
handler runs the whole sync middleware chain and view in one thread of a fixed pool, as
a threaded WSGI server would, and keeps Django's async path for async views.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.urls import Resolver404, resolve, set_script_prefix


class _SyncHandler(BaseHandler):
    def __init__(self):
        super().__init__()
        self.load_middleware(is_async=False)


class ThreadPoolASGIHandler(ASGIHandler):
    """An ASGI app for HTTP: sync views in a thread pool, async views on the event loop."""

    def __init__(self, threads: int):
        super().__init__()  # the async middleware chain, for async views
        self._sync = _SyncHandler()
        self._executor = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="http", initializer=_thread_caches_open
        )
        self._async_views: dict[str, bool] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and _is_api(scope):
            # A body without Content-Length (sent in chunks) is counted as it arrives; one
            # that declares its length is refused before any of it is read.
            limit = settings.API_MAX_BODY_BYTES
            if (_content_length(scope) or 0) > limit:
                await _send_too_large(send)
                return
            receive = _limited_receive(receive, limit)
        try:
            if scope["type"] != "http" or self._is_async_view(scope):
                await super().__call__(scope, receive, send)
                return
            try:
                body_file = await self.read_body(receive)
            except RequestAborted:
                return
        except _BodyTooLarge:
            await _send_too_large(send)
            return
        messages = await asyncio.get_running_loop().run_in_executor(
            self._executor, _in_context_copy, self._respond, scope, body_file
        )
        for message in messages:
            await send(message)

    def _is_async_view(self, scope) -> bool:
        path = scope["path"].removeprefix(scope.get("root_path", "")) or "/"
        known = self._async_views.get(path)
        if known is None:
            try:
                match = resolve(path)
            except Resolver404:
                known = False
            else:
                known = asyncio.iscoroutinefunction(match.func)
            if len(self._async_views) < 10_000:  # paths with ids vary; bound the memo
                self._async_views[path] = known
        return known

    def _respond(self, scope, body_file) -> list[dict]:
        """Runs in a pool thread: the request from start to close, as ASGI messages."""
        try:
            set_script_prefix(get_script_prefix(scope))
            signals.request_started.send(sender=self.__class__, scope=scope)
            request, response = self.create_request(scope, body_file)
            if request is not None:
                response = self._sync.get_response(request)
            # A sync streaming response (a static file from WhiteNoise) is read here,
            # in the thread; responses that stream for long are async views.
            body = b"".join(response) if response.streaming else response.content
            start = {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": _headers(response),
            }
            response.close()  # request_finished: this thread's database connection goes back
            return [start, {"type": "http.response.body", "body": body}]
        finally:
            body_file.close()


class _BodyTooLarge(Exception):
    pass


def _is_api(scope) -> bool:
    from banksight.api.limits import API_PREFIX

    return scope["path"].removeprefix(scope.get("root_path", "")).startswith(API_PREFIX)


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _limited_receive(receive, limit: int):
    """`receive`, raising _BodyTooLarge once the body read so far is over `limit` bytes."""
    seen = 0

    async def limited():
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise _BodyTooLarge
        return message

    return limited


async def _send_too_large(send) -> None:
    from banksight.api.errors import error_body
    from banksight.api.limits import too_large_message

    body = json.dumps(error_body("payload_too_large", too_large_message())).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _thread_caches_open() -> None:
    """Open the caches in the pool thread's own context, before any request.

    Django keeps its cache objects in an asgiref Local: per thread and per context. Each
    request runs in a copy of its thread's context (below), so a cache opened during a
    request was lost with it, and every request built a new cache backend and Redis client
    object (~4% of a request's CPU). Opened here, every request's copy finds them.
    """
    from django.conf import settings
    from django.core.cache import caches

    for alias in settings.CACHES:
        caches[alias]  # opening it is the point


def _in_context_copy(function, *args):
    """Runs in the pool thread: in a copy of that thread's context, so context variables
    set by middleware (the request id, the audit actor) never leak into the next request."""
    return contextvars.copy_context().run(function, *args)


def _headers(response) -> list[tuple[bytes, bytes]]:
    headers = [
        (
            header.encode("ascii") if isinstance(header, str) else header,
            value.encode("latin1") if isinstance(value, str) else value,
        )
        for header, value in response.items()
    ]
    headers += [
        (b"Set-Cookie", cookie.output(header="").encode("ascii").strip())
        for cookie in response.cookies.values()
    ]
    return headers
