"""The customer's Security page, and changing or resetting a password on both sides.

Django's own password views and one-time tokens do the work; these subclasses store the new
password through the services (which revoke API tokens and record a security event), keep
the person on the right side (portal or back office) and rate-limit the reset emails.
Signing out everywhere lives in session_views.py.
"""

from __future__ import annotations

import hashlib
import math

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.views.generic import FormView, TemplateView

from apps.accounts import selectors, services
from apps.accounts.access import CustomerRequiredMixin
from apps.accounts.security_forms import (
    MfaRemoveForm,
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
)
from banksight.api.throttling import rate_limit_hit
from banksight.errors import BankError


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


# --- The customer's Security page -------------------------------------------------------


class _SecurityPageMixin:
    template_name = "accounts/security.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        kwargs.setdefault("remove_form", MfaRemoveForm())
        return super().get_context_data(
            authenticator=selectors.mfa_device_get_confirmed(user=user),
            sign_ins=selectors.sign_in_list_recent(user=user),
            **kwargs,
        )


class SecurityView(CustomerRequiredMixin, _SecurityPageMixin, TemplateView):
    """Authenticator status, password, signing out everywhere and recent sign-ins.

    The QR code and secret are never shown here: only while enrolling (MfaEnrolView).
    """


class MfaRemoveView(CustomerRequiredMixin, _SecurityPageMixin, FormView):
    """Removing the authenticator takes a current code from it, never a password alone."""

    form_class = MfaRemoveForm
    http_method_names = ["post"]

    def get_context_data(self, **kwargs):
        kwargs["remove_form"] = kwargs["form"]
        return super().get_context_data(**kwargs)

    def form_valid(self, form):
        try:
            services.mfa_device_remove(
                user=self.request.user,
                token=form.cleaned_data["token"],
                ip_address=_client_ip(self.request),
            )
        except BankError as error:
            form.add_error("token", error.message)
            return self.form_invalid(form)
        messages.success(
            self.request,
            "Your authenticator app is removed. Signing in now needs only your password.",
        )
        return redirect("accounts:security")


# --- Changing a password (signed in) -----------------------------------------------------


class _PasswordChangeMixin:
    """Django's PasswordChangeView: the old password, the validators, and this session kept
    signed in while every other one ends; the service also revokes the API tokens."""

    form_class = PasswordChangeForm

    def form_valid(self, form):
        services.user_password_change(
            user=form.user,
            password=form.cleaned_data["new_password1"],
            ip_address=_client_ip(self.request),
        )
        update_session_auth_hash(self.request, form.user)
        messages.success(
            self.request,
            "Your password has been changed. You are signed out everywhere else.",
        )
        return redirect(self.get_success_url())


class CustomerPasswordChangeView(
    CustomerRequiredMixin, _PasswordChangeMixin, auth_views.PasswordChangeView
):
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("accounts:security")


class StaffPasswordChangeView(_PasswordChangeMixin, auth_views.PasswordChangeView):
    """Under /staff/: StaffAreaMiddleware has checked staff and the second factor."""

    template_name = "staff/password_change_form.html"
    success_url = reverse_lazy("staff:home")


# --- Forgotten password: a one-time link by email ---------------------------------------


def _reset_wait_seconds(request, email: str) -> float:
    """Counts this request per client IP, then per address; 0 while both are allowed.

    Every address counts alike, known or not, so the limit tells nothing about accounts.
    """
    wait = rate_limit_hit(
        key=f"password-reset:ip:{_client_ip(request)}",
        rate=settings.PASSWORD_RESET_RATE_PER_IP,
    )
    if wait:
        return wait
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return rate_limit_hit(
        key=f"password-reset:email:{digest}", rate=settings.PASSWORD_RESET_RATE_PER_EMAIL
    )


class _PasswordResetMixin:
    """Django's PasswordResetView: the same answer whether or not the address is known."""

    form_class = PasswordResetForm
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    @property
    def extra_email_context(self) -> dict:
        return {"link_valid_minutes": settings.PASSWORD_RESET_TIMEOUT // 60}

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        wait = _reset_wait_seconds(self.request, email)
        if wait:
            minutes = math.ceil(wait / 60)
            form.add_error(
                "email",
                "Too many reset links have been asked for. "
                f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        users = list(form.get_users(email))
        response = super().form_valid(form)  # one email per active user with this address
        services.password_reset_requests_record(users=users, ip_address=_client_ip(self.request))
        return response


class _PasswordResetConfirmMixin:
    """Django's PasswordResetConfirmView and its one-time token (it changes with the
    password, so the link works once). Nobody is signed in afterwards: staff still need
    their authenticator code."""

    form_class = SetPasswordForm
    post_reset_login = False

    def form_valid(self, form):
        services.user_password_reset(
            user=form.user,
            password=form.cleaned_data["new_password1"],
            ip_address=_client_ip(self.request),
        )
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        return redirect(self.get_success_url())


class PasswordResetView(_PasswordResetMixin, auth_views.PasswordResetView):
    template_name = "registration/password_reset_form.html"
    success_url = reverse_lazy("accounts:password-reset-done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirmView(_PasswordResetConfirmMixin, auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"


class StaffPasswordResetView(_PasswordResetMixin, auth_views.PasswordResetView):
    template_name = "staff/password_reset_form.html"
    success_url = reverse_lazy("staff:password-reset-done")


class StaffPasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "staff/password_reset_done.html"


class StaffPasswordResetConfirmView(
    _PasswordResetConfirmMixin, auth_views.PasswordResetConfirmView
):
    template_name = "staff/password_reset_confirm.html"
    success_url = reverse_lazy("staff:password-reset-complete")


class StaffPasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "staff/password_reset_complete.html"
