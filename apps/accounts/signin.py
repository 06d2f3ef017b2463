"""A sign-in waiting for its second factor.

After the password, a person who has (or, for staff, must enrol) an authenticator is not
logged in: the session only holds this short-lived marker, so everything else sees an
anonymous visitor. The code step (or, for staff, the enrolment) then calls `login()`,
which rotates the session key, and `otp_login()`.
"""

from __future__ import annotations

import time

from django.contrib.auth import login, logout
from django.http import HttpRequest
from django_otp import DEVICE_ID_SESSION_KEY, user_has_device
from django_otp import login as otp_login
from django_otp.models import Device

from apps.accounts.models import User

PENDING_SIGN_IN_KEY = "banksight_pending_sign_in"
# Long enough to open an authenticator app (or enrol one); a half-finished sign-in left
# on a shared computer is useless after this.
PENDING_SIGN_IN_SECONDS = 5 * 60


def pending_sign_in_start(request: HttpRequest, *, user: User, step: str) -> None:
    """Remember who passed the password, and which step (a URL name) comes next."""
    if request.user.is_authenticated:
        logout(request)  # someone else's (or a stale) sign-in never mixes with this one
    else:
        request.session.cycle_key()  # nothing from before the password carries over
    request.session[PENDING_SIGN_IN_KEY] = {
        "user_id": user.pk,
        "backend": user.backend,
        "at": time.time(),
        "step": step,
    }


def pending_sign_in(request: HttpRequest) -> dict | None:
    """The marker while it is fresh, else None (an expired one is dropped)."""
    session = getattr(request, "session", None)
    pending = session.get(PENDING_SIGN_IN_KEY) if session is not None else None
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("at") or 0) > PENDING_SIGN_IN_SECONDS:
        del session[PENDING_SIGN_IN_KEY]
        return None
    return pending


def pending_sign_in_user(request: HttpRequest) -> User | None:
    pending = pending_sign_in(request)
    if pending is None:
        return None
    user = User.objects.filter(pk=pending["user_id"], is_active=True).first()
    if user is not None:
        user.backend = pending["backend"]
    return user


def pending_sign_in_step(request: HttpRequest) -> str | None:
    """The URL name of the step a half-signed-in session must finish, if there is one."""
    pending = pending_sign_in(request)
    return pending["step"] if pending else None


def sign_in_complete(request: HttpRequest, *, user: User, device) -> None:
    """The second factor passed: log in (a new session key) and mark the session verified."""
    if not request.user.is_authenticated:
        login(request, user, backend=getattr(user, "backend", None))
    else:
        request.session.cycle_key()
    request.session.pop(PENDING_SIGN_IN_KEY, None)
    otp_login(request, device)


def mfa_session_refused(user, *, session=None) -> bool:
    """True when a session-authenticated user has not passed the second factor they need:
    staff always need it, customers once they confirmed an authenticator.

    Sessions only become signed in after the code step (apps.accounts.signin); this is the
    second line, for the API, the chat's stream and its socket. Requests carry django-otp's
    `is_verified()`; a websocket scope does not, so its `session` is read instead.
    """
    if not getattr(user, "is_authenticated", False):
        return False
    is_verified = getattr(user, "is_verified", None)  # set by django-otp's OTPMiddleware
    if is_verified is not None:
        verified = is_verified()
    else:
        device = Device.from_persistent_id((session or {}).get(DEVICE_ID_SESSION_KEY) or "")
        verified = device is not None and device.user_id == user.pk and device.confirmed
    if verified:
        return False
    return bool(user.is_bank_staff or user_has_device(user, confirmed=True))
