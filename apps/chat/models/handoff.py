"""Human handoff: agents' presence, the queue's bookkeeping, notes, canned replies, surveys.

A conversation's own status says where it is (apps/chat/models/conversation.py):
escalated = waiting in the queue, with_agent = a person holds it. The rows here record who
did what when, for the console and for the metrics.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class AgentPresence(models.Model):
    """Whether a staff member takes chats now, and how many at once."""

    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        AWAY = "away", "Away"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="agent_presence"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.AWAY)
    max_chats = models.PositiveSmallIntegerField(default=3)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(max_chats__gte=1) & Q(max_chats__lte=20), name="agent_max_chats_range"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.status})"


class HandoffEvent(models.Model):
    """One step of a conversation's time with people: append-only, for console and metrics."""

    class Kind(models.TextChoices):
        ESCALATED = "escalated", "Entered the queue"
        ASSIGNED = "assigned", "Assigned to an agent"
        TRANSFERRED = "transferred", "Transferred"
        FIRST_RESPONSE = "first_response", "First human response"
        HANDED_BACK = "handed_back", "Handed back to the assistant"
        CLOSED = "closed", "Closed"

    conversation = models.ForeignKey(
        "chat.Conversation", on_delete=models.PROTECT, related_name="handoff_events"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["kind", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} at {self.created_at:%Y-%m-%d %H:%M}"


class InternalNote(models.Model):
    """Staff-only notes on a conversation; never sent to the customer."""

    conversation = models.ForeignKey(
        "chat.Conversation", on_delete=models.PROTECT, related_name="internal_notes"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Note by {self.author} on {self.conversation_id}"


class CannedResponse(models.Model):
    """Replies agents reuse; managed by staff."""

    title = models.CharField(max_length=100, unique=True)
    text = models.TextField()
    active = models.BooleanField(default=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class SatisfactionSurvey(models.Model):
    """The customer's one-question rating after a person closed the conversation."""

    conversation = models.OneToOneField(
        "chat.Conversation", on_delete=models.PROTECT, related_name="survey"
    )
    rating = models.PositiveSmallIntegerField()
    comment = models.CharField(max_length=1000, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="survey_rating_1_to_5"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rating}/5 for {self.conversation_id}"
