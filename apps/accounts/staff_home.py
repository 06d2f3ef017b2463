"""What the staff home page shows each role: queues and counts, chosen by permission."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.accounts.models import User

HANDLE = "chat.handle_conversations"
SUPERVISE = "chat.supervise_conversations"
METRICS = "chat.view_handoff_metrics"
SECURITY_EVENTS = "accounts.view_login_lockouts"
CUSTOMER_360 = "chat.view_customer_360"
RECENT = timedelta(hours=24)


def duration_label(seconds: float | None) -> str:
    """120.0 -> "2 min", 3725 -> "1 h 2 min", 42.4 -> "42 s"; None -> "—"."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {sec} s" if sec and minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def metrics_rows(metrics) -> list[tuple[str, str, str]]:
    """(label, value, detail) for the metrics panel."""
    sat = metrics.satisfaction_average
    return [
        ("Queue length", str(metrics.queue.waiting), f"{metrics.queue.with_agent} with an agent"),
        (
            "First response p50 / p95",
            f"{duration_label(metrics.first_response_p50_s)} / "
            f"{duration_label(metrics.first_response_p95_s)}",
            f"{metrics.first_responses} answered today",
        ),
        (
            "Handle time p50 / p95",
            f"{duration_label(metrics.handle_p50_s)} / {duration_label(metrics.handle_p95_s)}",
            f"{metrics.handled} closed or handed back today",
        ),
        (
            "Target breaches",
            str(metrics.breaches),
            f"{metrics.breaches_answered_late} answered late, "
            f"{metrics.breaches_unanswered} waiting past target",
        ),
        (
            "Satisfaction",
            "—" if sat is None else f"{sat:.1f} / 5",
            f"{metrics.satisfaction_count} surveys today",
        ),
        (
            "Assistant-resolved / escalated",
            f"{_share(metrics.assistant_resolved_share)} / {_share(metrics.escalated_share)}",
            f"of {metrics.conversations_started} conversations started today",
        ),
    ]


def _security_counts(now) -> dict:
    from django.db.models import Count, Q

    from apps.compliance.models import SecurityEvent

    kinds = SecurityEvent.Kind
    return SecurityEvent.objects.filter(created_at__gte=now - RECENT).aggregate(
        total=Count("id"),
        lockouts=Count("id", filter=Q(kind=kinds.LOGIN_LOCKED_OUT)),
        mfa_failed=Count("id", filter=Q(kind=kinds.MFA_FAILED)),
        reveals=Count("id", filter=Q(kind__in=[kinds.PII_REVEALED, kinds.TRANSCRIPT_REVEALED])),
    )


def staff_home_panels(*, user: User) -> dict:
    """Only the panels the user's permissions open; each is computed only when shown."""
    from apps.chat import handoff_metrics

    now = timezone.now()
    panels: dict = {}
    handles, supervises = user.has_perm(HANDLE), user.has_perm(SUPERVISE)
    if handles or supervises or user.has_perm(METRICS):
        metrics = handoff_metrics.handoff_metrics(since=handoff_metrics.day_start(now), until=now)
        if handles or supervises:
            panels["chat"] = {
                "queue": metrics.queue,
                "longest_wait": duration_label(metrics.queue.longest_wait_seconds),
                "my_open": handoff_metrics.agent_open_count(agent=user) if handles else None,
                "breaches_today": metrics.breaches,
            }
        if user.has_perm(METRICS):
            panels["metrics"] = {"rows": metrics_rows(metrics)}
    if user.has_perm(CUSTOMER_360):
        panels["customers"] = True
    if user.has_perm(SECURITY_EVENTS):
        panels["security"] = _security_counts(now)
    return panels
