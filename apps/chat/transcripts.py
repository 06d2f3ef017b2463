"""Conversation transcripts for staff, as plain text.

Masked by default: messages as staff see them (`message_for_staff`: placeholders such as
`[PHONE_NUMBER_1]` instead of the customer's values). The unmasked text (what the customer
saw, with their own values) needs a typed reason, and `transcript_unmasked_record` writes a
SecurityEvent naming the conversation, the actor and the reason before the text is built.
Internal notes are included, marked as staff-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.customer_360 import reveal_reason_check
from apps.accounts.errors import NotFound
from apps.accounts.models import User
from apps.chat import selectors
from apps.chat.models import Conversation, InternalNote, Message
from apps.chat.presenters import message_for_customer, message_for_staff
from apps.compliance.audit import audit_actor_bind
from apps.compliance.models import SecurityEvent
from apps.compliance.services import security_event_record

_QUIET_STATUSES = {Message.Status.RECEIVED, Message.Status.COMPLETE}


@dataclass(frozen=True)
class _Entry:
    at: datetime
    order: tuple[int, int]  # notes after the message they follow, at the same instant
    heading: str
    text: str


def transcript_conversation_get(*, conversation_id) -> Conversation:
    try:
        return Conversation.objects.select_related("customer__user", "assigned_agent").get(
            pk=conversation_id
        )
    except (Conversation.DoesNotExist, ValidationError, ValueError, TypeError) as error:
        raise NotFound() from error


def _stamp(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _person(user: User | None) -> str:
    if user is None:
        return "—"
    name = user.get_full_name()
    return f"{name} ({user.username})" if name else user.username


def _message_heading(message: Message) -> str:
    if message.role == Message.Role.AGENT:
        who = f"Agent {_person(message.author)}"
    else:
        who = message.get_role_display()
    if message.status not in _QUIET_STATUSES:
        who += f" ({message.get_status_display().lower()})"
    return who


def _entries(conversation: Conversation, *, unmasked: bool) -> list[_Entry]:
    entries = []
    present = message_for_customer if unmasked else message_for_staff
    for message in selectors.message_list(conversation=conversation).select_related("author"):
        shown = present(message)
        entries.append(
            _Entry(
                at=message.created_at,
                order=(0, message.pk),
                heading=_message_heading(message),
                text=shown["text"] or "",
            )
        )
    notes = InternalNote.objects.filter(conversation=conversation).select_related("author")
    for note in notes.order_by("id"):
        entries.append(
            _Entry(
                at=note.created_at,
                order=(1, note.pk),
                heading=(
                    f"INTERNAL NOTE by {_person(note.author)} "
                    "(staff only, never shown to the customer)"
                ),
                text=note.text,
            )
        )
    entries.sort(key=lambda entry: (entry.at, entry.order))
    return entries


def _indent(text: str) -> str:
    lines = text.splitlines() or [""]
    return "\n".join(f"    {line}" if line else "" for line in lines)


def transcript_text(
    *, conversation: Conversation, exported_by: User, unmasked: bool = False, reason: str = ""
) -> str:
    """The whole conversation as UTF-8 text, oldest first, with a header."""
    customer = conversation.customer
    if unmasked:
        who = f"{customer.full_name} ({customer.user.username}), customer #{customer.pk}"
        data_line = f"UNMASKED: the customer's own values are shown. Reason given: {reason}"
    else:
        who = f"customer #{customer.pk} ({customer.user.username})"
        data_line = "masked (placeholders such as [PHONE_NUMBER_1] stand for the customer's values)"
    status = conversation.get_status_display()
    if conversation.resolution_code:
        status += f" ({conversation.get_resolution_code_display()})"
    header = [
        "BankSight conversation transcript",
        f"Conversation: {conversation.pk}",
        f"Title: {conversation.title or '—'}",
        f"Customer: {who}",
        f"Started: {_stamp(conversation.created_at)}",
        f"Status: {status}",
    ]
    if conversation.escalated_at:
        why = conversation.get_escalation_reason_display() or "no reason recorded"
        header += [
            f"Escalated: {_stamp(conversation.escalated_at)} ({why})",
            f"Priority: {conversation.get_priority_display()}",
            f"First human response: {_stamp(conversation.first_agent_response_at)}",
        ]
    if conversation.assigned_agent_id:
        header.append(f"Agent: {_person(conversation.assigned_agent)}")
    if conversation.closed_at:
        header.append(f"Closed: {_stamp(conversation.closed_at)}")
    header += [
        f"Personal data: {data_line}",
        f"Exported by: {_person(exported_by)} at {_stamp(timezone.now())}",
    ]
    parts = ["\n".join(header)]
    if conversation.handoff_summary:
        parts.append("Handoff summary (masked):\n" + _indent(conversation.handoff_summary))
    body = [
        f"[{_stamp(entry.at)}] {entry.heading}:\n{_indent(entry.text)}"
        for entry in _entries(conversation, unmasked=unmasked)
    ]
    parts.append("--- Transcript ---\n" + ("\n\n".join(body) if body else "(no messages)"))
    return "\n\n".join(parts) + "\n"


@transaction.atomic
def transcript_unmasked_record(
    *, conversation: Conversation, reason: str, actor: User, ip_address: str | None = None
) -> str:
    """Record an unmasked export (who, which conversation, why); returns the clean reason."""
    reason = reveal_reason_check(reason)
    audit_actor_bind(actor=actor)
    security_event_record(
        kind=SecurityEvent.Kind.TRANSCRIPT_REVEALED,
        username=conversation.customer.user.username,
        ip_address=ip_address,
        actor=actor,
        details={
            "conversation_id": str(conversation.pk),
            "customer_id": conversation.customer_id,
            "reason": reason,
        },
    )
    return reason
