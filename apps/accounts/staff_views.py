"""The back office shell: sign-in with MFA, the home page, lockouts."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.generic import ListView, TemplateView

from apps.accounts import selectors, services
from apps.accounts.access import StaffPermissionMixin
from apps.accounts.selectors.people import login_lockout_address_list
from apps.accounts.services.people import login_lockout_clear_address
from apps.accounts.staff_home import staff_home_panels
from apps.accounts.views import MfaEnrolView, MfaVerifyView, SignInView, SignOutView
from banksight.errors import BankError


@method_decorator(login_not_required, name="dispatch")
class StaffSignInView(SignInView):
    template_name = "staff/login.html"
    home_url = "staff:home"
    verify_url = "staff:mfa-verify"
    enrol_url = "staff:mfa-enrol"
    wrong_side_message = "This sign-in is for bank staff. Customers sign in on the main page."

    def person_allowed(self, user) -> bool:
        return user.is_bank_staff


class StaffSignOutView(SignOutView):
    login_url = "staff:login"


class StaffMfaVerifyView(MfaVerifyView):
    template_name = "staff/mfa_verify.html"
    home_url = "staff:home"

    def person_allowed(self, user) -> bool:
        return user.is_bank_staff

    def get_login_url(self) -> str:
        return reverse("staff:login")


class StaffMfaEnrolView(MfaEnrolView):
    template_name = "staff/mfa_enrol.html"
    done_url = "staff:home"
    verify_url = "staff:mfa-verify"
    login_url = "staff:login"
    enrolled_url = "staff:home"

    def person_allowed(self, user) -> bool:
        return user.is_bank_staff


class StaffHomeView(TemplateView):
    """Each role's queues and counts; the panels follow the user's permissions."""

    template_name = "staff/home.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(panels=staff_home_panels(user=self.request.user), **kwargs)


class LockoutListView(StaffPermissionMixin, ListView):
    permission = "accounts.view_login_lockouts"
    template_name = "staff/lockouts.html"
    context_object_name = "lockouts"
    paginate_by = 25

    def get_queryset(self):
        return selectors.login_lockout_list()

    def get_context_data(self, **kwargs):
        return super().get_context_data(locked_addresses=login_lockout_address_list(), **kwargs)


class LockoutClearView(StaffPermissionMixin, View):
    """Unlock a username (every address), or with `ip_address` a client address."""

    permission = "accounts.unlock_login"

    def post(self, request):
        ip_address = request.POST.get("ip_address", "").strip()
        username = request.POST.get("username", "")
        try:
            if ip_address:
                login_lockout_clear_address(ip_address=ip_address, actor=request.user)
            else:
                services.login_lockout_clear(username=username, actor=request.user)
        except BankError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{ip_address or username} can sign in again.")
        return redirect(reverse("staff:lockouts"))
