"""What the chat broadcasts to a conversation's channel-layer group.

Events carry ids and masked text only. Each connection (the customer's websocket or SSE
stream, later a staff console) turns them into what its viewer may see: the customer gets
placeholders filled with their own values, staff keep them masked.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def conversation_group(conversation_id) -> str:
    return f"chat.{conversation_id}"


def staff_group(conversation_id) -> str:
    """Staff connections only: internal notes and other staff-only events."""
    return f"staff.chat.{conversation_id}"


def partial_key(message_id: int) -> str:
    """Redis list of the masked tokens streamed so far for an answer (for resuming)."""
    return f"banksight:chat:partial:{message_id}"


def stop_key(message_id: int) -> str:
    return f"banksight:chat:stop:{message_id}"


def broadcast(conversation_id, event: dict) -> None:
    async_to_sync(get_channel_layer().group_send)(conversation_group(conversation_id), event)


def broadcast_on_commit(conversation_id, event: dict) -> None:
    transaction.on_commit(lambda: broadcast(conversation_id, event))


def staff_broadcast(conversation_id, event: dict) -> None:
    async_to_sync(get_channel_layer().group_send)(staff_group(conversation_id), event)


def staff_broadcast_on_commit(conversation_id, event: dict) -> None:
    transaction.on_commit(lambda: staff_broadcast(conversation_id, event))


def note_event(note_id: int) -> dict:
    return {"type": "chat.note", "id": note_id}


def message_event(message_id: int) -> dict:
    return {"type": "chat.message", "id": message_id}


def token_event(message_id: int, seq: int, delta: str) -> dict:
    return {"type": "chat.token", "message_id": message_id, "seq": seq, "delta": delta}


def done_event(message_id: int, status: str) -> dict:
    return {"type": "chat.done", "message_id": message_id, "status": status}


def conversation_event(status: str, *, agent: str = "", agent_username=None) -> dict:
    """`agent` is the first name customers see; `agent_username` is for staff."""
    return {
        "type": "chat.conversation",
        "status": status,
        "agent": agent,
        "agent_username": agent_username,
    }
