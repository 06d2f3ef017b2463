"""Session lifetime endpoints for the page's warning script, and signing out everywhere."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect
from django.utils.decorators import method_decorator
from django.views import View

from apps.accounts.services import tokens
from apps.accounts.session_lifetime import activity_record, session_seconds_left
from banksight.api.errors import json_error_response


def _not_signed_in():
    return json_error_response("not_authenticated", "You are not signed in.", 401)


@method_decorator(login_not_required, name="dispatch")  # answers 401 itself, never a redirect
class SessionStatusView(View):
    """How long this session has left. Asking does not count as activity."""

    def get(self, request: HttpRequest):
        if not request.user.is_authenticated:
            return _not_signed_in()
        return JsonResponse(session_seconds_left(request))


@method_decorator(login_not_required, name="dispatch")
class SessionKeepAliveView(View):
    """ "Stay signed in": counts as activity, so the idle timeout starts again."""

    def post(self, request: HttpRequest):
        if not request.user.is_authenticated:
            return _not_signed_in()
        activity_record(request)
        return JsonResponse(session_seconds_left(request))


class SignOutEverywhereView(View):
    """Ends every browser session (this one included) and every API token of the user."""

    def post(self, request: HttpRequest):
        user = request.user
        staff = user.is_bank_staff
        tokens.user_sign_out_everywhere(user=user, ip_address=request.META.get("REMOTE_ADDR"))
        logout(request)
        messages.success(
            request, "You have been signed out on all your devices and apps. Sign in again."
        )
        return redirect(settings.STAFF_LOGIN_URL if staff else settings.LOGIN_URL)
