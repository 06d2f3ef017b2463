"""The customer's chat socket: /ws/chat/<conversation id>/.

Thin: it authenticates, checks the conversation is the customer's own, joins its group,
hands what the client sends to services, and turns the group's events (ids and masked
text) into what this customer may see: their own values in place of placeholders.

Client → server: {"type": "message", "client_id", "text"} · {"type": "stop"} ·
{"type": "resume", "after": <message id>} · {"type": "escalate"} ·
{"type": "feedback", "message_id", "rating": "up"|"down", "comment"} ·
{"type": "action.confirm", "id", "step_up"} · {"type": "action.decline", "id"} ·
{"type": "survey", "rating": 1-5, "comment"} (after a person closed it) · {"type": "ping"}
Server → client: {"type": "ack", "client_id", "id"} · {"type": "message", "message": {...}} ·
{"type": "token", "message_id", "seq", "text"} · {"type": "done", "message_id", "status"} ·
{"type": "conversation", "status", "agent"} · {"type": "survey.saved"} ·
{"type": "error", "code", "message", "fields"} · pong
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.accounts.signin import mfa_session_refused
from apps.chat import streams
from apps.chat.ws_auth import has_bearer
from apps.chat.ws_frames import SafeJsonFramesMixin, throttled_frame, user_throttle_wait
from banksight.errors import BankError

# Handshake refusals, as HTTP's 401 and 403 (4000-4999 are the application's codes).
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


class ChatConsumer(SafeJsonFramesMixin, AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        # A cookie session must have passed the second factor it needs (a bearer token
        # was only issued after it).
        if not has_bearer(self.scope) and await database_sync_to_async(mfa_session_refused)(
            user, session=self.scope.get("session")
        ):
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        if not user.is_customer:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        conversation = await database_sync_to_async(streams.conversation_for_user)(
            user=user, conversation_id=self.scope["url_route"]["kwargs"]["conversation_id"]
        )
        if conversation is None:  # unknown or someone else's: the handshake is refused
            await self.close()
            return
        self.user = user
        self.view = await database_sync_to_async(streams.CustomerView)(conversation)
        self.group = streams.conversation_group(conversation.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        after = streams.after_from_query(self.scope.get("query_string", b""))
        if after is not None:
            await self._replay(after)

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _replay(self, after: int) -> None:
        for payload in await database_sync_to_async(self.view.replay)(after=after):
            await self.send_json(payload)

    # From the client -----------------------------------------------------------------

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        try:
            if kind == "ping":
                await self.send_json({"type": "pong"})
            elif kind == "resume":
                await self._replay(streams.message_id_or_none(content.get("after")) or 0)
            elif kind in streams.CLIENT_ACTIONS:
                wait = await user_throttle_wait(self.user)  # the REST API's budget, shared
                if wait:
                    await self.send_json(
                        throttled_frame(wait, client_id=content.get("client_id"), **{"for": kind})
                    )
                    return
                reply = await database_sync_to_async(self.view.handle)(
                    user=self.user, kind=kind, content=content
                )
                if reply:
                    await self.send_json(reply)
            else:
                await self.send_json(
                    {"type": "error", "code": "unknown_type", "message": "Unknown message type."}
                )
        except BankError as exc:
            await self.send_json(
                {
                    "type": "error",
                    "code": exc.code,
                    "message": exc.message,
                    "fields": exc.fields,
                    "client_id": content.get("client_id"),
                    "for": kind,
                }
            )

    # From the conversation's group ---------------------------------------------------

    async def chat_message(self, event):
        payload = await database_sync_to_async(self.view.message)(event["id"])
        if payload:
            await self.send_json(payload)

    async def chat_token(self, event):
        # No database: placeholders restored from the map already loaded, on the loop itself
        # (a thread hop per streamed token cost more than the work).
        payload = self.view.token(event)
        if payload:
            await self.send_json(payload)

    async def chat_done(self, event):
        await self.send_json(
            {"type": "done", "message_id": event["message_id"], "status": event["status"]}
        )

    async def chat_conversation(self, event):
        await self.send_json(
            {"type": "conversation", "status": event["status"], "agent": event.get("agent") or None}
        )
