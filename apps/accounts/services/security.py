"""Writes of the Security page and the password flows: a changed or reset password, a
removed authenticator, a reset link asked for.

The forms (Django's PasswordChangeForm, SetPasswordForm) check the old password and the
password validators; these services only store the result, with what must follow from it.
"""

from __future__ import annotations

from collections.abc import Iterable

from axes.utils import reset as axes_reset
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.models import User
from apps.accounts.services.people import mfa_token_check
from apps.compliance.models import SecurityEvent
from apps.compliance.services import security_event_record


def _password_store(*, user: User, password: str) -> None:
    """The new password; every other browser session ends at its next request (Django
    checks each session's password hash), and every API token is revoked now."""
    from apps.accounts.services.tokens import user_tokens_revoke_all

    user.set_password(password)
    user.save(update_fields=["password"])
    user_tokens_revoke_all(user=user)


@transaction.atomic
def user_password_change(*, user: User, password: str, ip_address: str | None = None) -> None:
    """A signed-in person chose a new password (after entering the old one)."""
    _password_store(user=user, password=password)
    security_event_record(
        kind=SecurityEvent.Kind.PASSWORD_CHANGED,
        username=user.username,
        ip_address=ip_address,
        actor=user,
    )


@transaction.atomic
def user_password_reset(*, user: User, password: str, ip_address: str | None = None) -> None:
    """A new password set through an emailed one-time link.

    The person knows the new password now, so a lockout of their username is lifted. It does
    not sign anyone in: staff still need their authenticator code at the next sign-in.
    """
    _password_store(user=user, password=password)
    axes_reset(username=user.username)
    security_event_record(
        kind=SecurityEvent.Kind.PASSWORD_RESET,
        username=user.username,
        ip_address=ip_address,
        actor=user,
    )


@transaction.atomic
def password_reset_requests_record(*, users: Iterable[User], ip_address: str | None) -> None:
    """One event per person a reset link was sent to (none for an unknown address)."""
    for user in users:
        security_event_record(
            kind=SecurityEvent.Kind.PASSWORD_RESET_REQUESTED,
            username=user.username,
            ip_address=ip_address,
        )


def mfa_device_remove(*, user: User, token: str, ip_address: str | None = None) -> None:
    """Remove the person's authenticator, proven with a current code from it.

    The code is checked outside the transaction: a wrong one is recorded (`mfa_failed`) and
    counts towards django-otp's slow-down even though this raises MfaCodeInvalid.
    """
    mfa_token_check(user=user, token=token, ip_address=ip_address)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        security_event_record(
            kind=SecurityEvent.Kind.MFA_REMOVED,
            username=user.username,
            ip_address=ip_address,
            actor=user,
        )
