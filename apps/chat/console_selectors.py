"""Reads for the agent console pages (apps/chat/staff_views.py); masked data only.

Access to a conversation is decided by apps.chat.handoff.conversation_for_staff; these
functions only fetch what the pages show once that check has passed.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from apps.chat.models import AgentPresence, Conversation, InternalNote, Message

HANDLE_CODENAME = "handle_conversations"


def console_message_list(*, conversation: Conversation) -> QuerySet[Message]:
    return (
        conversation.messages.select_related("author", "feedback")
        .prefetch_related("action_proposals")
        .order_by("id")
    )


def internal_note_list(*, conversation: Conversation) -> QuerySet[InternalNote]:
    return conversation.internal_notes.select_related("author").order_by("id")


def transfer_agent_list(*, agent) -> list[dict]:
    """Other active staff who may take a conversation, with their presence (away when they
    never set one), available people first."""
    handles = Q(
        groups__permissions__codename=HANDLE_CODENAME,
        groups__permissions__content_type__app_label="chat",
    ) | Q(
        user_permissions__codename=HANDLE_CODENAME,
        user_permissions__content_type__app_label="chat",
    )
    users = list(
        get_user_model()
        .objects.filter(handles, is_active=True, is_staff=True)
        .exclude(pk=agent.pk)
        .distinct()
        .order_by("first_name", "username")
    )
    presence = {p.user_id: p for p in AgentPresence.objects.filter(user__in=users)}
    rows = []
    for user in users:
        mine = presence.get(user.pk)
        rows.append(
            {
                "username": user.username,
                "name": user.get_full_name() or user.username,
                "available": bool(mine and mine.status == AgentPresence.Status.AVAILABLE),
            }
        )
    rows.sort(key=lambda row: not row["available"])
    return rows
