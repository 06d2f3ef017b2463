"""Writes about people: roles, MFA devices, lockouts, deactivation."""

from __future__ import annotations

from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.errors import MfaCodeInvalid, RefreshTokenInvalid, UnknownLockout
from apps.accounts.models import User
from apps.accounts.roles import STAFF_ROLES, Role
from apps.compliance.services import security_event_record

MFA_DEVICE_NAME = "Authenticator app"


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    role: Role,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
) -> User:
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        is_staff=role in STAFF_ROLES,
        is_superuser=role == Role.ADMINISTRATOR,
        role=role,
    )
    user.set_password(password)
    user.save()
    user.groups.set([Group.objects.get(name=role.value)])
    return user


def user_role_set(*, user: User, role: Role) -> User:
    """A user has exactly one role; the role group and the staff flags follow from it."""
    with transaction.atomic():
        user.role = role
        user.is_staff = role in STAFF_ROLES
        user.is_superuser = role == Role.ADMINISTRATOR
        user.save(update_fields=["role", "is_staff", "is_superuser"])
        user.groups.set([Group.objects.get(name=role.value)])
    return user


def mfa_device_start(*, user: User) -> TOTPDevice:
    """The device being enrolled: reused until confirmed, so a reload keeps the same QR code."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    return device or TOTPDevice.objects.create(user=user, name=MFA_DEVICE_NAME, confirmed=False)


@transaction.atomic
def mfa_device_confirm(*, user: User, device: TOTPDevice, token: str) -> TOTPDevice:
    if device.user_id != user.id or not device.verify_token(token):
        raise MfaCodeInvalid(fields={"token": [MfaCodeInvalid.default_message]})
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    # One authenticator per person: an older one stops working once a new one is confirmed.
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    security_event_record(kind="mfa_enrolled", username=user.username, actor=user)
    return device


def mfa_token_check(*, user: User, token: str, ip_address: str | None = None) -> TOTPDevice:
    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
        if device.verify_token(token):
            return device
    security_event_record(kind="mfa_failed", username=user.username, ip_address=ip_address)
    raise MfaCodeInvalid(fields={"token": [MfaCodeInvalid.default_message]})


@transaction.atomic
def login_lockout_clear(*, username: str, actor: User) -> int:
    attempts = AccessAttempt.objects.filter(username=username)
    if not attempts.exists():
        raise UnknownLockout()
    cleared, _ = attempts.delete()
    security_event_record(kind="login_unlocked", username=username, actor=actor)
    return cleared


@transaction.atomic
def login_lockout_clear_address(*, ip_address: str, actor: User) -> int:
    """Unlock a client address locked for failures across usernames."""
    try:
        validate_ipv46_address(ip_address)
    except ValidationError as error:
        raise UnknownLockout("There is no lockout for that address.") from error
    attempts = AccessAttempt.objects.filter(ip_address=ip_address)
    if not attempts.exists():
        raise UnknownLockout("There is no lockout for that address.")
    cleared, _ = attempts.delete()
    security_event_record(
        kind="login_unlocked", ip_address=ip_address, actor=actor, details={"scope": "address"}
    )
    return cleared


@transaction.atomic
def user_deactivate(*, user: User) -> None:
    """Block a login everywhere: the account, its web sessions and its API refresh tokens."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    now = timezone.now()
    # Sessions are stored signed-but-opaque; only decoding tells whose they are.
    for session in Session.objects.filter(expire_date__gt=now).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
    for token in OutstandingToken.objects.filter(user=user, expires_at__gt=now):
        BlacklistedToken.objects.get_or_create(token=token)


def refresh_token_revoke(*, user: User, token: str) -> None:
    try:
        refresh = RefreshToken(token)
    except TokenError as error:
        raise RefreshTokenInvalid(fields={"refresh": [str(error)]}) from error
    if str(refresh.get("user_id")) != str(user.pk):
        raise RefreshTokenInvalid(fields={"refresh": ["This token belongs to someone else."]})
    refresh.blacklist()
