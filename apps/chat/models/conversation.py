"""A customer's conversations with the assistant (and later with a person).

Text is stored twice: `text` (encrypted, what the customer wrote or sees, with their own
values) and `masked_text` (placeholders instead of personal data: what the model saw or
wrote, and what staff see). The placeholder map of a conversation is encrypted with it.
"""

from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Q

from apps.accounts.crypto import EncryptedAttribute


class Conversation(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "With the assistant"
        ESCALATED = "escalated", "Waiting for a person"
        WITH_AGENT = "with_agent", "With a person"
        CLOSED = "closed", "Closed"

    class EscalationReason(models.TextChoices):
        CUSTOMER_REQUEST = "customer_request", "The customer asked for a person"
        GUARD_REFUSALS = "guard_refusals", "The assistant refused twice"
        BACKEND_UNAVAILABLE = "backend_unavailable", "No model backend answered"

    class Priority(models.TextChoices):
        # Ordered: the queue serves urgent first (the value sorts the same way).
        URGENT = "1urgent", "Suspected fraud"
        HIGH = "2high", "Vulnerable customer"
        NORMAL = "3normal", "Normal"

    class Resolution(models.TextChoices):
        ANSWERED = "answered", "Question answered"
        ACTION_TAKEN = "action_taken", "Action taken for the customer"
        REFERRED = "referred", "Referred to another team"
        FRAUD_REPORTED = "fraud_reported", "Fraud reported"
        NO_RESPONSE = "no_response", "Customer did not respond"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="conversations"
    )
    title = models.CharField(max_length=120, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    escalation_reason = models.CharField(
        max_length=32, choices=EscalationReason.choices, blank=True, default=""
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    guard_refusals = models.PositiveSmallIntegerField(default=0)
    # The human side (apps/chat/handoff.py).
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    assigned_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_conversations",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    first_agent_response_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    resolution_code = models.CharField(
        max_length=24, choices=Resolution.choices, blank=True, default=""
    )
    # Drafted by the model from the masked transcript when the conversation is escalated.
    handoff_summary = models.TextField(blank=True, default="")
    # JSON of apps.compliance.pii.PlaceholderMap, encrypted: the only link back to raw values.
    pii_map_ciphertext = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    pii_map = EncryptedAttribute()  # JSON text; use `pii_mapping` for the dict

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["customer", "-updated_at"]),
            models.Index(fields=["status", "priority", "escalated_at"]),
        ]
        permissions = [
            ("handle_conversations", "Take over and answer customers' conversations"),
            ("supervise_conversations", "Assign, transfer and read any agent's conversations"),
            ("view_customer_360", "See a customer's profile, accounts and conversations"),
            ("reveal_personal_data", "Reveal masked personal data, giving a reason"),
            ("export_transcripts", "Export conversation transcripts"),
            ("manage_canned_responses", "Manage canned responses"),
            ("view_handoff_metrics", "See queue and handoff metrics"),
        ]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"

    @property
    def pii_mapping(self) -> dict:
        raw = self.pii_map
        return json.loads(raw) if raw else {}

    @pii_mapping.setter
    def pii_mapping(self, value: dict) -> None:
        self.pii_map = json.dumps(value, sort_keys=True) if value else ""


class Message(models.Model):
    class Role(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        ASSISTANT = "assistant", "Assistant"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PENDING = "pending", "Waiting for the model"
        STREAMING = "streaming", "Streaming"
        COMPLETE = "complete", "Complete"
        STOPPED = "stopped", "Stopped by the customer"
        REFUSED = "refused", "Refused by a guard"
        FAILED = "failed", "No answer"

    # Monotonic ids: clients resume with `after=<id>`.
    id = models.BigAutoField(primary_key=True)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="messages"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    client_id = models.CharField(max_length=64, blank=True, default="")
    # The customer's message an assistant answer replies to: one answer per message.
    reply_to = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="answer"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    text_ciphertext = models.TextField(blank=True, default="")
    masked_text = models.TextField(blank=True, default="")
    # Article citations and transaction links the answer was grounded on.
    citations = models.JSONField(default=list, blank=True)
    guard_reasons = models.JSONField(default=list, blank=True)
    backend = models.CharField(max_length=64, blank=True, default="")
    model = models.CharField(max_length=200, blank=True, default="")
    ttft_ms = models.FloatField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    text = EncryptedAttribute()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=~Q(client_id=""),
                name="chat_message_client_id_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} message {self.pk}"


class MessageFeedback(models.Model):
    class Rating(models.TextChoices):
        UP = "up", "Helpful"
        DOWN = "down", "Not helpful"

    message = models.OneToOneField(Message, on_delete=models.PROTECT, related_name="feedback")
    rating = models.CharField(max_length=4, choices=Rating.choices)
    comment = models.CharField(max_length=1000, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.rating} on message {self.message_id}"


class ActionProposal(models.Model):
    """An action the assistant proposed; it runs only when the customer confirms it."""

    class Kind(models.TextChoices):
        FREEZE_CARD = "freeze_card", "Freeze a card"
        OPEN_DISPUTE = "open_dispute", "Dispute a transaction"
        TRANSFER = "transfer", "Make a transfer"

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Waiting for the customer"
        EXECUTED = "executed", "Done"
        DECLINED = "declined", "Declined by the customer"
        FAILED = "failed", "Could not be done"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="action_proposals"
    )
    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="action_proposals")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # Validated against the action's JSON Schema; references the customer's own objects by id.
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.kind} ({self.status})"


class KnowledgeArticle(models.Model):
    """Bank policy and help articles the assistant may cite; searched with PostgreSQL FTS."""

    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    category = models.CharField(max_length=40, blank=True, default="")
    body = models.TextField()
    published = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)
    search_vector = models.GeneratedField(
        expression=SearchVector("title", weight="A", config="english")
        + SearchVector("body", weight="B", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["title"]
        indexes = [GinIndex(fields=["search_vector"], name="chat_article_search")]

    def __str__(self) -> str:
        return self.title
