"""Customer portal pages, and the sign-in and MFA flow that both sides share."""

from __future__ import annotations

import base64

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views import View
from django.views.generic import FormView
from django_otp import user_has_device

from apps.accounts import services, signin
from apps.accounts.access import CustomerRequiredMixin
from apps.accounts.forms import LoginForm, OtpTokenForm
from apps.accounts.selectors import mfa_device_get_confirmed
from banksight.errors import BankError


def safe_next_url(request, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def qr_code_data_uri(text: str) -> str:
    svg = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).to_string()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()


@method_decorator(login_not_required, name="dispatch")
class SignInView(FormView):
    """Username and password, then the second factor where the person has one."""

    form_class = LoginForm
    template_name = "accounts/login.html"
    home_url = "accounts:home"
    verify_url = "accounts:mfa-verify"
    enrol_url: str | None = None  # customers may enrol; staff must
    wrong_side_message = "Bank staff sign in at the staff sign-in page."

    def person_allowed(self, user) -> bool:
        return user.is_customer

    def get_context_data(self, **kwargs):
        return super().get_context_data(next=self.request.GET.get("next", ""), **kwargs)

    def form_valid(self, form):
        user = authenticate(
            self.request,
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password"],
        )
        if user is None:
            form.add_error("password", "The username or password is not correct.")
            return self.form_invalid(form)
        if not self.person_allowed(user):
            form.add_error(None, self.wrong_side_message)
            return self.form_invalid(form)
        next_url = safe_next_url(self.request, reverse(self.home_url))
        if user_has_device(user, confirmed=True):
            step = self.verify_url
        elif self.enrol_url:
            step = self.enrol_url
        else:
            login(self.request, user)
            return redirect(next_url)
        # Not logged in until the second factor passes: see apps.accounts.signin.
        signin.pending_sign_in_start(self.request, user=user, step=step)
        return redirect(f"{reverse(step)}?{urlencode({'next': next_url})}")


class SignOutView(View):
    login_url = "accounts:login"

    def post(self, request):
        logout(request)
        messages.info(request, "You have signed out.")
        return redirect(self.login_url)


def _person_signing_in(request):
    """Who the MFA steps are for: the signed-in user, or the one with a pending sign-in."""
    if request.user.is_authenticated:
        return request.user
    return signin.pending_sign_in_user(request)


@method_decorator(login_not_required, name="dispatch")  # it serves half-signed-in sessions
class MfaVerifyView(FormView):
    """Second step of sign-in: a code from the enrolled authenticator."""

    form_class = OtpTokenForm
    template_name = "accounts/mfa_verify.html"
    home_url = "accounts:home"

    def person_allowed(self, user) -> bool:
        return user.is_customer

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.is_verified():
            return redirect(safe_next_url(request, reverse(self.home_url)))
        self.person = _person_signing_in(request)
        if self.person is None or not self.person_allowed(self.person):
            if request.method == "POST":
                messages.error(request, "Your sign-in timed out. Please sign in again.")
            return redirect(self.get_login_url())
        return super().dispatch(request, *args, **kwargs)

    def get_login_url(self) -> str:
        return reverse("accounts:login")

    def get_context_data(self, **kwargs):
        return super().get_context_data(next=self.request.GET.get("next", ""), **kwargs)

    def form_valid(self, form):
        try:
            device = services.mfa_token_check(
                user=self.person,
                token=form.cleaned_data["token"],
                ip_address=self.request.META.get("REMOTE_ADDR"),
            )
        except BankError as error:
            form.add_error("token", error.message)
            return self.form_invalid(form)
        signin.sign_in_complete(self.request, user=self.person, device=device)
        return redirect(safe_next_url(self.request, reverse(self.home_url)))


@method_decorator(login_not_required, name="dispatch")  # staff enrol before they are signed in
class MfaEnrolView(FormView):
    """Show a QR code and the secret; the person confirms with a first code.

    Staff without an authenticator come here from the password step, not yet signed in
    (a pending sign-in); confirming the first code completes their sign-in.
    """

    form_class = OtpTokenForm
    template_name = "accounts/mfa_enrol.html"
    done_url = "accounts:home"
    verify_url = "accounts:mfa-verify"
    login_url = "accounts:login"
    enrolled_url = "accounts:security"

    def person_allowed(self, user) -> bool:
        return user.is_customer

    def dispatch(self, request, *args, **kwargs):
        self.person = _person_signing_in(request)
        if self.person is None or not self.person_allowed(self.person):
            return redirect(
                f"{reverse(self.login_url)}?{urlencode({'next': request.get_full_path()})}"
            )
        # Replacing an authenticator needs the current one first, or a stolen password
        # would be enough to enrol the thief's phone.
        verified = request.user.is_authenticated and request.user.is_verified()
        if user_has_device(self.person, confirmed=True) and not verified:
            return redirect(f"{reverse(self.verify_url)}?{urlencode({'next': request.path})}")
        if user_has_device(self.person, confirmed=True):
            # The QR code and secret are shown only while enrolling, never again once a
            # device is confirmed; a new phone means removing the old one with a code first.
            messages.info(request, "Your authenticator app is already set up.")
            return redirect(self.enrolled_url)
        self.device = services.mfa_device_start(user=self.person)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            qr_code=qr_code_data_uri(self.device.config_url),
            secret=base64.b32encode(self.device.bin_key).decode(),
            already_enrolled=mfa_device_get_confirmed(user=self.person) is not None,
            next=self.request.GET.get("next", ""),
            **kwargs,
        )

    def form_valid(self, form):
        try:
            device = services.mfa_device_confirm(
                user=self.person, device=self.device, token=form.cleaned_data["token"]
            )
        except BankError as error:
            form.add_error("token", error.message)
            return self.form_invalid(form)
        signin.sign_in_complete(self.request, user=self.person, device=device)
        messages.success(self.request, "Your authenticator app is set up.")
        return redirect(safe_next_url(self.request, reverse(self.done_url)))


class CustomerMfaEnrolView(CustomerRequiredMixin, MfaEnrolView):
    pass
