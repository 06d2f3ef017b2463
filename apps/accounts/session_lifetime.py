"""How long a browser session lasts: an idle timeout and an absolute lifetime.

A session ends after SESSION_IDLE_CUSTOMER_MINUTES (staff: SESSION_IDLE_STAFF_MINUTES)
without a request, and SESSION_ABSOLUTE_HOURS after signing in, whatever happens. Both
times live in the session itself (set at sign-in); the middleware compares them with the
clock on each request, then signs out: pages go to the sign-in page with a message saying
why, API and script requests get a 401 in the API's error shape.

Recording activity writes the session (PostgreSQL and Redis), so it is written at most once
every ACTIVITY_WRITE_SECONDS. The page's warning script (static/js/session_timeout.js) asks
`accounts:session-status`, which does not count as activity, and "Stay signed in" posts to
`accounts:session-keep-alive`, which does.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from apps.accounts.services import tokens

LAST_ACTIVITY_KEY = "_banksight_last_activity"
SIGNED_IN_KEY = tokens.SESSION_SIGNED_IN_KEY
# Activity is recorded at most this often (each write is a database and a cache write).
ACTIVITY_WRITE_SECONDS = 30
# Requests that must not count as activity: the warning script asking how long is left.
PASSIVE_VIEWS = frozenset({"accounts:session-status"})
# A page that reloads itself (the agents' queue every 15 s) marks those loads with this
# query parameter: an unattended screen must still time out.
AUTO_REFRESH_PARAMETER = "auto_refresh"
# Answered in JSON rather than with a redirect to the sign-in page.
JSON_VIEWS = frozenset({"accounts:session-status", "accounts:session-keep-alive"})


def idle_limit_seconds(user) -> int:
    minutes = (
        settings.SESSION_IDLE_STAFF_MINUTES
        if getattr(user, "is_bank_staff", False)
        else settings.SESSION_IDLE_CUSTOMER_MINUTES
    )
    return int(minutes * 60)


def absolute_limit_seconds() -> int:
    return int(settings.SESSION_ABSOLUTE_HOURS * 3600)


def session_seconds_left(request: HttpRequest) -> dict:
    """Seconds until the idle timeout and until the absolute end of this session."""
    now = time.time()
    session = request.session
    last = float(session.get(LAST_ACTIVITY_KEY, now))
    signed_in = float(session.get(SIGNED_IN_KEY, now))
    return {
        "idle_seconds_left": max(0, int(last + idle_limit_seconds(request.user) - now)),
        "absolute_seconds_left": max(0, int(signed_in + absolute_limit_seconds() - now)),
    }


def activity_record(request: HttpRequest) -> None:
    request.session[LAST_ACTIVITY_KEY] = time.time()


def _on_logged_in(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is None:
        return
    now = time.time()
    session[SIGNED_IN_KEY] = now
    session[LAST_ACTIVITY_KEY] = now
    if session.session_key is None:
        session.save()
    tokens.user_session_register(user=user, session_key=session.session_key)


def _on_logged_out(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if user is not None and session is not None and session.session_key:
        tokens.user_session_forget(user=user, session_key=session.session_key)


def signals_connect() -> None:
    user_logged_in.connect(_on_logged_in, dispatch_uid="accounts.session_lifetime.logged_in")
    user_logged_out.connect(_on_logged_out, dispatch_uid="accounts.session_lifetime.logged_out")


class SessionLifetimeMiddleware:
    """Signs a browser session out once it was idle too long or is too old."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        session = getattr(request, "session", None)
        if session is None or not request.user.is_authenticated:
            return None
        now = time.time()
        signed_in = session.get(SIGNED_IN_KEY)
        last = session.get(LAST_ACTIVITY_KEY)
        if signed_in is None or last is None:
            # A session from before these limits: they count from now.
            session[SIGNED_IN_KEY] = signed_in or now
            session[LAST_ACTIVITY_KEY] = now
            return None
        view_name = request.resolver_match.view_name if request.resolver_match else ""
        reason = self._end_reason(request, now=now, signed_in=signed_in, last=last)
        if reason:
            return self._sign_out(request, reason, view_name)
        passive = view_name in PASSIVE_VIEWS or request.GET.get(AUTO_REFRESH_PARAMETER) == "1"
        if not passive and now - last >= ACTIVITY_WRITE_SECONDS:
            session[LAST_ACTIVITY_KEY] = now
        return None

    @staticmethod
    def _end_reason(request, *, now: float, signed_in: float, last: float) -> str:
        idle = idle_limit_seconds(request.user)
        if now - last >= idle:
            return (
                f"You were signed out after {idle // 60} minutes without activity. "
                "Please sign in again."
            )
        if now - signed_in >= absolute_limit_seconds():
            return (
                f"You were signed out because you signed in more than "
                f"{settings.SESSION_ABSOLUTE_HOURS} hours ago. Please sign in again."
            )
        if tokens.session_is_revoked(user_id=request.user.pk, signed_in_at=signed_in):
            return "You were signed out on all your devices. Please sign in again."
        return ""

    @staticmethod
    def _sign_out(request, reason: str, view_name: str) -> HttpResponse:
        # Imported here: this module loads in AppConfig.ready(), before DRF may import.
        from banksight.api.errors import json_error_response

        staff = request.user.is_bank_staff
        logout(request)
        messages.info(request, reason)
        if request.path.startswith("/api/") or view_name in JSON_VIEWS:
            return json_error_response("session_expired", reason, 401)
        login_url = reverse(settings.STAFF_LOGIN_URL if staff else settings.LOGIN_URL)
        return redirect_to_login(request.get_full_path(), login_url)


def session_timeout_context(request: HttpRequest) -> dict:
    """What the page's warning script needs (data attributes on <body>), when signed in."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or getattr(request, "session", None) is None:
        return {}
    staff = user.is_bank_staff
    return {
        "session_timeout": {
            "idle_seconds": idle_limit_seconds(user),
            "warning_seconds": settings.SESSION_IDLE_WARNING_SECONDS,
            "status_url": reverse("accounts:session-status"),
            "keep_alive_url": reverse("accounts:session-keep-alive"),
            "login_url": reverse(settings.STAFF_LOGIN_URL if staff else settings.LOGIN_URL),
        }
    }
