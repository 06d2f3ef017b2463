"""GET /api/v1/conversations/{id}/events — the answer stream as Server-Sent Events.

For clients without websockets (the mobile app in the background, curl). Events:
`message` (a saved message, in full; `id:` set once it is final), `token` (the answer as
it streams), `done` (the answer ended), `conversation` (the status changed). Resume with
`?after=<message id>` or the standard `Last-Event-ID` header: every message after it is
sent again first, an answer still streaming with its text so far.
"""

from __future__ import annotations

import asyncio
import json

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse, StreamingHttpResponse
from rest_framework.exceptions import AuthenticationFailed

from apps.accounts.authentication import AuditedJWTAuthentication
from apps.accounts.signin import mfa_session_refused
from apps.chat import streams
from banksight.api.errors import api_exception_handler, json_error_response

HEARTBEAT_SECONDS = 15
FINAL = {"complete", "stopped", "refused", "failed"}


def _release_connection_after(fn):
    """Run fn in the request's sync thread, then hand its database connection back to the
    pool: a stream may stay open for hours and must not hold a connection all that time."""

    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            if not connection.in_atomic_block:  # tests wrap everything in a transaction
                connection.close()

    return sync_to_async(call)


def _jwt_user(request):
    """(user, None), or (None, the 401 the REST endpoints give for this token)."""
    try:
        # The API's own bearer authentication: the same refusals (a staff token, ...).
        result = AuditedJWTAuthentication().authenticate(request)
    except AuthenticationFailed as error:  # simplejwt's InvalidToken is one too
        # An expired token must say `token_not_valid` here too: the app refreshes on it.
        response = api_exception_handler(error, {})
        return None, JsonResponse(response.data, status=response.status_code)
    return (result[0] if result else None), None


async def _user(request):
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return await _release_connection_after(_jwt_user)(request)
    user = await request.auser()
    if not user.is_authenticated:
        return None, None
    if await _release_connection_after(mfa_session_refused)(user):
        # A session that has not passed the second factor it needs is not signed in.
        return None, json_error_response(
            "mfa_required", "Finish signing in with the code from your authenticator app.", 401
        )
    return user, None


def _sse(event: str, data: dict, event_id: int | None = None) -> bytes:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {json.dumps(data, separators=(',', ':'))}")
    return ("\n".join(lines) + "\n\n").encode()


def _encode(payload: dict) -> bytes:
    kind = payload["type"]
    if kind == "message":
        message = payload["message"]
        return _sse("message", message, message["id"] if message["status"] in FINAL else None)
    data = {key: value for key, value in payload.items() if key != "type"}
    return _sse(kind, data)


@login_not_required  # it authenticates itself: bearer tokens, which the middleware cannot see
async def conversation_events(request, conversation_id):
    if request.method != "GET":  # in the API's error shape, unlike require_GET's empty 405
        response = json_error_response(
            "method_not_allowed", f'Method "{request.method}" not allowed.', 405
        )
        response["Allow"] = "GET"
        return response
    user, token_refused = await _user(request)
    if token_refused is not None:
        return token_refused
    if user is None:
        return json_error_response(
            "not_authenticated", "Authentication credentials were not provided.", 401
        )
    if not user.is_customer:
        return json_error_response("permission_denied", "These endpoints are for customers.", 403)
    conversation = await _release_connection_after(streams.conversation_for_user)(
        user=user, conversation_id=conversation_id
    )
    if conversation is None:
        return json_error_response("not_found", "Not found.", 404)
    after = request.GET.get("after") or request.headers.get("Last-Event-ID")
    view = await _release_connection_after(streams.CustomerView)(conversation)
    response = StreamingHttpResponse(
        _event_stream(view, streams.message_id_or_none(after)),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # proxies must not hold tokens back
    return response


async def _event_stream(view: streams.CustomerView, after: int | None):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = streams.conversation_group(view.conversation.pk)
    # Join first, then replay: nothing that happens in between is missed (duplicates of
    # tokens already in the replayed snapshot are dropped by their sequence numbers).
    await layer.group_add(group, channel)
    try:
        yield b": connected\n\n"
        if after is not None:
            for payload in await _release_connection_after(view.replay)(after=after):
                yield _encode(payload)
        while True:
            try:
                event = await asyncio.wait_for(layer.receive(channel), HEARTBEAT_SECONDS)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            payload = await _translate(view, event)
            if payload is not None:
                yield _encode(payload)
    finally:
        await layer.group_discard(group, channel)


async def _translate(view: streams.CustomerView, event: dict) -> dict | None:
    kind = event.get("type")
    if kind == "chat.message":
        return await _release_connection_after(view.message)(event["id"])
    if kind == "chat.token":
        return view.token(event)  # no database: on the loop, no thread hop per token
    if kind == "chat.done":
        return {"type": "done", "message_id": event["message_id"], "status": event["status"]}
    if kind == "chat.conversation":
        # As the websocket: the agent's first name, never staff-only fields such as usernames.
        return {
            "type": "conversation",
            "status": event["status"],
            "agent": event.get("agent") or None,
        }
    return None
