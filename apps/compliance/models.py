from django.conf import settings
from django.db import models


class SecurityEvent(models.Model):
    """A security-relevant event that is not a model change: lockouts, unlocks, MFA steps,
    staff revealing masked personal data (never the value itself: field and reason).

    Append-only like the audit trail (a PostgreSQL trigger rejects UPDATE and DELETE).
    """

    class Kind(models.TextChoices):
        LOGIN_LOCKED_OUT = "login_locked_out", "Sign-in locked out"
        LOGIN_UNLOCKED = "login_unlocked", "Sign-in unlocked by staff"
        MFA_ENROLLED = "mfa_enrolled", "Authenticator enrolled"
        MFA_FAILED = "mfa_failed", "Wrong one-time code"
        # Staff saw a customer's unmasked value; details name the field and the reason.
        PII_REVEALED = "pii_revealed", "Personal data revealed"
        TRANSCRIPT_REVEALED = "transcript_revealed", "Unmasked transcript exported"
        MFA_REMOVED = "mfa_removed", "Authenticator removed"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        PASSWORD_RESET_REQUESTED = "password_reset_requested", "Password reset link sent"
        PASSWORD_RESET = "password_reset", "Password reset by emailed link"
        SIGNED_OUT_EVERYWHERE = "signed_out_everywhere", "Signed out everywhere"

    kind = models.CharField(max_length=40, choices=Kind.choices)
    username = models.CharField(max_length=150, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["username", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.username}"
