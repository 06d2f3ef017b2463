from __future__ import annotations

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Count, Max, QuerySet, Sum
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.models import User


def login_lockout_list() -> QuerySet[AccessAttempt]:
    return AccessAttempt.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT
    ).order_by("-attempt_time")


def login_lockout_address_list() -> list[dict]:
    """Client addresses locked for failures across usernames (password spraying)."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    return list(
        AccessAttempt.objects.filter(attempt_time__gte=since, ip_address__isnull=False)
        .values("ip_address")
        .annotate(
            failures=Sum("failures_since_start"),
            usernames=Count("username", distinct=True),
            last_attempt=Max("attempt_time"),
        )
        .filter(failures__gte=settings.AXES_ADDRESS_FAILURE_LIMIT)
        .order_by("-last_attempt")
    )


def mfa_device_get_confirmed(*, user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def user_profile(*, user: User) -> dict:
    return {
        "username": user.username,
        "role": user.role or None,
        "profile": {
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email,
            "mfa_enabled": mfa_device_get_confirmed(user=user) is not None,
        },
    }
