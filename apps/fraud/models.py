"""Scoring, alerts, cases and disputes.

Models arrive with their issues; each is registered with the audit trail
(apps/compliance/audit.py) or listed there as exempt with a reason.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Dispute(models.Model):
    """A customer's dispute of one transaction: their own side (the Posting) of an entry.

    The ledger itself never changes: if the bank refunds, that is a new entry. While a
    dispute is open or being investigated it is the only one of its transaction
    (a partial unique constraint settles two customers' clicks racing).
    """

    class Reason(models.TextChoices):
        UNAUTHORISED = "unauthorised", "I did not make or allow this payment"
        NOT_RECEIVED = "not_received", "I paid but did not receive the goods or service"
        DUPLICATE = "duplicate", "I was charged more than once"
        WRONG_AMOUNT = "wrong_amount", "The amount is wrong"
        OTHER = "other", "Something else"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        INVESTIGATING = "investigating", "Being investigated"
        RESOLVED_CUSTOMER = "resolved_customer", "Resolved in the customer's favour"
        RESOLVED_BANK = "resolved_bank", "Resolved in the bank's favour"

    ACTIVE_STATUSES = (Status.OPEN, Status.INVESTIGATING)

    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="disputes"
    )
    posting = models.ForeignKey(
        "accounts.Posting", on_delete=models.PROTECT, related_name="disputes"
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    description = models.TextField(max_length=2000, blank=True, default="")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["posting"],
                condition=Q(status__in=["open", "investigating"]),
                name="fraud_dispute_one_active_per_posting",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="fraud_dispute_status")]

    def __str__(self) -> str:
        return f"Dispute #{self.pk} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES
