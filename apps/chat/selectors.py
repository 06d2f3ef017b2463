"""Reads of conversations and messages, always scoped to the customer who asks."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet

from apps.accounts.errors import NotFound
from apps.accounts.models import Customer
from apps.chat.models import ActionProposal, Conversation, Message

# Short: a small model follows the facts better than a long transcript.
HISTORY_FOR_PROMPT = 4


def conversation_list(*, customer: Customer | None) -> QuerySet[Conversation]:
    if customer is None:
        return Conversation.objects.none()
    return Conversation.objects.filter(customer=customer).order_by("-updated_at", "-created_at")


def conversation_get(*, customer: Customer | None, conversation_id) -> Conversation:
    """The customer's own conversation; anyone else's is the same 404 as an unknown id."""
    if customer is None:
        raise NotFound
    try:
        return Conversation.objects.select_related("customer__user").get(
            pk=conversation_id, customer=customer
        )
    except (Conversation.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise NotFound from exc  # a malformed UUID raises ValidationError


def message_list(*, conversation: Conversation, after: int | None = None) -> QuerySet[Message]:
    messages = conversation.messages.select_related("feedback").prefetch_related(
        Prefetch("action_proposals", queryset=ActionProposal.objects.order_by("created_at"))
    )
    if after is not None:
        messages = messages.filter(id__gt=after)
    return messages.order_by("id")


def message_get(*, conversation: Conversation, message_id) -> Message:
    try:
        return message_list(conversation=conversation).get(pk=int(message_id))
    except (Message.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound from exc


def history_for_prompt(*, conversation: Conversation, before_id: int) -> list[Message]:
    """The latest finished turns before a message, oldest first, masked text only."""
    turns = (
        conversation.messages.filter(
            id__lt=before_id,
            role__in=[Message.Role.CUSTOMER, Message.Role.ASSISTANT, Message.Role.AGENT],
        )
        .exclude(masked_text="")
        .exclude(status__in=[Message.Status.REFUSED, Message.Status.FAILED])
        .order_by("-id")[:HISTORY_FOR_PROMPT]
    )
    return list(reversed(turns))
