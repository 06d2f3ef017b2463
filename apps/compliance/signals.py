"""Receivers that turn third-party events into SecurityEvents."""

from axes.signals import user_locked_out
from django.conf import settings
from django.dispatch import receiver
from django.utils import timezone


@receiver(user_locked_out, dispatch_uid="compliance.record_lockout")
def _record_lockout(sender, request=None, username=None, ip_address=None, **kwargs):
    from apps.compliance.models import SecurityEvent
    from apps.compliance.services import security_event_record

    # Every attempt while locked fires the signal again: one event per lockout is enough.
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    if SecurityEvent.objects.filter(
        kind=SecurityEvent.Kind.LOGIN_LOCKED_OUT, username=username or "", created_at__gte=since
    ).exists():
        return
    security_event_record(
        kind=SecurityEvent.Kind.LOGIN_LOCKED_OUT,
        username=username or "",
        ip_address=ip_address,
        details={"path": getattr(request, "path", "")},
    )
