"""Writes of the chat: conversations, customer messages, escalation, stop, feedback.

Each function is one transaction; broadcasts and tasks go out only after it commits. The
assistant's side (masking, guards, the model) runs in the worker: see apps/chat/assistant.py.
"""

from __future__ import annotations

import re

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from apps.accounts.errors import NotFound
from apps.accounts.models import Customer, User
from apps.chat import events
from apps.chat.errors import ConversationClosed, MessageInvalid
from apps.chat.models import Conversation, Message, MessageFeedback

MAX_TEXT = 4000
NEW_TITLE = "New conversation"
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
STOP_TTL_SECONDS = 600

ESCALATION_NOTICE = (
    "I've passed this conversation to our team. A person from BankSight will join here "
    "shortly; you don't need to repeat anything — they will see what you wrote."
)


def conversation_create(*, customer: Customer, title: str = "") -> Conversation:
    title = (title or "").strip()
    if len(title) > 120:
        raise MessageInvalid(fields={"title": ["Use at most 120 characters."]})
    return Conversation.objects.create(customer=customer, title=title)


def _message_validate(*, text, client_id) -> tuple[str, str]:
    fields: dict[str, list[str]] = {}
    if not isinstance(text, str) or not text.strip():
        fields["text"] = ["Write a message."]
    elif len(text) > MAX_TEXT:
        fields["text"] = [f"Use at most {MAX_TEXT} characters."]
    if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
        fields["client_id"] = [
            "Send a client-generated id of 1 to 64 letters, digits or - _ . : characters."
        ]
    if fields:
        raise MessageInvalid(fields=fields)
    return text.strip(), client_id


def message_receive(
    *, conversation: Conversation, user: User, text, client_id
) -> tuple[Message, bool]:
    """Save the customer's message first, then hand it to the worker.

    The same `client_id` twice in one conversation is one message: the second call returns
    the first (created is False) and nothing is enqueued again.
    """
    text, client_id = _message_validate(text=text, client_id=client_id)
    try:
        with transaction.atomic():
            # One statement checks the conversation is open, locks it (a concurrent close
            # waits, or makes this match nothing) and names and touches it.
            now = timezone.now()
            opened = (
                Conversation.objects.filter(pk=conversation.pk)
                .exclude(status=Conversation.Status.CLOSED)
                .update(
                    title=Case(When(title="", then=Value(NEW_TITLE)), default=F("title")),
                    updated_at=now,
                )
            )
            if not opened:
                raise ConversationClosed
            message = Message(
                conversation=conversation,
                role=Message.Role.CUSTOMER,
                status=Message.Status.RECEIVED,
                client_id=client_id,
                author=user,
            )
            message.text = text
            message.save()
            # The worker first: the customer's own echo of the message can come after.
            transaction.on_commit(lambda: _enqueue_processing(message.pk, user.pk))
            events.broadcast_on_commit(conversation.pk, events.message_event(message.pk))
    except (IntegrityError, ConversationClosed):
        # The same client id again (a retry, or a race with another connection): that
        # message is the one; a closed conversation still acknowledges what it took.
        existing = Message.objects.filter(conversation=conversation, client_id=client_id).first()
        if existing is None:
            raise
        return existing, False
    return message, True


def _enqueue_processing(message_id: int, actor_id: int) -> None:
    from apps.chat.tasks import message_process_task

    message_process_task.delay(message_id, actor_id=actor_id)


def system_message_add(*, conversation: Conversation, text: str) -> Message:
    message = Message(
        conversation=conversation,
        role=Message.Role.SYSTEM,
        status=Message.Status.COMPLETE,
        masked_text=text,
        completed_at=timezone.now(),
    )
    message.text = text
    message.save()
    events.broadcast_on_commit(conversation.pk, events.message_event(message.pk))
    return message


def conversation_escalate(*, conversation: Conversation, reason: str) -> Conversation:
    """Put the conversation in the human queue and tell the customer at once.

    Escalating twice is harmless: the first reason and time are kept.
    """
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if locked.status in (Conversation.Status.ESCALATED, Conversation.Status.WITH_AGENT):
            return locked
        if locked.status == Conversation.Status.CLOSED:
            raise ConversationClosed
        # A conversation handed back and escalated again starts a new wait.
        locked.first_agent_response_at = None
        locked.status = Conversation.Status.ESCALATED
        locked.escalation_reason = reason
        locked.escalated_at = timezone.now()
        locked.save(
            update_fields=[
                "status",
                "escalation_reason",
                "escalated_at",
                "first_agent_response_at",
                "updated_at",
            ]
        )
        system_message_add(conversation=locked, text=ESCALATION_NOTICE)
        events.broadcast_on_commit(locked.pk, events.conversation_event(locked.status))
        from apps.chat.handoff import on_escalated

        on_escalated(locked)
    return locked


def answer_stop(*, conversation: Conversation) -> Message | None:
    """Ask the worker to stop the answer being generated; it keeps what it has so far."""
    answer = (
        conversation.messages.filter(
            role=Message.Role.ASSISTANT,
            status__in=[Message.Status.PENDING, Message.Status.STREAMING],
        )
        .order_by("-id")
        .first()
    )
    if answer is not None:
        cache.set(events.stop_key(answer.pk), 1, STOP_TTL_SECONDS)
    return answer


def feedback_set(
    *, conversation: Conversation, message_id, rating, comment: str = ""
) -> MessageFeedback:
    fields: dict[str, list[str]] = {}
    if rating not in MessageFeedback.Rating.values:
        fields["rating"] = ['Use "up" or "down".']
    comment = (comment or "").strip() if isinstance(comment, str | type(None)) else None
    if comment is None or len(comment) > 1000:
        fields["comment"] = ["Use at most 1000 characters."]
    if fields:
        raise MessageInvalid(fields=fields)
    try:
        message = conversation.messages.get(pk=int(message_id), role=Message.Role.ASSISTANT)
    except (Message.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound from exc
    feedback, _ = MessageFeedback.objects.update_or_create(
        message=message, defaults={"rating": rating, "comment": comment}
    )
    return feedback
