"""The agent console's socket: /ws/staff/chat/<conversation id>/.

Staff sign in with their session, which must have passed MFA (the same rule as every
/staff/ page). Everything staff see is masked: placeholders, never the customer's values.
The protocol is in the README ("The agent console"); this consumer only authenticates,
checks access (apps.chat.handoff.conversation_for_staff), joins the conversation's group
and its staff-only group, and hands commands to apps.chat.handoff.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device

from apps.accounts.errors import NotFound
from apps.chat import events, handoff
from apps.chat.models import InternalNote
from apps.chat.presenters import message_for_staff
from apps.chat.ws_frames import SafeJsonFramesMixin
from banksight.errors import BankError

COMMANDS = {"claim", "message", "note", "suggest", "hand_back", "transfer", "close", "resume"}


def _verified_staff(scope):
    """The scope's user when they are staff whose session passed the second factor."""
    user = scope.get("user")
    session = scope.get("session")
    if user is None or not user.is_authenticated or not user.is_bank_staff or session is None:
        return None
    device = Device.from_persistent_id(session.get(DEVICE_ID_SESSION_KEY) or "")
    if device is None or device.user_id != user.pk or not device.confirmed:
        return None
    return user


def _note(note: InternalNote) -> dict:
    return {
        "id": note.pk,
        "author": note.author.get_full_name() or note.author.username,
        "text": note.text,
        "created_at": note.created_at.isoformat(),
    }


def _conversation(conversation) -> dict:
    waited = None
    if conversation.escalated_at:
        from django.utils import timezone

        waited = int((timezone.now() - conversation.escalated_at).total_seconds())
    return {
        "id": str(conversation.pk),
        "status": conversation.status,
        "priority": conversation.priority,
        "priority_label": conversation.get_priority_display(),
        "escalation_reason": conversation.get_escalation_reason_display(),
        "assigned_agent": getattr(conversation.assigned_agent, "username", None),
        "handoff_summary": conversation.handoff_summary,
        "customer": {"id": conversation.customer_id, "name": conversation.customer.first_name},
        "waited_seconds": waited,
        "target_seconds": handoff.first_response_target(conversation.priority),
    }


class StaffChatConsumer(SafeJsonFramesMixin, AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = await database_sync_to_async(_verified_staff)(self.scope)
        if user is None:
            await self.close()
            return
        conversation_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        try:
            conversation = await database_sync_to_async(handoff.conversation_for_staff)(
                user=user, conversation_id=conversation_id
            )
        except NotFound:
            await self.close()
            return
        self.user = user
        self.conversation_id = conversation.pk
        self.groups_joined = [
            events.conversation_group(conversation.pk),
            events.staff_group(conversation.pk),
        ]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json(await database_sync_to_async(self._snapshot)())

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    # Reads ----------------------------------------------------------------------------

    def _allowed(self):
        """Access is checked again on every read: a transfer takes it away at once."""
        return handoff.conversation_for_staff(user=self.user, conversation_id=self.conversation_id)

    def _snapshot(self, after: int = 0) -> dict:
        conversation = self._allowed()
        messages = (
            conversation.messages.filter(id__gt=after)
            .select_related("author", "feedback")
            .prefetch_related("action_proposals")
        )
        notes = conversation.internal_notes.select_related("author")
        return {
            "type": "snapshot",
            "conversation": _conversation(conversation),
            "messages": [message_for_staff(m) for m in messages.order_by("id")],
            "notes": [_note(n) for n in notes],
        }

    def _message(self, message_id: int) -> dict | None:
        conversation = self._allowed()
        message = (
            conversation.messages.select_related("author", "feedback")
            .prefetch_related("action_proposals")
            .filter(pk=message_id)
            .first()
        )
        return {"type": "message", "message": message_for_staff(message)} if message else None

    def _note_payload(self, note_id: int) -> dict | None:
        conversation = self._allowed()
        note = conversation.internal_notes.select_related("author").filter(pk=note_id).first()
        return {"type": "note", "note": _note(note)} if note else None

    # Commands -------------------------------------------------------------------------

    def _command(self, kind: str, content: dict) -> dict | None:
        if kind == "claim":
            handoff.conversation_claim(conversation_id=self.conversation_id, agent=self.user)
            return None
        if kind == "resume":
            after = content.get("after")
            return self._snapshot(after=int(after) if str(after).isdigit() else 0)
        conversation = self._allowed()
        if kind == "message":
            message = handoff.agent_message_send(
                conversation=conversation,
                agent=self.user,
                text=content.get("text"),
                client_id=content.get("client_id"),
            )
            return {"type": "ack", "client_id": message.client_id, "id": message.pk}
        if kind == "note":
            handoff.internal_note_add(
                conversation=conversation, author=self.user, text=content.get("text")
            )
            return None
        if kind == "suggest":
            from apps.chat.assist import agent_reply_suggest

            return {"type": "suggestion", "text": agent_reply_suggest(conversation=conversation)}
        if kind == "hand_back":
            handoff.conversation_hand_back(conversation=conversation, agent=self.user)
            return None
        if kind == "transfer":
            handoff.conversation_transfer(
                conversation=conversation,
                agent=self.user,
                to_username=content.get("to"),
                note=content.get("note") or "",
            )
            return None
        handoff.conversation_close(
            conversation=conversation, agent=self.user, resolution=content.get("resolution")
        )
        return None

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind not in COMMANDS:
            await self.send_json(
                {"type": "error", "code": "unknown_type", "message": "Unknown message type."}
            )
            return
        try:
            reply = await database_sync_to_async(self._command)(kind, content)
        except BankError as exc:
            reply = {
                "type": "error",
                "code": exc.code,
                "message": exc.message,
                "fields": exc.fields,
                "client_id": content.get("client_id"),
                "for": kind,
            }
        if reply:
            await self.send_json(reply)

    # Group events ---------------------------------------------------------------------

    async def _send_or_leave(self, build, *args) -> None:
        try:
            payload = await database_sync_to_async(build)(*args)
        except NotFound:
            # Transferred away or otherwise no longer ours: stop reading at once.
            await self.send_json({"type": "error", "code": "not_found", "message": "Not yours."})
            await self.close()
            return
        if payload:
            await self.send_json(payload)

    async def chat_message(self, event):
        await self._send_or_leave(self._message, event["id"])

    async def chat_note(self, event):
        await self._send_or_leave(self._note_payload, event["id"])

    async def chat_token(self, event):
        await self.send_json(
            {
                "type": "token",
                "message_id": event["message_id"],
                "seq": event["seq"],
                "text": event["delta"],
            }
        )

    async def chat_done(self, event):
        await self.send_json(
            {"type": "done", "message_id": event["message_id"], "status": event["status"]}
        )

    async def chat_conversation(self, event):
        await self.send_json(
            {
                "type": "conversation",
                "status": event["status"],
                "assigned_agent": event.get("agent_username"),
            }
        )
        if event.get("agent_username") not in (None, self.user.username):
            await self._send_or_leave(self._allowed_marker)

    def _allowed_marker(self) -> None:
        self._allowed()
