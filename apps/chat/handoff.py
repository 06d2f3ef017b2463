"""The human side of a conversation: the queue, agents' capacity, takeover, hand-back,
transfer, closing and the survey. Writes are one transaction each; broadcasts go out on
commit. Reads for the queue and the console are here too (`queue_list`, ...).

Statuses: escalated (waiting in the queue) → with_agent (a person holds it; the assistant
is silent) → active again (handed back) or closed (then the customer gets the survey).
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from apps.accounts.errors import InvalidState, NotFound
from apps.accounts.models import User
from apps.chat import events
from apps.chat.errors import MessageInvalid
from apps.chat.models import (
    AgentPresence,
    Conversation,
    HandoffEvent,
    InternalNote,
    Message,
    SatisfactionSurvey,
)
from apps.chat.services import CLIENT_ID, MAX_TEXT, system_message_add

HANDLE = "chat.handle_conversations"
SUPERVISE = "chat.supervise_conversations"
FRAUD_WORDS = re.compile(
    r"\b(fraud\w*|scam\w*|stolen|unauthori[sz]ed|hack\w*|phish\w*|"
    r"(didn'?t|did not|never) (make|made|authori[sz]e)|not me)\b",
    re.IGNORECASE,
)


def first_response_target(priority: str) -> int:
    return settings.HANDOFF_FIRST_RESPONSE_TARGET_SECONDS.get(priority, 900)


def _agent_name(user: User | None) -> str:
    return (user.first_name or user.username) if user else ""


def _conversation_event(conversation: Conversation) -> dict:
    return events.conversation_event(
        conversation.status,
        agent=_agent_name(conversation.assigned_agent),
        agent_username=conversation.assigned_agent.username
        if conversation.assigned_agent
        else None,
    )


def _event(conversation, kind, *, actor=None, agent=None, note="") -> None:
    HandoffEvent.objects.create(
        conversation=conversation, kind=kind, actor=actor, agent=agent, note=note
    )


def _locked(conversation_id) -> Conversation:
    try:
        return (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("assigned_agent", "customer")
            .get(pk=conversation_id)
        )
    except (Conversation.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise NotFound from exc


def _enqueue_assignment() -> None:
    from apps.chat.tasks import handoff_assign_waiting_task

    transaction.on_commit(handoff_assign_waiting_task.delay)


# --- Entering the queue ------------------------------------------------------------------


def escalation_priority(conversation: Conversation) -> str:
    """Suspected fraud first, then customers in vulnerable circumstances."""
    recent = conversation.messages.filter(role=Message.Role.CUSTOMER).order_by("-id")[:10]
    if any(FRAUD_WORDS.search(message.text) for message in recent):
        return Conversation.Priority.URGENT
    if conversation.customer.vulnerable:
        return Conversation.Priority.HIGH
    return Conversation.Priority.NORMAL


def on_escalated(conversation: Conversation) -> None:
    """Called by services.conversation_escalate inside its transaction."""
    conversation.priority = escalation_priority(conversation)
    conversation.save(update_fields=["priority", "updated_at"])
    _event(conversation, HandoffEvent.Kind.ESCALATED, note=conversation.escalation_reason)
    from apps.chat.assist_tasks import handoff_summary_task

    conversation_id = str(conversation.pk)
    transaction.on_commit(lambda: handoff_summary_task.delay(conversation_id))
    _enqueue_assignment()


# --- Agents ------------------------------------------------------------------------------


def agent_presence_get(*, user: User) -> AgentPresence:
    presence, _ = AgentPresence.objects.get_or_create(user=user)
    return presence


def agent_presence_set(*, user: User, status: str, max_chats: int | None = None) -> AgentPresence:
    fields: dict[str, list[str]] = {}
    if status not in AgentPresence.Status.values:
        fields["status"] = ['Choose "available" or "away".']
    if max_chats is not None and not (1 <= int(max_chats) <= 20):
        fields["max_chats"] = ["Choose between 1 and 20 chats."]
    if fields:
        raise MessageInvalid(fields=fields)
    with transaction.atomic():
        presence, _ = AgentPresence.objects.select_for_update().get_or_create(user=user)
        presence.status = status
        if max_chats is not None:
            presence.max_chats = int(max_chats)
        presence.save()
        if status == AgentPresence.Status.AVAILABLE:
            _enqueue_assignment()
    return presence


def _open_counts() -> dict[int, int]:
    rows = (
        Conversation.objects.filter(status=Conversation.Status.WITH_AGENT)
        .values("assigned_agent")
        .annotate(n=Count("id"))
    )
    return {row["assigned_agent"]: row["n"] for row in rows}


def _has_capacity(agent: User) -> bool:
    presence = agent_presence_get(user=agent)
    open_now = Conversation.objects.filter(
        status=Conversation.Status.WITH_AGENT, assigned_agent=agent
    ).count()
    return open_now < presence.max_chats


# --- Reads for the console ---------------------------------------------------------------


def queue_list() -> list[Conversation]:
    """Waiting conversations: priority first, then the longest waiting."""
    now = timezone.now()
    waiting = list(
        Conversation.objects.filter(status=Conversation.Status.ESCALATED)
        .select_related("customer")
        .order_by("priority", "escalated_at", "id")
    )
    for conversation in waiting:
        since = conversation.escalated_at or conversation.updated_at
        conversation.waited_seconds = int((now - since).total_seconds())
        conversation.target_seconds = first_response_target(conversation.priority)
        conversation.seconds_left = conversation.target_seconds - conversation.waited_seconds
    return waiting


def agent_conversation_list(*, agent: User) -> QuerySet[Conversation]:
    return (
        Conversation.objects.filter(status=Conversation.Status.WITH_AGENT, assigned_agent=agent)
        .select_related("customer")
        .order_by("assigned_at")
    )


def conversation_for_staff(*, user: User, conversation_id) -> Conversation:
    """A conversation this staff member may read: waiting in the queue, theirs, or any for
    supervisors. Anyone else's is the same 404 as an unknown id."""
    if not user.has_perm(HANDLE) and not user.has_perm(SUPERVISE):
        raise NotFound
    try:
        conversation = Conversation.objects.select_related("customer", "assigned_agent").get(
            pk=conversation_id
        )
    except (Conversation.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise NotFound from exc  # a malformed UUID raises ValidationError
    if user.has_perm(SUPERVISE):
        return conversation
    if conversation.status == Conversation.Status.ESCALATED:
        return conversation
    if conversation.assigned_agent_id == user.pk:
        return conversation
    raise NotFound


# --- Taking over -------------------------------------------------------------------------


def _assign(conversation: Conversation, agent: User, *, actor: User | None) -> None:
    conversation.status = Conversation.Status.WITH_AGENT
    conversation.assigned_agent = agent
    conversation.assigned_at = timezone.now()
    conversation.save(update_fields=["status", "assigned_agent", "assigned_at", "updated_at"])
    _event(conversation, HandoffEvent.Kind.ASSIGNED, actor=actor, agent=agent)
    system_message_add(
        conversation=conversation,
        text=(
            f"{_agent_name(agent)} from BankSight has joined the conversation. You're now "
            "talking to a person; the assistant won't answer until they hand you back."
        ),
    )
    events.broadcast_on_commit(conversation.pk, _conversation_event(conversation))
    # Refresh the summary: messages still being masked at escalation are in it now.
    from apps.chat.assist_tasks import handoff_summary_task

    conversation_id = str(conversation.pk)
    transaction.on_commit(lambda: handoff_summary_task.delay(conversation_id))


def conversation_claim(*, conversation_id, agent: User) -> Conversation:
    if not agent.has_perm(HANDLE):
        raise NotFound
    with transaction.atomic():
        conversation = _locked(conversation_id)
        if conversation.status == Conversation.Status.WITH_AGENT:
            if conversation.assigned_agent_id == agent.pk:
                return conversation
            raise InvalidState(f"{_agent_name(conversation.assigned_agent)} already has it.")
        if conversation.status != Conversation.Status.ESCALATED:
            raise InvalidState("This conversation is not waiting for a person.")
        if not _has_capacity(agent):
            raise InvalidState("You are at your chat limit. Close or hand back one first.")
        _assign(conversation, agent, actor=agent)
    return conversation


def queue_assign_waiting() -> list[tuple[str, str]]:
    """Give waiting conversations, most urgent and oldest first, to the least busy available
    agents with room. Safe to run anywhere, any time: rows are locked, skipped if busy."""
    assigned = []
    user_model = get_user_model()
    while True:
        with transaction.atomic():
            conversation = (
                Conversation.objects.select_for_update(skip_locked=True)
                .filter(status=Conversation.Status.ESCALATED)
                .order_by("priority", "escalated_at", "id")
                .first()
            )
            if conversation is None:
                return assigned
            counts = _open_counts()
            candidates = [
                presence
                for presence in AgentPresence.objects.select_for_update(skip_locked=True)
                .filter(status=AgentPresence.Status.AVAILABLE, user__is_active=True)
                .select_related("user")
                .order_by("user_id")
                if presence.user.has_perm(HANDLE)
                and counts.get(presence.user_id, 0) < presence.max_chats
            ]
            if not candidates:
                return assigned
            chosen = min(candidates, key=lambda p: (counts.get(p.user_id, 0), p.updated_at))
            agent = user_model.objects.get(pk=chosen.user_id)
            _assign(conversation, agent, actor=None)
            assigned.append((str(conversation.pk), agent.username))


# --- Talking -----------------------------------------------------------------------------


def _must_hold(conversation: Conversation, agent: User) -> None:
    if conversation.status != Conversation.Status.WITH_AGENT or (
        conversation.assigned_agent_id != agent.pk
    ):
        raise InvalidState("Take the conversation first: it is not assigned to you.")


def agent_message_send(*, conversation: Conversation, agent: User, text, client_id) -> Message:
    """The agent writes in the masked view; placeholders become the customer's own values
    in what the customer sees (`text`), and stay in what staff see (`masked_text`)."""
    from apps.compliance.pii import PlaceholderMap, pii_unmask

    fields: dict[str, list[str]] = {}
    if not isinstance(text, str) or not text.strip():
        fields["text"] = ["Write a message."]
    elif len(text) > MAX_TEXT:
        fields["text"] = [f"Use at most {MAX_TEXT} characters."]
    if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
        fields["client_id"] = ["Send a client-generated id."]
    if fields:
        raise MessageInvalid(fields=fields)
    with transaction.atomic():
        locked = _locked(conversation.pk)
        _must_hold(locked, agent)
        existing = locked.messages.filter(client_id=client_id).first()
        if existing is not None:
            return existing
        text = text.strip()
        message = Message(
            conversation=locked,
            role=Message.Role.AGENT,
            status=Message.Status.COMPLETE,
            client_id=client_id,
            author=agent,
            masked_text=text,
            completed_at=timezone.now(),
        )
        message.text = pii_unmask(text, PlaceholderMap(locked.pii_mapping))
        message.save()
        if locked.first_agent_response_at is None:
            locked.first_agent_response_at = message.created_at
            locked.save(update_fields=["first_agent_response_at", "updated_at"])
            _event(locked, HandoffEvent.Kind.FIRST_RESPONSE, actor=agent, agent=agent)
        else:
            locked.save(update_fields=["updated_at"])
        events.broadcast_on_commit(locked.pk, events.message_event(message.pk))
    return message


def internal_note_add(*, conversation: Conversation, author: User, text) -> InternalNote:
    if not isinstance(text, str) or not text.strip():
        raise MessageInvalid(fields={"text": ["Write a note."]})
    if len(text) > MAX_TEXT:
        raise MessageInvalid(fields={"text": [f"Use at most {MAX_TEXT} characters."]})
    with transaction.atomic():
        note = InternalNote.objects.create(
            conversation=conversation, author=author, text=text.strip()
        )
        # Only the staff group: a customer's connection never receives notes.
        events.staff_broadcast_on_commit(conversation.pk, events.note_event(note.pk))
    return note


# --- Letting go --------------------------------------------------------------------------


def conversation_hand_back(*, conversation: Conversation, agent: User) -> Conversation:
    with transaction.atomic():
        locked = _locked(conversation.pk)
        _must_hold(locked, agent)
        locked.status = Conversation.Status.ACTIVE
        locked.assigned_agent = None
        locked.escalation_reason = ""
        locked.guard_refusals = 0
        locked.save(
            update_fields=[
                "status",
                "assigned_agent",
                "escalation_reason",
                "guard_refusals",
                "updated_at",
            ]
        )
        _event(locked, HandoffEvent.Kind.HANDED_BACK, actor=agent, agent=agent)
        system_message_add(
            conversation=locked,
            text=(
                f"{_agent_name(agent)} handed you back to the assistant. You can ask for a "
                "person again at any time."
            ),
        )
        events.broadcast_on_commit(locked.pk, _conversation_event(locked))
        _enqueue_assignment()
    return locked


def conversation_transfer(
    *, conversation: Conversation, agent: User, to_username, note: str = ""
) -> Conversation:
    target = get_user_model().objects.filter(username=to_username, is_active=True).first()
    if target is None or not target.has_perm(HANDLE):
        raise MessageInvalid(fields={"to": ["Choose an agent who handles conversations."]})
    if target.pk == agent.pk:
        raise MessageInvalid(fields={"to": ["Choose another agent."]})
    with transaction.atomic():
        locked = _locked(conversation.pk)
        if not (agent.has_perm(SUPERVISE) and locked.status == Conversation.Status.WITH_AGENT):
            _must_hold(locked, agent)
        if not _has_capacity(target):
            raise MessageInvalid(fields={"to": [f"{_agent_name(target)} is at their chat limit."]})
        note = (note or "").strip()
        locked.assigned_agent = target
        locked.assigned_at = timezone.now()
        locked.save(update_fields=["assigned_agent", "assigned_at", "updated_at"])
        _event(locked, HandoffEvent.Kind.TRANSFERRED, actor=agent, agent=target, note=note)
        if note:
            created = InternalNote.objects.create(
                conversation=locked, author=agent, text=f"Transfer to {target.username}: {note}"
            )
            events.staff_broadcast_on_commit(locked.pk, events.note_event(created.pk))
        system_message_add(
            conversation=locked,
            text=f"{_agent_name(target)} from BankSight is taking over this conversation.",
        )
        events.broadcast_on_commit(locked.pk, _conversation_event(locked))
    return locked


def conversation_close(*, conversation: Conversation, agent: User, resolution) -> Conversation:
    if resolution not in Conversation.Resolution.values:
        raise MessageInvalid(fields={"resolution": ["Choose how the conversation was resolved."]})
    with transaction.atomic():
        locked = _locked(conversation.pk)
        if not (agent.has_perm(SUPERVISE) and locked.status == Conversation.Status.WITH_AGENT):
            _must_hold(locked, agent)
        locked.status = Conversation.Status.CLOSED
        locked.closed_at = timezone.now()
        locked.resolution_code = resolution
        locked.save(update_fields=["status", "closed_at", "resolution_code", "updated_at"])
        _event(locked, HandoffEvent.Kind.CLOSED, actor=agent, agent=locked.assigned_agent)
        system_message_add(
            conversation=locked,
            text="This conversation is closed. How did we do? One question below.",
        )
        events.broadcast_on_commit(locked.pk, _conversation_event(locked))
        _enqueue_assignment()
    return locked


def survey_submit(
    *, conversation: Conversation, user: User, rating, comment=""
) -> SatisfactionSurvey:
    fields: dict[str, list[str]] = {}
    try:
        rating = int(rating)
    except (TypeError, ValueError):
        rating = 0
    if not 1 <= rating <= 5:
        fields["rating"] = ["Choose 1 to 5."]
    comment = (comment or "").strip() if isinstance(comment, str | type(None)) else None
    if comment is None or len(comment) > 1000:
        fields["comment"] = ["Use at most 1000 characters."]
    if fields:
        raise MessageInvalid(fields=fields)
    if conversation.customer.user_id != user.pk:
        raise NotFound
    with transaction.atomic():
        locked = _locked(conversation.pk)
        if locked.status != Conversation.Status.CLOSED or locked.closed_at is None:
            raise InvalidState("The survey opens when a person has closed the conversation.")
        if locked.closed_at < timezone.now() - timedelta(days=30):
            raise InvalidState("This survey has closed.")
        survey, _ = SatisfactionSurvey.objects.update_or_create(
            conversation=locked, defaults={"rating": rating, "comment": comment}
        )
    return survey


def open_count_for(agent: User) -> int:
    return Conversation.objects.filter(
        Q(status=Conversation.Status.WITH_AGENT) & Q(assigned_agent=agent)
    ).count()
