"""Who may open which side: the customer portal, the staff back office, the admin."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.middleware import (
    LoginRequiredMiddleware as DjangoLoginRequiredMiddleware,
)
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django_otp import user_has_device

from apps.accounts.roles import Role
from apps.accounts.signin import pending_sign_in_step
from banksight.api.errors import json_error_response

STAFF_PATH_PREFIXES = ("/staff/", "/admin/")
# Reachable before any check: signing in and out, and a forgotten password.
STAFF_PUBLIC_VIEWS = frozenset(
    {
        "staff:login",
        "staff:logout",
        "staff:password-reset",
        "staff:password-reset-done",
        "staff:password-reset-confirm",
        "staff:password-reset-complete",
    }
)
# Reachable by staff who gave their password but have not passed the second factor yet.
STAFF_MFA_VIEWS = frozenset({"staff:mfa-enrol", "staff:mfa-verify"})


def _with_next(url_name: str, next_url: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': next_url})}"


class StaffAreaMiddleware:
    """Every view under /staff/ and /admin/ needs staff with a verified OTP device.

    Enforced here, once, rather than in each view, so that no later view can forget it.
    Staff without a confirmed device are sent to enrol; with one, to enter a code.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not request.path.startswith(STAFF_PATH_PREFIXES):
            return None
        view_name = request.resolver_match.view_name if request.resolver_match else ""
        if view_name in STAFF_PUBLIC_VIEWS:
            return None
        user = request.user
        if not user.is_authenticated:
            # Password given, second factor not yet: the session is not signed in, and
            # only the code (or enrolment) step opens; the views check it is staff's.
            step = pending_sign_in_step(request) or ""
            if step.startswith("staff:"):
                if view_name in STAFF_MFA_VIEWS:
                    return None
                return redirect(_with_next(step, request.get_full_path()))
            return redirect_to_login(request.get_full_path(), reverse(settings.STAFF_LOGIN_URL))
        if not user.is_bank_staff:
            raise PermissionDenied("The back office is for bank staff.")
        if view_name in STAFF_MFA_VIEWS:
            return None
        if not user.is_verified():
            enrolled = user_has_device(user, confirmed=True)
            step = "staff:mfa-verify" if enrolled else "staff:mfa-enrol"
            return redirect(_with_next(step, request.get_full_path()))
        if request.path.startswith("/admin/") and user.role != Role.ADMINISTRATOR:
            raise PermissionDenied("Django's admin is for administrators.")
        return None


def sign_in_redirect(request: HttpRequest, login_url: str) -> HttpResponse:
    """Anonymous visitors go to sign in; a half-signed-in session to its code step."""
    step = pending_sign_in_step(request)
    if step:
        return redirect(_with_next(step, request.get_full_path()))
    return redirect_to_login(request.get_full_path(), login_url)


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Django's, except that a session waiting for its second factor is sent to that step."""

    def handle_no_permission(self, request, view_func):
        step = pending_sign_in_step(request)
        if step:
            return redirect(_with_next(step, request.get_full_path()))
        return super().handle_no_permission(request, view_func)


class CustomerRequiredMixin:
    """Portal pages: customers only, and past their second factor if they enrolled one."""

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return sign_in_redirect(request, reverse(settings.LOGIN_URL))
        if not user.is_customer:
            raise PermissionDenied("The customer portal is for customers.")
        if not user.is_verified() and user_has_device(user, confirmed=True):
            return redirect(_with_next("accounts:mfa-verify", request.get_full_path()))
        return super().dispatch(request, *args, **kwargs)


class StaffPermissionMixin:
    """Back-office pages that need one permission on top of the middleware's checks."""

    permission: str = ""

    def dispatch(self, request, *args, **kwargs):
        if self.permission and not request.user.has_perm(self.permission):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """What django-axes answers once a username is locked out."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = (
        f"Too many failed sign-in attempts. This sign-in is locked for {minutes} minutes; "
        "call us if you need help sooner."
    )
    if request.path.startswith("/api/"):
        response = json_error_response("locked_out", message, 429)
        response["Retry-After"] = str(minutes * 60)
        return response
    staff = request.path.startswith("/staff/")
    template = "staff/locked_out.html" if staff else "accounts/locked_out.html"
    return render(request, template, {"message": message, "minutes": minutes}, status=429)
