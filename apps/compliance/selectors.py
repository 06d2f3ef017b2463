from __future__ import annotations

from auditlog.models import LogEntry
from django.db.models import Q, QuerySet

from apps.compliance.models import SecurityEvent


def audit_entry_list(*, query: str = "", action: int | None = None) -> QuerySet[LogEntry]:
    entries = LogEntry.objects.select_related("actor", "content_type").order_by("-timestamp", "-id")
    if query:
        entries = entries.filter(
            Q(actor__username__icontains=query)
            | Q(object_repr__icontains=query)
            | Q(content_type__model__icontains=query)
            | Q(cid=query)
        )
    if action is not None:
        entries = entries.filter(action=action)
    return entries


def security_event_list(*, username: str = "") -> QuerySet[SecurityEvent]:
    events = SecurityEvent.objects.select_related("actor")
    if username:
        events = events.filter(username__iexact=username)
    return events
