from __future__ import annotations

from apps.compliance.models import SecurityEvent


def security_event_record(
    *,
    kind: str,
    username: str = "",
    ip_address: str | None = None,
    actor=None,
    details: dict | None = None,
) -> SecurityEvent:
    return SecurityEvent.objects.create(
        kind=kind,
        username=username,
        ip_address=ip_address,
        actor=actor,
        details=details or {},
    )
