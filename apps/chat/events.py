"""What the chat broadcasts to a conversation's channel-layer group.

Events carry ids and masked text only. Each connection (the customer's websocket or SSE
stream, later a staff console) turns them into what its viewer may see: the customer gets
placeholders filled with their own values, staff keep them masked.
"""

from __future__ import annotations

import asyncio
import os
import threading

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

# Set in the Celery worker (apps.chat.tasks): its processes have no event loop of their own.
_persistent_loop_wanted = False
_loop: tuple[int, asyncio.AbstractEventLoop] | None = None
_loop_lock = threading.Lock()


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


def broadcast_loop_keep() -> None:
    """Send this process's broadcasts through one event loop that lives as long as it does.

    Outside an event loop, `async_to_sync` runs each call in a new loop on a new thread,
    and channels_redis opens a new Redis connection for every loop: about 9 ms a
    broadcast in the worker, paid for every streamed token. One long-lived loop keeps the
    connection. Web processes have their own loop already and need none of this.
    """
    global _persistent_loop_wanted
    _persistent_loop_wanted = True


def _persistent_loop() -> asyncio.AbstractEventLoop:
    global _loop
    pid = os.getpid()
    with _loop_lock:
        if _loop is None or _loop[0] != pid:  # none yet, or inherited from before a fork
            loop = asyncio.new_event_loop()
            threading.Thread(
                target=loop.run_forever, name="channel-layer-loop", daemon=True
            ).start()
            _loop = (pid, loop)
        return _loop[1]


def _group_send(group: str, event: dict) -> None:
    layer = get_channel_layer()
    if not _persistent_loop_wanted:
        async_to_sync(layer.group_send)(group, event)
        return
    asyncio.run_coroutine_threadsafe(layer.group_send(group, event), _persistent_loop()).result()


def broadcast(conversation_id, event: dict) -> None:
    _group_send(conversation_group(conversation_id), event)


def broadcast_on_commit(conversation_id, event: dict) -> None:
    transaction.on_commit(lambda: broadcast(conversation_id, event))


def staff_broadcast(conversation_id, event: dict) -> None:
    _group_send(staff_group(conversation_id), event)


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
