"""Ending sign-ins: API tokens (access and refresh) and browser sessions.

Access tokens are stateless JWTs, so revoking one needs a list that every request checks.
It lives in Redis (the cache database), one key per revoked token until the token would
expire anyway, plus one "not before" time per user for signing out everywhere: a token whose
sign-in (`auth_time`, carried from the refresh token to each access token) is not after it is
refused. `access_token_revocation_check` reads both in one MGET, on every request, also for
a token whose signature was checked earlier (authentication.py remembers those).

Refresh tokens are blacklisted in the database (simplejwt's token_blacklist), so they stay
refused even if Redis loses its keys; an access token lives 15 minutes.

Browser sessions (`cached_db`) do not say whose they are without decoding every one, so
the key of each session is added at sign-in to a Redis set per user: ending them all reads
that set and deletes those sessions from the database and the cache. The session
middleware (session_lifetime.py) also refuses a session signed in before the user's
session "not before" time, which catches a session whose key changed since sign-in.
"""

from __future__ import annotations

import time
from importlib import import_module

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_redis import get_redis_connection
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import Token

from apps.accounts.models import User
from apps.compliance.models import SecurityEvent
from apps.compliance.services import security_event_record

# The claim with the time of the sign-in a token comes from (seconds, with milliseconds).
# Set on the refresh token at sign-in; simplejwt copies it to every access token made from
# it and keeps it when the refresh token is rotated.
AUTH_TIME_CLAIM = "auth_time"
# The session key with the time of the sign-in (seconds since the epoch).
SESSION_SIGNED_IN_KEY = "_banksight_signed_in_at"

_REVOKED_JTI = "banksight:jwt:revoked:{jti}"
_TOKENS_NOT_BEFORE = "banksight:jwt:not-before:{user_id}"
_SESSIONS_NOT_BEFORE = "banksight:session:not-before:{user_id}"
_SESSION_KEYS = "banksight:session:keys:{user_id}"


def _redis():
    return get_redis_connection("default")


def _session_lifetime_seconds() -> int:
    return int(settings.SESSION_ABSOLUTE_HOURS * 3600)


def token_signed_in_at(token: Token) -> float:
    """When the sign-in this token comes from happened; tokens without the claim: `iat`."""
    value = token.payload.get(AUTH_TIME_CLAIM, token.payload.get("iat", 0))
    return float(value) if isinstance(value, int | float) else 0.0


def access_token_revoke(*, token: Token) -> None:
    """Refuse this access token from now on, until it expires anyway."""
    jti = token.payload.get(api_settings.JTI_CLAIM)
    if not jti:
        return
    expires_at = int(token.payload.get("exp", 0))
    if expires_at <= time.time():
        return
    _redis().set(_REVOKED_JTI.format(jti=jti), 1, exat=expires_at)


def access_token_is_revoked(*, token: Token) -> bool:
    """One Redis round trip: this token revoked, or issued before its user signed out
    everywhere."""
    jti = token.payload.get(api_settings.JTI_CLAIM, "")
    user_id = token.payload.get(api_settings.USER_ID_CLAIM, "")
    revoked, not_before = _redis().mget(
        _REVOKED_JTI.format(jti=jti), _TOKENS_NOT_BEFORE.format(user_id=user_id)
    )
    if revoked is not None:
        return True
    return not_before is not None and token_signed_in_at(token) <= float(not_before)


def user_tokens_revoke_all(*, user: User) -> int:
    """Every API token of the user stops working: access tokens at their next request,
    refresh tokens are blacklisted. Returns how many refresh tokens were blacklisted.

    Callers: signing out everywhere, a password change.
    """
    lifetime = int(api_settings.REFRESH_TOKEN_LIFETIME.total_seconds()) + 60
    _redis().set(_TOKENS_NOT_BEFORE.format(user_id=user.pk), f"{time.time():.3f}", ex=lifetime)
    outstanding = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    blacklisted = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    return len(blacklisted)


def user_session_register(*, user: User, session_key: str) -> None:
    """Remember a browser session of the user (at sign-in), so it can be ended later."""
    key = _SESSION_KEYS.format(user_id=user.pk)
    pipe = _redis().pipeline()
    pipe.sadd(key, session_key)
    # No session outlives its absolute lifetime, so neither need its entry here.
    pipe.expire(key, _session_lifetime_seconds() + 3600)
    pipe.execute()


def user_session_forget(*, user: User, session_key: str) -> None:
    _redis().srem(_SESSION_KEYS.format(user_id=user.pk), session_key)


def session_is_revoked(*, user_id: int, signed_in_at: float) -> bool:
    not_before = _redis().get(_SESSIONS_NOT_BEFORE.format(user_id=user_id))
    return not_before is not None and signed_in_at <= float(not_before)


def user_sessions_end_all(*, user: User) -> int:
    """Delete every browser session of the user from the database and the cache."""
    redis = _redis()
    redis.set(
        _SESSIONS_NOT_BEFORE.format(user_id=user.pk),
        f"{time.time():.3f}",
        ex=_session_lifetime_seconds() + 60,
    )
    key = _SESSION_KEYS.format(user_id=user.pk)
    session_keys = [value.decode() for value in redis.smembers(key)]
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    for session_key in session_keys:
        store_class(session_key=session_key).delete(session_key)
    redis.delete(key)
    return len(session_keys)


@transaction.atomic
def user_sign_out_everywhere(*, user: User, ip_address: str | None = None) -> dict:
    """End every browser session and every API token of the user, and record it."""
    tokens = user_tokens_revoke_all(user=user)
    sessions = user_sessions_end_all(user=user)
    security_event_record(
        kind=SecurityEvent.Kind.SIGNED_OUT_EVERYWHERE,
        username=user.username,
        ip_address=ip_address,
        actor=user,
        details={"sessions": sessions, "refresh_tokens": tokens},
    )
    return {"sessions": sessions, "refresh_tokens": tokens}
