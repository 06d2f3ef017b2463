"""The audit trail: which models django-auditlog records, and who the actor is.

Every model under apps/ is either registered below or listed in AUDIT_EXEMPT with the
reason it holds no customer, account, case or configuration data. A test enforces this.
"""

from __future__ import annotations

import contextlib

from auditlog import get_logentry_model
from auditlog.cid import set_cid
from auditlog.context import auditlog_value
from auditlog.middleware import AuditlogMiddleware
from auditlog.registry import auditlog
from celery import Task
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models.signals import pre_save

# "app_label.ModelName" -> reason it is not audited.
AUDIT_EXEMPT: dict[str, str] = {
    "accounts.JournalEntry": (
        "The ledger is its own record: append-only (a trigger rejects UPDATE and DELETE), "
        "each entry names who created it and the payment it belongs to."
    ),
    "accounts.Posting": "Append-only ledger lines of a JournalEntry; never changed.",
    "chat.HandoffEvent": (
        "Append-only log of a conversation's assignments, transfers and closing; each row "
        "names its actor. The conversation's own changes are audited."
    ),
    "chat.Message": (
        "The transcript is its own record: a message is written once and only its answer's "
        "streaming state and timings change; who wrote it is on the row."
    ),
    "chat.InferenceCall": (
        "Metrics: one row per model call (timings, token counts, error code), no message "
        "text; written on every answer."
    ),
    "chat.BenchmarkRun": "Metrics: a benchmark run's status and who asked for it; no text.",
    "chat.BenchmarkResult": "Metrics: a backend's figures in one benchmark run.",
}

# Registered models, with fields whose values must never be copied into the trail.
AUDITED_MODELS: dict[str, dict] = {
    "accounts.User": {"exclude_fields": ["password", "last_login"]},
    "auth.Group": {"m2m_fields": {"permissions"}},
    "otp_totp.TOTPDevice": {
        "exclude_fields": [
            "key",
            "last_t",
            "drift",
            "throttling_failure_timestamp",
            "throttling_failure_count",
            "last_used_at",
        ],
    },
    "compliance.SecurityEvent": {},
    "accounts.Customer": {
        # Ciphertexts show that a value changed without revealing it; keyed hashes stay out.
        "mask_fields": ["ssn_ciphertext", "national_id_ciphertext", "phone_ciphertext"],
        "exclude_fields": ["ssn_hash", "national_id_hash", "phone_hash"],
    },
    # The balance moves with postings (the ledger records those), not through save().
    "accounts.Account": {"exclude_fields": ["balance_minor"]},
    "accounts.Payment": {},
    "accounts.Payee": {},
    "accounts.Card": {},
    "accounts.StandingOrder": {},
    "accounts.LoanPrequalification": {},
    "chat.Conversation": {
        "mask_fields": ["pii_map_ciphertext"],
    },
    "chat.MessageFeedback": {},
    "chat.AgentPresence": {},
    "chat.CannedResponse": {},
    "chat.InternalNote": {},
    "chat.SatisfactionSurvey": {},
    "chat.ActionProposal": {},
    "chat.KnowledgeArticle": {"exclude_fields": ["search_vector"]},
    # Switching the active backend or changing its URL is a configuration change.
    "chat.ModelBackend": {},
    "fraud.Dispute": {},
    # Revoking a mobile sign-in is a security change worth an entry with its actor.
    "token_blacklist.BlacklistedToken": {},
}

# Kept out of the trail: these tables change on every request or are logs themselves.
THIRD_PARTY_NOT_AUDITED = {
    "axes.AccessAttempt": "Failed-login counters; lockouts and unlocks are SecurityEvents.",
    "axes.AccessLog": "Access log of its own.",
    "axes.AccessFailureLog": "Access log of its own.",
}


def register_audited_models() -> None:
    for dotted, options in AUDITED_MODELS.items():
        model = apps.get_model(dotted)
        if not auditlog.contains(model):
            auditlog.register(model, **options)


# Marks auditlog's context data as BankSight's own (audit_context below).
_BANKSIGHT_CONTEXT = "banksight.audit_context"


@contextlib.contextmanager
def audit_context(*, actor=None, actor_id=None, remote_addr=None, remote_port=None):
    """Who and where, for the audit entries written inside the block.

    `actor_id` instead of `actor`: the user is read only if an audited change is made.
    django-auditlog's own `set_actor` connects a pre_save receiver for LogEntry on entry
    and disconnects it on exit, keyed by time.time(). Each connect empties the receiver
    cache of pre_save for every model in the process; blocks running at once in threads
    each add a receiver that every audit entry then calls; and two blocks that start on
    the same clock tick share one key, so the first to end removes the other's receiver
    and its entries lose their actor. Here the data is only put in auditlog's context
    variable, and one receiver, connected once (audit_context_connect), copies it onto
    each entry.
    """
    token = auditlog_value.set(
        {
            "signal_duid": _BANKSIGHT_CONTEXT,
            "actor": actor,
            "actor_id": actor_id,
            "remote_addr": remote_addr,
            "remote_port": remote_port,
        }
    )
    try:
        yield
    finally:
        auditlog_value.reset(token)


class AuditContextMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware, with audit_context instead of its receiver per request."""

    def __call__(self, request):
        set_cid(request)
        with audit_context(**self.get_extra_data(request)):
            return self.get_response(request)


def _audit_context_copy(sender, instance, **kwargs) -> None:
    data = auditlog_value.get(None)
    if not data or data.get("signal_duid") != _BANKSIGHT_CONTEXT:
        return
    if data["actor"] is None and data["actor_id"] is not None:
        data["actor"] = get_user_model().objects.filter(pk=data["actor_id"]).first()
        data["actor_id"] = None
    actor = data["actor"]
    if instance.actor is None and isinstance(actor, get_user_model()):
        instance.actor = actor
        instance.actor_email = getattr(actor, "email", None)
    instance.remote_addr = data["remote_addr"]
    instance.remote_port = data["remote_port"]


def audit_context_connect() -> None:
    pre_save.connect(
        _audit_context_copy,
        sender=get_logentry_model(),
        dispatch_uid="compliance.audit_context",
        weak=False,
    )


def audit_actor_bind(*, actor) -> None:
    """Name the actor of the audit entries written later in this request."""
    context = auditlog_value.get(None)
    if context is not None:
        context["actor"] = actor
        if context.get("signal_duid") == _BANKSIGHT_CONTEXT:
            # Not in set_actor's data: django-auditlog copies every key a LogEntry has.
            context["actor_id"] = None


class ActorTask(Task):
    """Base for tasks that change audited data.

    Callers pass `actor_id=` explicitly (a task has no request user); the task body then
    runs with that user as the audit actor. A missing actor is a programming error.
    """

    abstract = True

    def __call__(self, *args, **kwargs):
        if "actor_id" not in kwargs:
            raise TypeError(f"{self.name} must be called with actor_id=")
        with audit_context(actor_id=kwargs["actor_id"]):
            return super().__call__(*args, **kwargs)


SYSTEM_USERNAME = "system"


def system_actor():
    """The bank's own account, the actor of scheduled work that no person asked for.

    It cannot sign in (inactive, no usable password) and has no role.
    """
    user_model = get_user_model()
    user = user_model.objects.filter(username=SYSTEM_USERNAME).first()
    if user is None:
        user = user_model(
            username=SYSTEM_USERNAME,
            first_name="BankSight",
            last_name="scheduler",
            is_active=False,
        )
        user.set_unusable_password()
        user.save()
    return user


class SystemTask(Task):
    """Base for celery beat tasks that change audited data: they run as `system_actor()`."""

    abstract = True

    def __call__(self, *args, **kwargs):
        with audit_context(actor=system_actor()):
            return super().__call__(*args, **kwargs)
