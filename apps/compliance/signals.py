"""Receivers that turn third-party events into SecurityEvents."""

from axes.signals import user_locked_out
from django.dispatch import receiver


@receiver(user_locked_out, dispatch_uid="compliance.record_lockout")
def _record_lockout(sender, request=None, username=None, ip_address=None, **kwargs):
    from apps.compliance.services import security_event_record

    security_event_record(
        kind="login_locked_out",
        username=username or "",
        ip_address=ip_address,
        details={"path": getattr(request, "path", "")},
    )
