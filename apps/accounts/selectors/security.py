"""Reads of the Security page: recent sign-ins, successful and failed.

Sign-ins are already recorded elsewhere: django-axes writes an AccessLog row for each
successful sign-in and an AccessFailureLog row for each wrong password
(AXES_ENABLE_ACCESS_FAILURE_LOG), and a wrong authenticator code is a SecurityEvent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from axes.models import AccessFailureLog, AccessLog

from apps.accounts.models import User
from apps.compliance.models import SecurityEvent

RECENT_SIGN_INS = 10


@dataclass(frozen=True)
class SignInAttempt:
    at: datetime
    ip_address: str | None
    user_agent: str
    succeeded: bool
    outcome: str


def sign_in_list_recent(*, user: User, limit: int = RECENT_SIGN_INS) -> list[SignInAttempt]:
    """The user's newest sign-ins and failed attempts, newest first."""
    username = user.get_username()
    attempts = [
        SignInAttempt(row.attempt_time, row.ip_address, row.user_agent, True, "Signed in")
        for row in AccessLog.objects.filter(username=username).order_by("-attempt_time")[:limit]
    ]
    attempts += [
        SignInAttempt(
            row.attempt_time,
            row.ip_address,
            row.user_agent,
            False,
            "Locked out" if row.locked_out else "Wrong password",
        )
        for row in AccessFailureLog.objects.filter(username=username).order_by("-attempt_time")[
            :limit
        ]
    ]
    attempts += [
        SignInAttempt(event.created_at, event.ip_address, "", False, "Wrong authenticator code")
        for event in SecurityEvent.objects.filter(
            kind=SecurityEvent.Kind.MFA_FAILED, username=username
        ).order_by("-created_at")[:limit]
    ]
    return sorted(attempts, key=lambda attempt: attempt.at, reverse=True)[:limit]
